"""Channel authorizations (6.1.4, 4.5, 4.7) and the voucher's status.

- :func:`authorize`: the holder confirms with the password on a new channel → a new
  personal channel authorization code. Five wrong passwords in a row freeze the
  voucher (500079). On the official channel, which needs no consent (4.5), it signs
  the holder in again: a new official code replaces the previous one.
- :func:`list_authorizations`, :func:`revoke_authorization`: the holder manages the
  third-party authorizations through the official channel (4.7); a revoked code is
  dead everywhere (500003) and the provinces are told.
- :func:`voucher_status`: the voucher as the calling channel may see it.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from node.domain.voucher_state import FROZEN, NOT_ACTIVATED
from node.errors import EcError, Problems, invalid
from node.storage import national as q
from node.storage.national import AuthRow, ChannelRow, PersonRow, VoucherRow
from node.voucher.activation import check_business_province
from node.voucher.context import (
    Lifecycle,
    check_auth_code,
    check_channel,
    check_official,
    check_person,
    parse_identity,
)
from node.voucher.events import emit
from node.voucher.freeze import effective_state, freeze, lift_lapsed_freeze
from node.voucher.idempotency import fingerprint, recall, remember
from node.voucher.model import OFFICIAL, AuthorizationView, AuthorizeResult, Region, VoucherStatus
from node.voucher.password import HashedPassword

__all__ = ["authorize", "list_authorizations", "revoke_authorization", "voucher_status"]


def _authorizable(
    conn: sqlite3.Connection, channel: ChannelRow, v: VoucherRow | None, now: int
) -> VoucherRow:
    if v is None or v.state == NOT_ACTIVATED or v.password_hash is None:
        raise EcError(500002, "this voucher is not activated: activate it first (6.1.3)")
    if effective_state(v, now) == FROZEN:
        raise EcError(
            500079,
            "the voucher is frozen after five wrong passwords; a real-person check on the "
            "official channel lifts it, or wait until the freeze ends",
        )
    if channel.kind != OFFICIAL and q.q_active_authorization(
        conn, v.ec_card_no, channel.channel_id
    ):
        raise EcError(500088, f"the holder already authorized channel {channel.channel_id}")
    return v


@dataclass(frozen=True)
class _WrongPassword:
    attempts: int
    frozen_until: int | None


async def authorize(
    lc: Lifecycle,
    channel_id: str,
    user_name: str,
    id_type: str,
    id_no: str,
    password: str,
    business_province: str = "",
    request_id: str = "",
) -> AuthorizeResult:
    """A new authorization code for the calling channel, confirmed with the password."""
    problems = Problems()
    problems.require("password", password)
    ident = parse_identity(user_name, id_type, id_no, problems=problems)
    check_business_province(business_province)
    now = lc.now_ms()
    fp = fingerprint(ident.user_name, ident.id_type, ident.id_no, business_province)

    def read(conn: sqlite3.Connection) -> AuthorizeResult | VoucherRow:
        channel = check_channel(conn, channel_id)
        prior = recall(conn, channel_id, "Authorize", request_id, fp, AuthorizeResult, lc.keys)
        if prior is not None:
            return prior
        person = check_person(conn, ident)
        return _authorizable(conn, channel, q.q_live_voucher(conn, person.person_id), now)

    found = await lc.store.query(read)
    if isinstance(found, AuthorizeResult):
        return found
    # An activated voucher has its password (_authorizable checked).
    assert found.password_hash is not None and found.password_salt is not None
    stored = HashedPassword(
        found.password_hash, found.password_salt, found.password_iterations or 1
    )
    ok = await lc.hasher.verify(password, stored)
    code = lc.auth_code()
    code_hash, sealed_digest = lc.code_row(code)

    def tx(conn: sqlite3.Connection) -> AuthorizeResult | _WrongPassword:
        channel = check_channel(conn, channel_id)
        prior = recall(conn, channel_id, "Authorize", request_id, fp, AuthorizeResult, lc.keys)
        if prior is not None:
            return prior
        person = check_person(conn, ident)
        v = q.q_live_voucher(conn, person.person_id)
        if v is not None:
            v = lift_lapsed_freeze(conn, lc, v, person, now)
        v = _authorizable(conn, channel, v, now)
        if v.ec_card_no != found.ec_card_no or v.password_hash != found.password_hash:
            raise EcError(500002, "the voucher changed while authorizing; try again")
        if not ok:
            attempts = v.failed_attempts + 1
            if attempts >= lc.settings.max_wrong_passwords:
                return _WrongPassword(
                    attempts, freeze(conn, lc, v, person, now, attempts).frozen_until
                )
            q.q_set_failed_attempts(conn, v.ec_card_no, attempts)
            return _WrongPassword(attempts, None)
        if channel.kind == OFFICIAL:
            old = q.q_active_authorization(conn, v.ec_card_no, channel_id)
            if old is not None:
                q.q_revoke_authorization(conn, old.code_hash, now)
        row = dataclasses.replace(v, failed_attempts=0, version=v.version + 1, updated_at=now)
        q.q_put_voucher(conn, row)
        q.q_insert_authorization(conn, code_hash, sealed_digest, v.ec_card_no, channel_id, now)
        emit(
            conn,
            lc,
            "voucher.authorized",
            row,
            person,
            now,
            business_province,
            payload={"channelId": channel_id},
        )
        result = AuthorizeResult(code, v.ec_card_no, row.version)
        remember(conn, channel_id, "Authorize", request_id, fp, result, now, lc.keys)
        return result

    result = await lc.store.transact(tx)
    lc.wake()
    if isinstance(result, _WrongPassword):
        if result.frozen_until is not None:
            raise EcError(
                500079,
                f"wrong password {result.attempts} times in a row: the voucher is frozen; a "
                "real-person check on the official channel lifts it, or wait until the freeze ends",
                frozenUntil=str(result.frozen_until),
            )
        left = lc.settings.max_wrong_passwords - result.attempts
        raise EcError(
            500004,
            f"wrong voucher password; {left} more wrong attempt(s) freeze the voucher",
            attemptsLeft=str(left),
        )
    return result


def _views(rows: Iterable[AuthRow]) -> tuple[AuthorizationView, ...]:
    """Authorizations as a holder lists them: never with a code (none is kept)."""
    return tuple(
        AuthorizationView(a.channel_id, a.channel_name, a.created_at, a.revoked_at) for a in rows
    )


async def list_authorizations(
    lc: Lifecycle, channel_id: str, auth_code: str
) -> tuple[AuthorizationView, ...]:
    """Every authorization of the holder's voucher, revoked ones too; codes not shown."""

    def read(conn: sqlite3.Connection) -> tuple[AuthorizationView, ...]:
        channel = check_channel(conn, channel_id)
        check_official(channel, "ListAuthorizations")
        auth = check_auth_code(conn, channel, auth_code, lc.keys)
        return _views(q.q_authorizations(conn, auth.ec_card_no))

    return await lc.store.query(read)


