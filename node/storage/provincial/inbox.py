"""Applying the events national delivers to a province (tables ``inbox_position`` and
``inbox_events`` of provincial m002, m007), idempotent, in one transaction per batch:

* ``inbox_position`` holds, per origin, the highest outbox seq applied and the epoch
  of the sender's outbox it counts in (m007). The sender sends in seq order and only
  after an answer, so an event at or below it is a duplicate, within that epoch. A
  batch of another epoch (the sender's database was recreated: its seqs restart at 1)
  restarts the position at 0 and is taken as new; the two lines below still apply to
  it. A batch without an epoch (an older sender) is checked as it always was.
* ``inbox_events`` records each applied event id, so an event queued again under a new
  seq is still applied once. The position already rejects every older duplicate, so
  ids are kept only for ``EVENT_ID_RETENTION_MS`` (pruned as batches arrive).

Each event then goes where it belongs: a voucher snapshot to the cache
(:mod:`.vouchers`, newer versions only), a settlement notice to the notices received
(:mod:`.notices`, once per settlement and state), a channel's status to
:mod:`.channels` (newer versions only).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from node.storage import outbox
from node.storage.provincial.channels import ChannelStatus, q_put_channel_status
from node.storage.provincial.notices import Notice, q_put_notice
from node.storage.provincial.vouchers import VoucherSnapshot, q_put_voucher

__all__ = ["InboundEvent", "ApplyResult", "EVENT_ID_RETENTION_MS", "q_apply_events"]

EVENT_ID_RETENTION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A delivered event: a voucher snapshot, (``settlement.notice``) a notice, or
    (``channel.status``) a channel's status."""

    event_id: str
    seq: int
    kind: str
    voucher: VoucherSnapshot | None = None
    notice: Notice | None = None
    channel: ChannelStatus | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    position: int  # the origin's applied position after the batch (in the batch's epoch)
    applied: int  # events whose snapshot changed the cache
    stale: int  # new events whose snapshot was older than the cache (recorded, not applied)
    duplicates: int  # events already applied (by position or by id)
    # The origin's previous outbox epoch when this batch started a new one (the position
    # restarted), else "".
    restarted_from: str = ""


def q_apply_events(
    conn: sqlite3.Connection,
    origin: str,
    events: Sequence[InboundEvent],
    now_ms: int,
    epoch: str = "",
    code_key: Callable[[str], str] | None = None,
    seal: Callable[[bytes], bytes] | None = None,
) -> ApplyResult:
    """Apply a batch delivered from ``origin``'s outbox ``epoch`` (see the module
    docstring), inside the caller's one transaction."""
    # The position counts in the origin's outbox epoch: another epoch than the stored
    # one means the sender's outbox started over, so the position restarts at 0 (the
    # batch is new) while inbox_events and the voucher version still drop a repeat; an
    # empty epoch (an older sender) is checked against the stored position as it is.
    position, restarted_from = outbox.q_inbox_start(conn, origin, epoch)
    applied = stale = duplicates = 0
    for ev in sorted(events, key=lambda e: e.seq):
        if ev.seq <= position:
            duplicates += 1
            continue
        position = ev.seq
        cur = conn.execute(
            "INSERT OR IGNORE INTO inbox_events (event_id, origin, seq, applied_at) "
            "VALUES (?,?,?,?)",
            (ev.event_id, origin, ev.seq, now_ms),
        )
        if cur.rowcount == 0:
            duplicates += 1
        elif ev.notice is not None:
            if q_put_notice(conn, ev.notice, now_ms):
                applied += 1
            else:
                duplicates += 1
        elif ev.channel is not None:
            if q_put_channel_status(conn, ev.channel, now_ms, seal):
                applied += 1
            else:
                stale += 1
        elif ev.voucher is not None and q_put_voucher(conn, ev.voucher, "pushed", now_ms, code_key):
            applied += 1
        else:
            stale += 1
    outbox.q_advance_inbox_position(conn, origin, position, epoch, restarted=bool(restarted_from))
    conn.execute("DELETE FROM inbox_events WHERE applied_at < ?", (now_ms - EVENT_ID_RETENTION_MS,))
    return ApplyResult(position, applied, stale, duplicates, restarted_from)
