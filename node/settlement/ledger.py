"""The settlement transactions of a provincial node, each one function on the writer's
connection (run by a group-committing :class:`~node.storage.batch.WriteBatcher`).

Each returns its answer or the refusal (an :class:`EcError`) instead of raising it, and
writes nothing when it refuses. A settlement, its effect on the person's personal
account and yearly accumulators, the use of its token and the notices to the person's
other insured provinces commit together or not at all.

Idempotency: ``(serving province, orgId, requestId)`` is the key. A second request
with the key answers the first one's row when its content (token, medical type,
items: :attr:`SettleInput.digest`) is the same, and is refused (-2) otherwise.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from node.clock import BEIJING
from node.domain.ectoken import looks_like_token, region_of
from node.domain.regions import province_name
from node.domain.voucher_state import ACTIVATED, FROZEN, SUPERSEDED
from node.errors import EcError, invalid
from node.settlement.notice import Notice, Outgoing, enqueue_notice
from node.settlement.policy import Accumulators, Item, Outcome, RegionPolicy, settle
from node.storage.acceptance import q_get_token
from node.storage.settlement import (
    SettlementRow,
    q_account,
    q_accumulators,
    q_claim_token,
    q_delete_pending,
    q_end_reversal,
    q_get_by_key,
    q_get_settlement,
    q_insert_settlement,
    q_release_token,
    q_set_account,
    q_set_accumulators,
    q_settlement_voucher,
    q_update_settlement,
)

__all__ = [
    "SettleInput",
    "Person",
    "year_of",
    "serve_tx",
    "settle_here_tx",
    "begin_remote_tx",
    "confirm_remote_tx",
    "abandon_remote_tx",
    "reverse_here_tx",
    "mark_reversed_tx",
    "voucher_refusal",
    "other_provinces",
    "account_for_year",
]


def year_of(now_ms: int) -> int:
    """The calendar year (Beijing time) that a settlement at ``now_ms`` counts in."""
    return datetime.datetime.fromtimestamp(now_ms // 1000, BEIJING).year


@dataclass(frozen=True, slots=True)
class SettleInput:
    """A settlement request as the institution sent it (checked by the caller)."""

    ec_token: str
    org_id: str
    request_id: str
    med_type: str
    items: tuple[Item, ...]

    def items_json(self) -> str:
        return json.dumps(
            [
                {
                    "code": i.code,
                    "name": i.name,
                    "category": i.category,
                    "unitPrice": i.unit_price,
                    "quantity": i.quantity,
                }
                for i in self.items
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @property
    def digest(self) -> str:
        """SHA-256 of what must be the same for a retry to be the same request."""
        body = json.dumps([self.ec_token, self.med_type, self.items_json()], separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def fee_sumamt(self) -> int:
        return sum(i.amount for i in self.items)


@dataclass(frozen=True, slots=True)
class Person:
    """Whom a settlement is for, and under which insured region."""

    ec_card_no: str
    id_type: str
    id_no: str
    user_name: str
    insu_org: str


def voucher_refusal(state: int) -> EcError | None:
    if state == SUPERSEDED:
        return EcError(
            500002,
            "this voucher was superseded by a change of name or id number: the holder must "
            "activate the new voucher and show a new code",
        )
    if state == FROZEN:
        return EcError(
            500079,
            "this voucher is frozen after too many wrong passwords: no settlement until it "
            "is lifted",
        )
    if state != ACTIVATED:
        return EcError(500002, "this voucher is not activated")
    return None


def other_provinces(regions_json: str, settled_by: str) -> list[str]:
    """The person's other insured provinces (6.3.2 d), from the cached ``insured_regions``."""
    provinces = {g["insuOrg"][:2] for g in json.loads(regions_json)}
    provinces.discard(settled_by)
    return sorted(provinces)


def _same_request(row: SettlementRow, inp: SettleInput) -> SettlementRow | EcError:
    if row.request_digest != inp.digest:
        return invalid(
            f"requestId {inp.request_id!r} of institution {inp.org_id} was already used for "
            f"settlement {row.settlement_id} with other content (token, medical type or items); "
            "a new settlement needs a new requestId",
            field="requestId",
        )
    return row