async def revoke_authorization(
    lc: Lifecycle, channel_id: str, auth_code: str, target_channel: str, request_id: str = ""
) -> AuthorizationView:
    """Revoke the holder's authorization of ``target_channel``; its code dies everywhere."""
    problems = Problems()
    problems.require("authCode", auth_code.strip())
    problems.require("channelId", target_channel)
    problems.check()
    now = lc.now_ms()
    fp = fingerprint(auth_code, target_channel)

    def tx(conn: sqlite3.Connection) -> AuthorizationView:
        channel = check_channel(conn, channel_id)
        check_official(channel, "RevokeAuthorization")
        prior = recall(conn, channel_id, "RevokeAuthorization", request_id, fp, AuthorizationView)
        if prior is not None:
            return prior
        holder = check_auth_code(conn, channel, auth_code, lc.keys)
        target = q.q_channel(conn, target_channel)
        if target is None:
            raise EcError(500012, f"channel {target_channel!r} is not registered")
        if target.kind == OFFICIAL:
            raise invalid(
                "the official channel needs no authorization (4.5); there is nothing to revoke"
            )
        active = q.q_active_authorization(conn, holder.ec_card_no, target_channel)
        if active is None:
            raise EcError(500040, f"the voucher has no authorization for channel {target_channel}")
        q.q_revoke_authorization(conn, active.code_hash, now)
        v = q.q_voucher(conn, holder.ec_card_no)
        assert v is not None  # the voucher of a live authorization
        person = q.q_person_by_id(conn, v.person_id)
        assert person is not None  # the holder of a voucher
        row = dataclasses.replace(v, version=v.version + 1, updated_at=now)
        q.q_put_voucher(conn, row)
        emit(
            conn,
            lc,
            "voucher.revoked",
            row,
            person,
            now,
            payload={"channelId": target_channel},
        )
        result = AuthorizationView(target.channel_id, target.name, active.created_at, now)
        remember(conn, channel_id, "RevokeAuthorization", request_id, fp, result, now)
        return result

    result = await lc.store.transact(tx)
    lc.wake()
    return result


def _status(
    conn: sqlite3.Connection,
    channel: ChannelRow,
    v: VoucherRow,
    person: PersonRow,
    now: int,
    *,
    shown: bool,
) -> VoucherStatus:
    state = effective_state(v, now)
    if not shown:
        return VoucherStatus("", state, 0, (), ())
    rows = q.q_authorizations(conn, v.ec_card_no)
    if channel.kind != OFFICIAL:
        rows = [a for a in rows if a.channel_id == channel.channel_id]
    return VoucherStatus(
        v.ec_card_no,
        state,
        v.version,
        tuple(Region(r.insu_org, r.insu_type) for r in person.insured),
        _views(rows),
        v.frozen_until if state == FROZEN else None,
    )


async def voucher_status(
    lc: Lifecycle,
    channel_id: str,
    auth_code: str = "",
    user_name: str = "",
    id_type: str = "",
    id_no: str = "",
) -> VoucherStatus:
    """By authorization code: the voucher in full. By identity: its state only, and the
    full view when the calling channel holds a live authorization for it."""
    now = lc.now_ms()
    if auth_code:

        def by_code(conn: sqlite3.Connection) -> VoucherStatus:
            channel = check_channel(conn, channel_id)
            auth = check_auth_code(conn, channel, auth_code, lc.keys)
            v = q.q_voucher(conn, auth.ec_card_no)
            assert v is not None  # the voucher of a live authorization
            person = q.q_person_by_id(conn, v.person_id)
            assert person is not None  # the holder of a voucher
            return _status(conn, channel, v, person, now, shown=True)

        return await lc.store.query(by_code)
    if not (user_name or id_type or id_no):
        raise invalid("authCode, or userName + idType + idNo, is required")
    ident = parse_identity(user_name, id_type, id_no)

    def by_identity(conn: sqlite3.Connection) -> VoucherStatus:
        channel = check_channel(conn, channel_id)
        person = check_person(conn, ident)
        v = q.q_live_voucher(conn, person.person_id)
        if v is None:
            return VoucherStatus("", NOT_ACTIVATED, 0, (), ())
        shown = q.q_active_authorization(conn, v.ec_card_no, channel_id) is not None
        return _status(conn, channel, v, person, now, shown=shown)

    return await lc.store.query(by_identity)
