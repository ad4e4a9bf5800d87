"""The settlement ledger of a provincial node: settlements, personal accounts and the
yearly accumulators of each person per pooling region.

Functions on a connection, run inside the caller's transaction (``db.read`` /
``db.write`` or a group-committed batch). A settlement row is one of three kinds:

* ``local``: asked here by an institution of this province for a person insured here;
* ``serving``: asked here for a person insured in another province, settled there
  (6.5); the row is ``pending`` from before the call to the insured province until
  its answer, so a time-out leaves a durable record that a retry completes;
* ``insured``: settled here for an institution of another province (routed by national).

``(serving_province, org_id, request_id)`` is unique: the idempotency key of a
settlement, the same at both ends of a remote one. Accounts and accumulators are only
changed by ``local`` and ``insured`` rows, in the same transaction as the row.

The day's reconciliation (对账) reads the ``local`` and ``serving`` rows, the ones of
this province's institutions, by the day's time range (indexes of m012).

The tables are provincial m005, m008, m010 and m012 (:mod:`node.storage.migrations.provincial`).
A settlement reads the person's cached voucher with :func:`q_settlement_voucher`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from node.storage.migrations.provincial import m005_settlement, m010_account_injected_year

__all__ = [
    "SettlementRow",
    "SettlementVoucher",
    "q_settlement_voucher",
    "q_get_settlement",
    "q_get_by_key",
    "q_insert_settlement",
    "q_update_settlement",
    "q_delete_pending",
    "q_pending",
    "q_account",
    "q_set_account",
    "q_accumulators",
    "q_set_accumulators",
    "q_claim_token",
    "q_release_token",
    "q_begin_reversal",
    "q_end_reversal",
    "q_reversals_pending",
    "DayRow",
    "DayTotalsRow",
    "q_day_settlements",
    "q_day_totals",
    "DayTotals",
    "create_tables",
    "add_injected_year",
]

# The ledger's DDL on its own, for building the ledger's tables without the rest of a
# province's schema (tests/test_settlement_policy.py); the migrations are the list's.
create_tables = m005_settlement
add_injected_year = m010_account_injected_year


# -- the person's cached voucher -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class SettlementVoucher:
    """What a settlement checks of the person's voucher as cached here (``voucher_cache``):
    its state and version, the person it names, the regions the person is insured in."""

    state: int  # ecnet.v1.VoucherState
    insured_regions: str  # JSON list of {insuOrg, insuType}, as cached
    version: int
    id_type: str
    id_no: str
    user_name: str


def q_settlement_voucher(conn: sqlite3.Connection, ec_card_no: str) -> SettlementVoucher | None:
    """The cached voucher ``ec_card_no``, None when it is not cached here."""
    r = conn.execute(
        "SELECT state, insured_regions, version, id_type, id_no, user_name FROM voucher_cache "
        "WHERE ec_card_no = ?",
        (ec_card_no,),
    ).fetchone()
    return SettlementVoucher(*r) if r is not None else None


# -- reversals pending ---------------------------------------------------------------


def q_begin_reversal(
    conn: sqlite3.Connection, settlement_id: str, request_id: str, now_ms: int
) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO reversals_pending (settlement_id, request_id, asked_at) "
        "VALUES (?,?,?)",
        (settlement_id, request_id, now_ms),
    )


def q_end_reversal(conn: sqlite3.Connection, settlement_id: str) -> None:
    conn.execute("DELETE FROM reversals_pending WHERE settlement_id = ?", (settlement_id,))


def q_reversals_pending(
    conn: sqlite3.Connection, older_than_ms: int, limit: int = 100
) -> list[tuple[str, str]]:
    """(settlement id, reversal request id) of remote reversals still unconfirmed."""
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT settlement_id, request_id FROM reversals_pending WHERE asked_at <= ? "
            "ORDER BY asked_at LIMIT ?",
            (older_than_ms, limit),
        )
    ]


@dataclass(frozen=True, slots=True)
class SettlementRow:
    settlement_id: str
    kind: str
    state: str
    serving_province: str
    org_id: str
    request_id: str
    request_digest: str
    ec_token: str
    ec_card_no: str
    id_type: str
    id_no: str
    user_name: str
    insu_org: str
    settled_by: str
    med_type: str
    items: str  # JSON list of {code, name, category, unitPrice, quantity}
    year: int
    fee_sumamt: int
    fund_pay: int = 0
    psn_acct_pay: int = 0
    own_pay_amt: int = 0
    deductible_part: int = 0
    acct_balance: int = 0
    created_at: int = 0
    settled_at: int | None = None
    reversed_at: int | None = None
    reverse_request_id: str = ""

    def item_dicts(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.items)
        return items

    def with_(self, **changes: Any) -> SettlementRow:
        return replace(self, **changes)


_COLS = ", ".join(SettlementRow.__slots__)
_MARKS = ", ".join("?" for _ in SettlementRow.__slots__)


def _row(r: sqlite3.Row | None) -> SettlementRow | None:
    return SettlementRow(*r) if r is not None else None


def q_get_settlement(conn: sqlite3.Connection, settlement_id: str) -> SettlementRow | None:
    return _row(
        conn.execute(
            f"SELECT {_COLS} FROM settlements WHERE settlement_id = ?", (settlement_id,)
        ).fetchone()
    )


def q_get_by_key(
    conn: sqlite3.Connection, serving: str, org_id: str, request_id: str
) -> SettlementRow | None:
    return _row(
        conn.execute(
            f"SELECT {_COLS} FROM settlements WHERE serving_province = ? AND org_id = ? "
            "AND request_id = ?",
            (serving, org_id, request_id),
        ).fetchone()
    )


def q_insert_settlement(conn: sqlite3.Connection, row: SettlementRow) -> None:
    conn.execute(
        f"INSERT INTO settlements ({_COLS}) VALUES ({_MARKS})",
        tuple(getattr(row, c) for c in SettlementRow.__slots__),
    )


def q_update_settlement(conn: sqlite3.Connection, row: SettlementRow) -> None:
    """Write every mutable column of ``row`` (state, amounts, times)."""
    conn.execute(
        "UPDATE settlements SET state = ?, fund_pay = ?, psn_acct_pay = ?, own_pay_amt = ?, "
        "deductible_part = ?, acct_balance = ?, settled_at = ?, reversed_at = ?, "
        "reverse_request_id = ?, settled_by = ?, fee_sumamt = ? WHERE settlement_id = ?",
        (
            row.state,
            row.fund_pay,
            row.psn_acct_pay,
            row.own_pay_amt,
            row.deductible_part,
            row.acct_balance,
            row.settled_at,
            row.reversed_at,
            row.reverse_request_id,
            row.settled_by,
            row.fee_sumamt,
            row.settlement_id,
        ),
    )


def q_delete_pending(conn: sqlite3.Connection, settlement_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM settlements WHERE settlement_id = ? AND state = 'pending'",
            (settlement_id,),
        ).rowcount
        == 1
    )


def q_pending(
    conn: sqlite3.Connection, older_than_ms: int, limit: int = 100
) -> list[SettlementRow]:
    """Remote settlements still unconfirmed, oldest first."""
    return [
        SettlementRow(*r)
        for r in conn.execute(
            f"SELECT {_COLS} FROM settlements WHERE state = 'pending' AND created_at <= ? "
            "ORDER BY created_at LIMIT ?",
            (older_than_ms, limit),
        )
    ]


def q_account(
    conn: sqlite3.Connection, id_type: str, id_no: str, insu_org: str
) -> tuple[int, int] | None:
    """(balance, the last year credited with its injection), or None before the first use."""
    r = conn.execute(
        "SELECT balance, injected_year FROM personal_accounts WHERE id_type = ? AND id_no = ? "
        "AND insu_org = ?",
        (id_type, id_no, insu_org),
    ).fetchone()
    return (r[0], r[1]) if r is not None else None


def q_set_account(
    conn: sqlite3.Connection,
    id_type: str,
    id_no: str,
    insu_org: str,
    balance: int,
    injected_year: int,
    now_ms: int,
) -> None:
    conn.execute(
        "INSERT INTO personal_accounts (id_type, id_no, insu_org, balance, injected_year, "
        "opened_at, updated_at) VALUES (?,?,?,?,?,?,?) "
        "ON CONFLICT (id_type, id_no, insu_org) DO UPDATE SET balance = excluded.balance, "
        "injected_year = excluded.injected_year, updated_at = excluded.updated_at",
        (id_type, id_no, insu_org, balance, injected_year, now_ms, now_ms),
    )


def q_accumulators(
    conn: sqlite3.Connection, id_type: str, id_no: str, insu_org: str, year: int
) -> tuple[int, int]:
    r = conn.execute(
        "SELECT deductible_paid, fund_paid FROM accumulators WHERE id_type = ? AND id_no = ? "
        "AND insu_org = ? AND year = ?",
        (id_type, id_no, insu_org, year),
    ).fetchone()
    return (r[0], r[1]) if r is not None else (0, 0)


def q_set_accumulators(
    conn: sqlite3.Connection,
    id_type: str,
    id_no: str,
    insu_org: str,
    year: int,
    deductible_paid: int,
    fund_paid: int,
) -> None:
    conn.execute(
        "INSERT INTO accumulators (id_type, id_no, insu_org, year, deductible_paid, fund_paid) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT (id_type, id_no, insu_org, year) DO UPDATE "
        "SET deductible_paid = excluded.deductible_paid, fund_paid = excluded.fund_paid",
        (id_type, id_no, insu_org, year, deductible_paid, fund_paid),
    )


def q_claim_token(conn: sqlite3.Connection, token: str, now_ms: int) -> bool:
    """One settlement per token: mark it used, unless it already is."""
    return (
        conn.execute(
            "UPDATE ec_tokens SET settled_at = ? WHERE token = ? AND settled_at IS NULL",
            (now_ms, token),
        ).rowcount
        == 1
    )


def q_release_token(conn: sqlite3.Connection, token: str) -> None:
    """A remote settlement the insured province refused gives its token back."""
    conn.execute("UPDATE ec_tokens SET settled_at = NULL WHERE token = ?", (token,))


# -- the day's reconciliation (对账) ------------------------------------------------
@dataclass(frozen=True, slots=True)
class DayRow:
    """A settlement of an institution of this province, as a day's list shows it; ``at``
    is its place in the day's order: when it was settled, or, for one settled on an
    earlier day, when it was reversed."""

    at: int
    settlement_id: str
    request_id: str
    org_id: str
    kind: str  # local or serving (remote)
    state: str
    insu_org: str
    user_name: str
    med_type: str
    settled_by: str
    fee_sumamt: int
    fund_pay: int
    psn_acct_pay: int
    own_pay_amt: int
    settled_at: int
    reversed_at: int | None


_DAY_COLS = (
    "settlement_id, request_id, org_id, kind, state, insu_org, user_name, med_type, "
    "settled_by, fee_sumamt, fund_pay, psn_acct_pay, own_pay_amt, settled_at, reversed_at"
)


def q_day_settlements(
    conn: sqlite3.Connection,
    org_id: str,
    start_ms: int,
    end_ms: int,
    after: tuple[int, str] | None,
    limit: int,
) -> list[DayRow]:
    """The institution's settlements settled in [start, end), and those settled before
    and reversed in it, ordered by (at, settlement id), after the key ``after``."""
    at, sid = after if after is not None else (start_ms - 1, "")
    rows = conn.execute(
        f"SELECT at, {_DAY_COLS} FROM ("
        f"  SELECT settled_at AS at, {_DAY_COLS} FROM settlements"
        "   WHERE org_id = ? AND kind <> 'insured' AND settled_at >= ? AND settled_at < ?"
        "  UNION ALL"
        f"  SELECT reversed_at AS at, {_DAY_COLS} FROM settlements"
        "   WHERE org_id = ? AND kind <> 'insured' AND reversed_at IS NOT NULL"
        "     AND reversed_at >= ? AND reversed_at < ? AND settled_at < ?"
        ") WHERE (at, settlement_id) > (?, ?) ORDER BY at, settlement_id LIMIT ?",
        (org_id, start_ms, end_ms, org_id, start_ms, end_ms, start_ms, at, sid, limit),
    ).fetchall()
    return [DayRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class DayTotalsRow:
    """Settlements of one institution and kind (local or serving) whose event (settled,
    reversed) fell in a day: how many, and their sums in fen."""

    org_id: str
    kind: str
    count: int
    fee_sumamt: int
    fund_pay: int
    psn_acct_pay: int
    own_pay_amt: int


_SUMS = (
    "org_id, kind, COUNT(*), SUM(fee_sumamt), SUM(fund_pay), SUM(psn_acct_pay), SUM(own_pay_amt)"
)


@dataclass(frozen=True, slots=True)
class DayTotals:
    """What a day's statement is made of, read in one snapshot: per institution and
    kind, the settlements settled in the day and those reversed in it; per institution,
    the remote settlements asked in the day and still unconfirmed."""

    settled: list[DayTotalsRow]
    reversed: list[DayTotalsRow]
    pending: dict[str, int]


def _sums(
    conn: sqlite3.Connection, column: str, org_id: str | None, start_ms: int, end_ms: int
) -> list[DayTotalsRow]:
    org = "org_id = ? AND " if org_id is not None else ""
    present = " AND reversed_at IS NOT NULL" if column == "reversed_at" else ""
    args: tuple[object, ...] = (org_id,) if org_id is not None else ()
    return [
        DayTotalsRow(r[0], r[1], *(int(v) for v in r[2:]))
        for r in conn.execute(
            f"SELECT {_SUMS} FROM settlements WHERE {org}kind <> 'insured'{present} "
            f"AND {column} >= ? AND {column} < ? GROUP BY org_id, kind",
            (*args, start_ms, end_ms),
        )
    ]


def q_day_totals(
    conn: sqlite3.Connection, org_id: str | None, start_ms: int, end_ms: int
) -> DayTotals:
    """The day [start, end) of one institution, or of every institution of this province
    (``org_id`` None), in one read transaction (a settlement reversed meanwhile is not
    counted half)."""
    org = " AND org_id = ?" if org_id is not None else ""
    args: tuple[object, ...] = (org_id,) if org_id is not None else ()
    conn.execute("BEGIN")
    try:
        settled = _sums(conn, "settled_at", org_id, start_ms, end_ms)
        reversed_ = _sums(conn, "reversed_at", org_id, start_ms, end_ms)
        pending = {
            r[0]: int(r[1])
            for r in conn.execute(
                "SELECT org_id, COUNT(*) FROM settlements WHERE state = 'pending' "
                f"AND created_at >= ? AND created_at < ?{org} GROUP BY org_id",
                (start_ms, end_ms, *args),
            )
        }
    finally:
        conn.execute("COMMIT")
    return DayTotals(settled, reversed_, pending)