def _apply(
    conn: sqlite3.Connection,
    policy: RegionPolicy,
    inp: SettleInput,
    who: Person,
    year: int,
    now_ms: int,
) -> tuple[Outcome, int]:
    """The policy on this person's year and account; their new state written. Returns
    the outcome and the account's balance after it."""
    acc = Accumulators(*q_accumulators(conn, who.id_type, who.id_no, who.insu_org, year))
    balance, injected = account_for_year(
        q_account(conn, who.id_type, who.id_no, who.insu_org), policy.account_opening, year
    )
    outcome = settle(policy, inp.med_type, inp.items, acc, balance)
    after = outcome.accumulators_after(acc)
    q_set_accumulators(
        conn, who.id_type, who.id_no, who.insu_org, year, after.deductible_paid, after.fund_paid
    )
    balance -= outcome.psn_acct_pay
    q_set_account(conn, who.id_type, who.id_no, who.insu_org, balance, injected, now_ms)
    return outcome, balance


def account_for_year(account: tuple[int, int] | None, injection: int, year: int) -> tuple[int, int]:
    """(balance, last year credited) of a personal account at its use in ``year``.

    The account opens with the year's injection at its first use. Each later year's
    injection is credited at the first use in that year, one per year that began since
    the last credit (a year without a settlement is credited at the next one). A use
    dated before the last credited year (a reconciled old settlement) credits nothing.
    """
    if account is None:
        return injection, year
    balance, injected = account
    if year > injected:
        return balance + injection * (year - injected), year
    return balance, injected


def _notify(
    conn: sqlite3.Connection,
    row: SettlementRow,
    destinations: list[str],
    now_ms: int,
    sent: Outgoing | None,
) -> None:
    """Queue the notice of ``row`` for ``destinations``, signed with ``sent``'s signer;
    they are added to ``sent`` so that the caller wakes the uplink after the commit
    (only then)."""
    if not destinations:
        return
    if sent is None:
        raise ValueError("a transaction that queues notices needs its Outgoing (the signer)")
    sent.destinations.extend(destinations)
    at = row.reversed_at if row.state == "reversed" else row.settled_at
    enqueue_notice(
        conn,
        Notice(
            settlement_id=row.settlement_id,
            ec_card_no=row.ec_card_no,
            id_type=row.id_type,
            id_no=row.id_no,
            insu_org=row.insu_org,
            settled_by=row.settled_by,
            med_type=row.med_type,
            fee_sumamt=row.fee_sumamt,
            fund_pay=row.fund_pay,
            psn_acct_pay=row.psn_acct_pay,
            own_pay_amt=row.own_pay_amt,
            state=row.state,
            at_ms=at or now_ms,
        ),
        destinations,
        now_ms,
        sent.signer,
    )


def settle_here_tx(
    conn: sqlite3.Connection,
    kind: str,
    settlement_id: str,
    serving: str,
    province: str,
    inp: SettleInput,
    who: Person,
    policy: RegionPolicy,
    now_ms: int,
    expected_version: int = 0,
    sent: Outgoing | None = None,
) -> SettlementRow | EcError | tuple[str, int]:
    """Settle under this province's policy: ``kind`` ``local`` (the token is this
    province's and is used up here) or ``insured`` (asked by another province through
    national). ``("stale", version)`` when the person's data here changed since the
    token was issued (6.3.2 c): the token's region is no longer theirs, or
    ``expected_version`` (the serving province's copy, when it has one) is older."""
    existing = q_get_by_key(conn, serving, inp.org_id, inp.request_id)
    if existing is not None:
        return _same_request(existing, inp)
    v = q_settlement_voucher(conn, who.ec_card_no)
    if v is None:
        return EcError(
            500001,
            f"the voucher of this person is not on record at province {province} "
            f"({province_name(province)}), the insured province of region {who.insu_org}",
        )
    if (v.id_type, v.id_no.upper(), v.user_name) != (who.id_type, who.id_no.upper(), who.user_name):
        return EcError(
            500057, "the person named by the token does not match the insured province's record"
        )
    refusal = voucher_refusal(v.state)
    if refusal is not None:
        return refusal
    if who.insu_org not in {g["insuOrg"] for g in json.loads(v.insured_regions)} or (
        expected_version and expected_version < v.version
    ):
        return ("stale", v.version)
    if kind == "local" and not q_claim_token(conn, inp.ec_token, now_ms):
        return EcError(
            500067, "this ecToken was already used for a settlement: one settlement per scan"
        )
    year = year_of(now_ms)
    outcome, balance = _apply(conn, policy, inp, who, year, now_ms)
    row = SettlementRow(
        settlement_id=settlement_id,
        kind=kind,
        state="settled",
        serving_province=serving,
        org_id=inp.org_id,
        request_id=inp.request_id,
        request_digest=inp.digest,
        ec_token=inp.ec_token,
        ec_card_no=who.ec_card_no,
        id_type=who.id_type,
        id_no=who.id_no,
        user_name=who.user_name,
        insu_org=who.insu_org,
        settled_by=province,
        med_type=inp.med_type,
        items=inp.items_json(),
        year=year,
        fee_sumamt=outcome.fee_sumamt,
        fund_pay=outcome.fund_pay,
        psn_acct_pay=outcome.psn_acct_pay,
        own_pay_amt=outcome.own_pay_amt,
        deductible_part=outcome.deductible_part,
        acct_balance=balance,
        created_at=now_ms,
        settled_at=now_ms,
    )
    q_insert_settlement(conn, row)
    _notify(conn, row, other_provinces(v.insured_regions, province), now_ms, sent)
    return row


