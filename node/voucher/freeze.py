"""Freezing after wrong passwords (500079) and lifting the freeze.

A voucher is frozen when ``max_wrong_passwords`` wrong passwords come in a row: its
state becomes FROZEN until ``frozen_until`` (now + ``freeze_seconds``). The freeze is
lifted by a real-person check through an official channel, or by time. When its time
is over, whoever reads the voucher sees it ACTIVATED at once (:func:`effective_state`);
:func:`lift_lapsed_freezes`, run periodically at national (:class:`FreezeSweeper`),
records the lift as a new version and tells the provinces (``voucher.unfrozen``), so
their caches do not keep a freeze that has ended. Both survive a restart: the state
is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sqlite3

from node.domain.voucher_state import ACTIVATED, FROZEN
from node.storage import national as q
from node.storage.national import PersonRow, VoucherRow
from node.voucher.context import Lifecycle
from node.voucher.events import emit

__all__ = [
    "effective_state",
    "freeze",
    "lift_lapsed_freeze",
    "lift_lapsed_freezes",
    "unfreeze",
    "FreezeSweeper",
]


def effective_state(v: VoucherRow, now_ms: int) -> int:
    """The state as of ``now_ms``: a freeze whose time is over reads as ACTIVATED."""
    if v.state == FROZEN and v.frozen_until is not None and v.frozen_until <= now_ms:
        return ACTIVATED
    return v.state


def freeze(
    conn: sqlite3.Connection,
    lc: Lifecycle,
    v: VoucherRow,
    person: PersonRow,
    now_ms: int,
    attempts: int,
) -> VoucherRow:
    until = now_ms + lc.settings.freeze_seconds * 1000
    row = dataclasses.replace(
        v,
        state=FROZEN,
        failed_attempts=attempts,
        frozen_until=until,
        version=v.version + 1,
        updated_at=now_ms,
    )
    q.q_put_voucher(conn, row)
    emit(
        conn,
        lc,
        "voucher.frozen",
        row,
        person,
        now_ms,
        payload={"frozenUntil": until, "wrongPasswords": attempts},
    )
    return row


def unfreeze(
    conn: sqlite3.Connection,
    lc: Lifecycle,
    v: VoucherRow,
    person: PersonRow,
    now_ms: int,
    reason: str,
) -> VoucherRow:
    row = dataclasses.replace(
        v,
        state=ACTIVATED,
        failed_attempts=0,
        frozen_until=None,
        version=v.version + 1,
        updated_at=now_ms,
    )
    q.q_put_voucher(conn, row)
    emit(conn, lc, "voucher.unfrozen", row, person, now_ms, payload={"reason": reason})
    return row


def lift_lapsed_freeze(
    conn: sqlite3.Connection, lc: Lifecycle, v: VoucherRow, person: PersonRow, now_ms: int
) -> VoucherRow:
    """Record the end of a freeze whose time is over (no-op otherwise)."""
    if v.state == FROZEN and effective_state(v, now_ms) == ACTIVATED:
        return unfreeze(conn, lc, v, person, now_ms, "expired")
    return v


def _lift_batch(conn: sqlite3.Connection, lc: Lifecycle, now_ms: int, limit: int) -> int:
    lifted = 0
    for v in q.q_lapsed_freezes(conn, now_ms, limit):
        person = q.q_person_by_id(conn, v.person_id)
        if person is not None:
            unfreeze(conn, lc, v, person, now_ms, "expired")
            lifted += 1
    return lifted


async def lift_lapsed_freezes(lc: Lifecycle, limit: int = 200) -> int:
    """Lift every freeze whose time is over, in batches of one transaction each;
    returns how many were lifted (and wakes delivery when any were)."""
    total = 0
    while True:
        lifted = await lc.store.transact(_lift_batch, lc, lc.now_ms(), limit)
        total += lifted
        if lifted < limit:
            break
    if total:
        lc.wake()
    return total


class FreezeSweeper:
    """Lifts lapsed freezes every ``interval`` seconds at the national node."""

    def __init__(self, lifecycle: Lifecycle, interval: float) -> None:
        self.lifecycle = lifecycle
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await lift_lapsed_freezes(self.lifecycle)
            except Exception:  # logged; the next round tries again
                logging.getLogger("ecnet.freeze").exception("lifting lapsed freezes failed")
