"""Activation, second half (6.1.3 b-e): password, then activation.

- :func:`open_password_page`: a one-time national password page session, for the
  real-person serial of a third-party channel (6.1.3 c): 500080 once expired, 500081
  once a password was set through it.
- :func:`set_password`: six digits entered twice (:mod:`node.voucher.password`);
  official channels pass the real-person serial directly, third parties the page
  session (500082 without one). Yields a password serial.
- :func:`activate`: the voucher becomes ACTIVATED, the calling channel receives its
  personal channel authorization code (official channels too, 4.5), and the event goes
  to every insured province and the business-place province (6.1.3 d).
"""

from __future__ import annotations

import sqlite3

from node.domain.regions import is_province
from node.domain.voucher_no import voucher_number
from node.domain.voucher_state import ACTIVATED, NOT_ACTIVATED, SUPERSEDED
from node.errors import EcError, Problems, invalid
from node.storage import national as q
from node.storage.national import ChannelRow, PersonRow, SerialRow, VoucherRow
from node.voucher.context import Lifecycle, check_channel, check_same_identity, check_serial
from node.voucher.events import emit
from node.voucher.idempotency import fingerprint, recall, remember
from node.voucher.model import OFFICIAL, ActivationResult, PageResult, PasswordResult, Region
from node.voucher.password import check_new_password

__all__ = ["activate", "check_business_province", "open_password_page", "set_password"]


def check_business_province(code: str) -> str:
    """The optional business-place province of a request: empty, or a province code."""
    if code and not is_province(code):
        raise invalid(f"businessProvince {code!r} is not a two-digit province code (e.g. 44)")
    return code


def _not_active(conn: sqlite3.Connection, person: PersonRow) -> None:
    v = q.q_live_voucher(conn, person.person_id)
    if v is not None and v.state not in (NOT_ACTIVATED, SUPERSEDED):
        raise EcError(500086, "this voucher is already activated")


async def open_password_page(lc: Lifecycle, channel_id: str, real_person_serial: str) -> PageResult:
    """A one-time password page session for a passed real-person check."""
    now = lc.now_ms()
    session = lc.serial("pg")

    def tx(conn: sqlite3.Connection) -> PageResult:
        check_channel(conn, channel_id)
        rp = check_serial(conn, real_person_serial, "real_person", channel_id, now)
        person = check_same_identity(conn, rp)
        _not_active(conn, person)
        expires = now + lc.settings.page_ttl * 1000
        q.q_insert_serial(
            conn,
            SerialRow(
                session,
                "password_page",
                rp.person_id,
                channel_id,
                rp.serial,
                rp.identity_tag,
                None,
                None,
                None,
                None,
                0,
                now,
                expires,
                None,
            ),
        )
        return PageResult(session, expires)

    return await lc.store.transact(tx)


def _password_target(
    conn: sqlite3.Connection, channel_id: str, real_person_serial: str, page_session: str, now: int
) -> tuple[ChannelRow, SerialRow, SerialRow | None, PersonRow]:
    channel = check_channel(conn, channel_id)
    page = None
    if page_session:
        page = q.q_serial(conn, page_session)
        if page is None or page.kind != "password_page" or page.channel_id != channel_id:
            raise EcError(500080, "pageSession is unknown or has expired; open a new password page")
        if page.used_at is not None:
            raise EcError(500081, "this password page was already used; open a new one")
        if page.expires_at <= now:
            raise EcError(500080, "the password page has expired; open a new one")
        if real_person_serial and real_person_serial != page.parent:
            raise invalid("realPersonSerial does not belong to this pageSession")
        real_person_serial = page.parent or ""
    elif not real_person_serial:
        raise invalid(
            "realPersonSerial (official channel) or pageSession (third-party channel) is required"
        )
    elif channel.kind != OFFICIAL:
        raise EcError(
            500082,
            "a third-party channel sets the password on the national password page: "
            "call OpenPasswordPage and pass its pageSession (6.1.3 c)",
        )
    rp = check_serial(conn, real_person_serial, "real_person", channel_id, now)
    person = check_same_identity(conn, rp)
    _not_active(conn, person)
    return channel, rp, page, person