def serve_tx(
    conn: sqlite3.Connection,
    inp: SettleInput,
    province: str,
    settlement_id: str,
    now_ms: int,
    policy_of: Callable[[str], RegionPolicy],
    sent: Outgoing | None = None,
) -> SettlementRow | EcError | tuple[str, int]:
    """The serving province's decision on a ``Settle``, in one transaction: the key's
    earlier settlement (any state); a refusal of the token (unknown, expired, another
    institution's, used: 500067); a ``local`` settlement (the token's region is this
    province's); or a ``pending`` remote row (:func:`begin_remote_tx`)."""
    existing = q_get_by_key(conn, province, inp.org_id, inp.request_id)
    if existing is not None:
        return _same_request(existing, inp)
    if not looks_like_token(inp.ec_token):
        return EcError(
            500067,
            f"ecToken {inp.ec_token[:10]!r}… is not an ecToken (6 digits, 'ec', 30 letters or "
            "digits): pass the ecToken the scan answered",
        )
    token = q_get_token(conn, inp.ec_token)
    if token is None:
        issuer = inp.ec_token[:2]
        if inp.ec_token[:6] != region_of(province):
            return EcError(
                500067,
                f"ecToken {inp.ec_token[:10]}… was issued by province {issuer}, not "
                f"{province}: settle with province {issuer}, whose terminal scanned the code",
            )
        return EcError(
            500067,
            f"province {province} holds no ecToken {inp.ec_token[:10]}…: it was never issued "
            "here, or it expired and was cleared; scan the holder's code again",
        )
    if token.expires_at <= now_ms:
        return EcError(500067, "this ecToken has expired: scan the holder's code again")
    if token.org_id != inp.org_id:
        return EcError(
            500067, f"this ecToken was issued to institution {token.org_id}, not {inp.org_id}"
        )
    who = Person(token.ec_card_no, token.id_type, token.id_no, token.user_name, token.insu_org)
    insured = token.insu_org[:2]
    if insured == province:
        return settle_here_tx(
            conn,
            "local",
            settlement_id,
            province,
            province,
            inp,
            who,
            policy_of(token.insu_org),
            now_ms,
            0,
            sent,
        )
    return begin_remote_tx(
        conn,
        SettlementRow(
            settlement_id=settlement_id,
            kind="serving",
            state="pending",
            serving_province=province,
            org_id=inp.org_id,
            request_id=inp.request_id,
            request_digest=inp.digest,
            ec_token=inp.ec_token,
            ec_card_no=who.ec_card_no,
            id_type=who.id_type,
            id_no=who.id_no,
            user_name=who.user_name,
            insu_org=who.insu_org,
            settled_by=insured,
            med_type=inp.med_type,
            items=inp.items_json(),
            year=year_of(now_ms),
            fee_sumamt=inp.fee_sumamt,
            created_at=now_ms,
        ),
    )


