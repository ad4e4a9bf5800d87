"""The relay inbox: events the provinces deliver to national (settlement notices,
6.3.2 d) queued in national's outbox for their destination provinces, with the
position of each origin (table ``inbox_position`` of national m005, m006; the outbox's
queries are in :mod:`node.storage.outbox`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.storage import outbox

__all__ = ["RelayEvent", "RelayResult", "q_relay_events"]


@dataclass(frozen=True, slots=True)
class RelayEvent:
    """An event a province delivered, for ``destination`` (None: not relayed)."""

    seq: int  # in the origin's outbox
    destination: str | None
    event: fed_pb.Event  # its ``sequence`` cleared: national's outbox numbers it again


@dataclass(frozen=True, slots=True)
class RelayResult:
    position: int  # the origin's applied position after the batch (in the batch's epoch)
    queued: int  # events queued in national's outbox
    duplicates: int  # events already relayed (by position, or by destination and id)
    destinations: frozenset[str]  # where events were queued
    # The origin's previous outbox epoch when this batch started a new one (its position
    # restarted), else "".
    restarted_from: str = ""


def q_relay_events(
    conn: sqlite3.Connection,
    origin: str,
    events: Sequence[RelayEvent],
    now_ms: int,
    epoch: str = "",
) -> RelayResult:
    """Queue a delivered batch for its destinations and move the origin's position, in
    one transaction. At or below the position, or already queued for that destination
    (UNIQUE (destination, event_id)), an event changes nothing: a resent batch is a no-op.

    The position counts in the origin's outbox ``epoch``: a batch of another epoch than
    the stored one (the province's database was recreated, its seqs restart at 1)
    restarts the position at 0, so its events are relayed as new; an event queued
    before for the same destination is still refused by UNIQUE (destination, event_id).
    An empty epoch (an older province) is compared with the stored position as it is
    (``outbox.q_inbox_start``)."""
    position, restarted_from = outbox.q_inbox_start(conn, origin, epoch)
    queued = duplicates = 0
    destinations: set[str] = set()
    for ev in sorted(events, key=lambda e: e.seq):
        if ev.seq <= position:
            duplicates += 1
            continue
        position = ev.seq
        if ev.destination is None:
            continue
        if outbox.enqueue(conn, ev.event, [ev.destination], now_ms):
            queued += 1
            destinations.add(ev.destination)
        else:
            duplicates += 1
    outbox.q_advance_inbox_position(conn, origin, position, epoch, restarted=bool(restarted_from))
    return RelayResult(position, queued, duplicates, frozenset(destinations), restarted_from)