async def set_password(
    lc: Lifecycle,
    channel_id: str,
    real_person_serial: str,
    page_session: str,
    password: str,
    confirm: str,
) -> PasswordResult:
    """Check and hash the new password; the hash waits under a password serial until
    the activation (never logged, never returned)."""
    problems = Problems()
    problems.require("realPersonSerial or pageSession", real_person_serial or page_session)
    problems.require("password", password)
    problems.require("passwordConfirm", confirm)
    problems.check()
    now = lc.now_ms()
    _, _, _, person = await lc.store.query(
        _password_target, channel_id, real_person_serial, page_session, now
    )
    check_new_password(password, confirm, person.id_no)
    hashed = await lc.hasher.hash(password)
    serial = lc.serial("pw")

    def tx(conn: sqlite3.Connection) -> PasswordResult:
        _, rp, page, _ = _password_target(conn, channel_id, real_person_serial, page_session, now)
        if page is not None:
            q.q_use_serial(conn, page.serial, now)
        expires = min(now + lc.settings.password_ttl * 1000, rp.expires_at)
        q.q_insert_serial(
            conn,
            SerialRow(
                serial,
                "password",
                rp.person_id,
                channel_id,
                rp.serial,
                rp.identity_tag,
                None,
                hashed.hash,
                hashed.salt,
                hashed.iterations,
                0,
                now,
                expires,
                None,
            ),
        )
        return PasswordResult(serial, expires)

    return await lc.store.transact(tx)


async def activate(
    lc: Lifecycle,
    channel_id: str,
    real_person_serial: str,
    password_serial: str,
    business_province: str = "",
    request_id: str = "",
) -> ActivationResult:
    """Activate the voucher of a person who passed both checks and set a password."""
    problems = Problems()
    problems.require("realPersonSerial", real_person_serial)
    # No password serial: the password was not set (500042, the table's own code).
    problems.require("passwordSerial", password_serial, code=500042)
    problems.check()
    check_business_province(business_province)
    now = lc.now_ms()
    key = await lc.key()
    code = lc.auth_code()
    code_hash, sealed_digest = lc.code_row(code)
    fp = fingerprint(real_person_serial, password_serial, business_province)

    def tx(conn: sqlite3.Connection) -> ActivationResult:
        check_channel(conn, channel_id)
        prior = recall(conn, channel_id, "Activate", request_id, fp, ActivationResult, lc.keys)
        if prior is not None:
            return prior
        rp = check_serial(conn, real_person_serial, "real_person", channel_id, now)
        pw = q.q_serial(conn, password_serial) if password_serial else None
        if (
            pw is None
            or pw.kind != "password"
            or pw.channel_id != channel_id
            or pw.parent != rp.serial
            or pw.used_at is not None
            or pw.expires_at <= now
            or pw.password_hash is None
        ):
            raise EcError(
                500042,
                "no password was set in this activation (or it expired): call SetPassword "
                "and pass its passwordSerial",
            )
        person = check_same_identity(conn, rp)
        _not_active(conn, person)
        number = voucher_number(person.id_type, person.id_no, person.user_name, key)
        old = q.q_voucher(conn, number)  # a superseded voucher whose identity came back
        row = VoucherRow(
            number,
            person.person_id,
            ACTIVATED,
            pw.password_hash,
            pw.password_salt,
            pw.password_iterations,
            0,
            None,
            old.version + 1 if old else 1,
            old.created_at if old else now,
            now,
            now,
            None,
        )
        q.q_put_voucher(conn, row)
        q.q_use_serial(conn, rp.serial, now)
        q.q_use_serial(conn, pw.serial, now)
        q.q_insert_authorization(conn, code_hash, sealed_digest, number, channel_id, now)
        emit(
            conn,
            lc,
            "voucher.activated",
            row,
            person,
            now,
            business_province,
            payload={"channelId": channel_id},
        )
        result = ActivationResult(
            number,
            ACTIVATED,
            code,
            tuple(Region(r.insu_org, r.insu_type) for r in person.insured),
            row.version,
        )
        remember(conn, channel_id, "Activate", request_id, fp, result, now, lc.keys)
        return result

    result = await lc.store.transact(tx)
    lc.wake()
    return result