def begin_remote_tx(conn: sqlite3.Connection, row: SettlementRow) -> SettlementRow | EcError:
    """Serving side of a remote settlement, before asking: the token used and a
    ``pending`` row, durable before the insured province is asked."""
    if not q_claim_token(conn, row.ec_token, row.created_at):
        return EcError(
            500067, "this ecToken was already used for a settlement: one settlement per scan"
        )
    q_insert_settlement(conn, row)
    return row


def confirm_remote_tx(
    conn: sqlite3.Connection, settlement_id: str, answer: SettlementRow
) -> SettlementRow:
    """The insured province's answer recorded on the pending row (a second answer, from
    a retry racing the first, changes nothing)."""
    row = q_get_settlement(conn, settlement_id)
    assert row is not None, settlement_id
    if row.state != "pending":
        return row
    row = row.with_(
        state=answer.state,
        fund_pay=answer.fund_pay,
        psn_acct_pay=answer.psn_acct_pay,
        own_pay_amt=answer.own_pay_amt,
        deductible_part=answer.deductible_part,
        acct_balance=answer.acct_balance,
        settled_at=answer.settled_at,
        settled_by=answer.settled_by,
        fee_sumamt=answer.fee_sumamt,
        reversed_at=answer.reversed_at,
        reverse_request_id=answer.reverse_request_id,
    )
    q_update_settlement(conn, row)
    return row


def abandon_remote_tx(conn: sqlite3.Connection, row: SettlementRow, release_token: bool) -> None:
    """The insured province refused: no settlement. The token is given back unless the
    refusal says the person must scan again."""
    if q_delete_pending(conn, row.settlement_id) and release_token:
        q_release_token(conn, row.ec_token)


def _unknown(settlement_id: str, province: str) -> EcError:
    return EcError(
        500014,
        f"no settlement {settlement_id!r} at province {province} ({province_name(province)})",
    )


def reverse_here_tx(
    conn: sqlite3.Connection,
    settlement_id: str,
    province: str,
    org_id: str | None,
    serving: str,
    request_id: str,
    now_ms: int,
    sent: Outgoing | None = None,
) -> SettlementRow | EcError:
    """Reverse a settlement this province settled (``local`` or ``insured``): the
    account and the year's accumulators restored, once. Reversing a reversed one
    answers it again. ``org_id`` must be the settlement's (None only for a reversal
    routed from the serving province, which checked it), and ``serving`` too."""
    row = q_get_settlement(conn, settlement_id)
    if row is None or row.kind == "serving" or row.serving_province != serving:
        return _unknown(settlement_id, province)
    if org_id is not None and org_id != row.org_id:
        return EcError(
            -4,
            f"settlement {settlement_id} was made by institution {row.org_id}; only it may "
            "reverse it",
        )
    if row.state == "reversed":
        return row
    ded, fund = q_accumulators(conn, row.id_type, row.id_no, row.insu_org, row.year)
    q_set_accumulators(
        conn,
        row.id_type,
        row.id_no,
        row.insu_org,
        row.year,
        max(0, ded - row.deductible_part),
        max(0, fund - row.fund_pay),
    )
    balance, injected = q_account(conn, row.id_type, row.id_no, row.insu_org) or (0, row.year)
    balance += row.psn_acct_pay
    q_set_account(conn, row.id_type, row.id_no, row.insu_org, balance, injected, now_ms)
    row = row.with_(
        state="reversed", reversed_at=now_ms, reverse_request_id=request_id, acct_balance=balance
    )
    q_update_settlement(conn, row)
    v = q_settlement_voucher(conn, row.ec_card_no)
    if v is not None:
        _notify(conn, row, other_provinces(v.insured_regions, province), now_ms, sent)
    return row


def mark_reversed_tx(
    conn: sqlite3.Connection, settlement_id: str, answer: SettlementRow
) -> SettlementRow:
    """Serving side: the insured province's reversal recorded on the serving row."""
    q_end_reversal(conn, settlement_id)
    row = q_get_settlement(conn, settlement_id)
    assert row is not None, settlement_id
    if row.state == "reversed":
        return row
    row = row.with_(
        state="reversed",
        reversed_at=answer.reversed_at,
        reverse_request_id=answer.reverse_request_id,
        acct_balance=answer.acct_balance,
    )
    q_update_settlement(conn, row)
    return row
