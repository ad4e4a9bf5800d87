"""Activation, first half (6.1.3 a): real-name check, then real-person check.

- :func:`real_name_check`: name + id type + id number against the base registry →
  a real-name serial and a liveness challenge.
- :func:`real_person_check`: the channel's liveness sample answering the challenge,
  judged by the pluggable verifier → a real-person serial, valid a few minutes. On an
  official channel it also lifts a freeze (500079).
- :func:`simulated_face`: the simulated camera's view of a person (simulation only).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from node.domain.idno import parse_resident_id
from node.domain.sm import sm3
from node.domain.voucher_state import ACTIVATED, FROZEN
from node.errors import EcError, Problems
from node.storage import national as q
from node.storage.national import PersonRow, SerialRow
from node.storage.secrets import FACE_LABEL
from node.voucher.biometric import FUTURE_SKEW_MS, LivenessRefused
from node.voucher.context import (
    Lifecycle,
    check_channel,
    check_person,
    check_same_identity,
    check_serial,
    identity_tag,
    parse_identity,
)
from node.voucher.freeze import effective_state, unfreeze
from node.voucher.idempotency import fingerprint, recall, remember
from node.voucher.model import OFFICIAL, RealNameResult, RealPersonResult

__all__ = ["real_name_check", "real_person_check", "simulated_face", "registry_problem"]

# Expired serials are kept this long (so a late call hears "expired"), then pruned.
SERIAL_RETENTION_MS = 3_600_000


def registry_problem(conn: sqlite3.Connection, person: PersonRow) -> EcError | None:
    """Registry data that cannot carry a voucher: no insured region (500054), or
    inconsistent / incomplete person data (500058)."""
    if not person.insured:
        return EcError(500054, "the base registry lists no insured region for this person")
    if person.id_type in ("01", "17"):
        parts = parse_resident_id(person.id_no)
        if parts.birth.isoformat() != person.birthday or parts.gender != person.gender:
            return EcError(500058, "the registry's birthday or gender disagrees with the id number")
    if q.q_face_template(conn, person.person_id) is None:
        return EcError(
            500058, "no face template is enrolled for this person; the real-person check cannot run"
        )
    return None


async def real_name_check(
    lc: Lifecycle, channel_id: str, user_name: str, id_type: str, id_no: str, request_id: str = ""
) -> RealNameResult:
    """Start an activation: the identity must be that of a registered person whose
    voucher is not active yet (a frozen one may start here on the official channel)."""
    ident = parse_identity(user_name, id_type, id_no)
    now = lc.now_ms()
    s = lc.settings
    fp = fingerprint(ident.user_name, ident.id_type, ident.id_no)
    serial, challenge = lc.serial("rn"), lc.entropy.token_hex(16)

    def tx(conn: sqlite3.Connection) -> RealNameResult:
        channel = check_channel(conn, channel_id)
        prior = recall(conn, channel_id, "RealNameCheck", request_id, fp, RealNameResult)
        if prior is not None:
            return prior
        person = check_person(conn, ident)
        problem = registry_problem(conn, person)
        if problem is not None:
            raise problem
        v = q.q_live_voucher(conn, person.person_id)
        if v is not None:
            state = effective_state(v, now)
            if state == ACTIVATED:
                raise EcError(
                    500086,
                    "this voucher is already activated; authorize the channel instead (6.1.4)",
                )
            if state == FROZEN and channel.kind != OFFICIAL:
                raise EcError(
                    500079,
                    "the voucher is frozen after wrong passwords; a real-person check "
                    "on the official channel lifts the freeze",
                )
        q.q_prune(
            conn,
            now - SERIAL_RETENTION_MS,
            now - s.liveness_window * 1000 - FUTURE_SKEW_MS,
            now - s.idempotency_ttl * 1000,
        )
        expires = now + s.real_name_ttl * 1000
        q.q_insert_serial(
            conn,
            SerialRow(
                serial,
                "real_name",
                person.person_id,
                channel_id,
                None,
                identity_tag(person),
                challenge,
                None,
                None,
                None,
                0,
                now,
                expires,
                None,
            ),
        )
        result = RealNameResult(serial, expires, challenge)
        remember(conn, channel_id, "RealNameCheck", request_id, fp, result, now)
        return result

    return await lc.store.transact(tx)


@dataclass(frozen=True)
class _Refused:
    reason: str


async def real_person_check(
    lc: Lifecycle, channel_id: str, real_name_serial: str, sample: bytes
) -> RealPersonResult:
    """Judge the liveness sample; success uses up the real-name serial and yields a
    real-person serial. A replayed, forged, malformed or stale sample is 500096; an
    unknown, expired or used serial 500037; five bad samples burn the serial."""
    problems = Problems()
    problems.require("realNameSerial", real_name_serial)
    problems.require("livenessSample", sample)
    problems.check()
    now = lc.now_ms()
    digest = sm3(sample)

    def read(conn: sqlite3.Connection) -> tuple[SerialRow, bytes | None]:
        check_channel(conn, channel_id)
        serial = check_serial(conn, real_name_serial, "real_name", channel_id, now, allow_used=True)
        if q.q_liveness_seen(conn, digest):
            raise EcError(
                500096, "this liveness sample was already used (a replay); capture a new one"
            )
        if serial.used_at is not None:
            raise EcError(
                500037, "realNameSerial was already used; start again with a real-name check"
            )
        person = check_same_identity(conn, serial)
        return serial, q.q_face_template(conn, person.person_id)

    serial, template = await lc.store.query(read)
    try:
        if not sample:
            raise LivenessRefused("livenessSample is empty")
        if template is None:
            raise LivenessRefused("no enrolled face template to compare with")
        await lc.verifier.verify(
            lc.keys.open(template, FACE_LABEL), serial.challenge or "", sample, now
        )
        refused = None
    except LivenessRefused as exc:
        refused = str(exc)
    rp = lc.serial("rp")

    def tx(conn: sqlite3.Connection) -> RealPersonResult | _Refused:
        channel = check_channel(conn, channel_id)
        row = check_serial(conn, real_name_serial, "real_name", channel_id, now)
        if refused is not None:
            if q.q_serial_attempt(conn, row.serial) >= lc.settings.liveness_attempts:
                q.q_use_serial(conn, row.serial, now)
                return _Refused(
                    f"{refused}; too many failed samples, start again with a real-name check"
                )
            return _Refused(refused)
        if q.q_liveness_seen(conn, digest):
            raise EcError(
                500096, "this liveness sample was already used (a replay); capture a new one"
            )
        person = check_same_identity(conn, row)
        q.q_use_serial(conn, row.serial, now)
        q.q_record_liveness(conn, digest, now)
        expires = now + lc.settings.real_person_ttl * 1000
        q.q_insert_serial(
            conn,
            SerialRow(
                rp,
                "real_person",
                person.person_id,
                channel_id,
                row.serial,
                row.identity_tag,
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
        unfrozen = False
        v = q.q_live_voucher(conn, person.person_id)
        if v is not None and v.state == FROZEN and channel.kind == OFFICIAL:
            # Each lift gives max_wrong_passwords more guesses: lifts are limited per
            # person (the real-name serial stays usable: this transaction rolls back).
            wait_ms = lc.unfreezes.take(str(person.person_id), now)
            if wait_ms:
                seconds = -(-wait_ms // 1000)
                raise EcError(
                    500084,
                    "the freeze of this voucher was lifted too often by a real-person check; "
                    f"try again in {seconds} s, or wait for the freeze to end",
                    retryAfter=str(seconds),
                )
            unfreeze(conn, lc, v, person, now, "real_person_check")
            unfrozen = True
        return RealPersonResult(rp, expires, unfrozen)

    result = await lc.store.transact(tx)
    if isinstance(result, _Refused):
        raise EcError(500096, result.reason)
    if result.unfrozen:
        lc.wake()
    return result


async def simulated_face(
    lc: Lifecycle, channel_id: str, user_name: str, id_type: str, id_no: str
) -> bytes:
    """SIMULATION ONLY: the enrolled face template that stands for the person in front
    of a simulated camera. Refused (-5) unless this node's verifier is the simulation.
    The name is optional (the camera sees a face, not a name); when given it must match."""
    if not getattr(lc.verifier, "simulated", False):
        raise EcError(
            -5, "this node's real-person check is not simulated: a real camera captures the face"
        )
    ident = parse_identity(user_name, id_type, id_no, need_name=False)

    def read(conn: sqlite3.Connection) -> bytes:
        check_channel(conn, channel_id)
        person = check_person(conn, ident, check_name=bool(ident.user_name))
        template = q.q_face_template(conn, person.person_id)
        if template is None:
            raise EcError(500058, "no face template is enrolled for this person")
        return template

    return lc.keys.open(await lc.store.query(read), FACE_LABEL)
