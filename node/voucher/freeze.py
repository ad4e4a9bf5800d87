"""Freezing after wrong passwords (500079) and lifting the freeze.

A voucher is frozen when ``max_wrong_passwords`` wrong passwords come in a row: its
state becomes FROZEN until ``frozen_until`` (now + ``freeze_seconds``). The freeze is
lifted by a real-person check through an official channel, or by time. A lapsed freeze
is lifted lazily: whoever next reads the voucher sees it ACTIVATED
(:func:`effective_state`), and the next write to it records the lift and tells the
provinces (``voucher.unfrozen``); the ``voucher.frozen`` event carries ``frozenUntil``
so a province can also lift it on time by itself. Both survive a restart: the state is
in the database.
"""

from __future__ import annotations

import dataclasses
import sqlite3

from node.storage import national as q
from node.storage.national import PersonRow, VoucherRow
from node.voucher.events import emit
from node.voucher.model import ACTIVATED, FROZEN

__all__ = ["effective_state", "freeze", "lift_lapsed_freeze", "unfreeze"]


def effective_state(v: VoucherRow, now_ms: int) -> int:
    """The state as of ``now_ms``: a freeze whose time is over reads as ACTIVATED."""
    if v.state == FROZEN and v.frozen_until is not None and v.frozen_until <= now_ms:
        return ACTIVATED
    return v.state


def freeze(conn: sqlite3.Connection, lc, v: VoucherRow, person: PersonRow, now_ms: int, attempts: int) -> VoucherRow:
    until = now_ms + lc.settings.freeze_seconds * 1000
    row = dataclasses.replace(
        v, state=FROZEN, failed_attempts=attempts, frozen_until=until, version=v.version + 1, updated_at=now_ms
    )
    q.q_put_voucher(conn, row)
    emit(conn, lc.entropy, "voucher.frozen", row, person, now_ms,
         payload={"frozenUntil": until, "wrongPasswords": attempts})
    return row


def unfreeze(conn: sqlite3.Connection, lc, v: VoucherRow, person: PersonRow, now_ms: int, reason: str) -> VoucherRow:
    row = dataclasses.replace(
        v, state=ACTIVATED, failed_attempts=0, frozen_until=None, version=v.version + 1, updated_at=now_ms
    )
    q.q_put_voucher(conn, row)
    emit(conn, lc.entropy, "voucher.unfrozen", row, person, now_ms, payload={"reason": reason})
    return row


def lift_lapsed_freeze(conn: sqlite3.Connection, lc, v: VoucherRow, person: PersonRow, now_ms: int) -> VoucherRow:
    """Record the end of a freeze whose time is over (no-op otherwise)."""
    if v.state == FROZEN and effective_state(v, now_ms) == ACTIVATED:
        return unfreeze(conn, lc, v, person, now_ms, "expired")
    return v
