"""A province's receiving end of national's deliveries (``FederationService/DeliverEvents``).

Only national delivers events to a province (voucher changes, relayed settlement
notices, channel status); a province never hears from another directly. A batch is
applied in one transaction, idempotently (``node.storage.provincial``: a position per
origin in the origin's outbox epoch, event ids, per-voucher versions), after every
event of it was checked (``node.wire.events``): a malformed one refuses the batch
whole with -2, which the sender narrows down and parks (``federation.delivery``).

:attr:`Inbox.position` is the highest of national's outbox positions applied here: the
registrar reports it in every heartbeat, and :func:`wait_applied` waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import Clock
from node.errors import EcError, invalid
from node.storage.provincial import ProvincialStore
from node.wire.events import inbound_from_proto

__all__ = ["Inbox", "EVENT_ORIGINS", "log_epoch_restart", "wait_applied"]

log = logging.getLogger("ecnet.inbox")

# Who may deliver events to a province. Provinces deliver only to national (their
# settlement notices), which relays them; a province never hears from another directly.
EVENT_ORIGINS = frozenset({"national"})


def log_epoch_restart(
    origin: str, request: fed_pb.DeliverEventsRequest, restarted_from: str, position: int
) -> None:
    """At a receiver, after the commit: the warning that ``origin``'s outbox started a
    new epoch (``restarted_from`` is the old one; nothing when it is empty)."""
    if restarted_from:
        log.warning(
            "sender's outbox epoch changed: its position restarts (its database was recreated)",
            extra={
                "fields": {
                    "origin": origin,
                    "batch": request.batchId,
                    "old_epoch": restarted_from,
                    "new_epoch": request.epoch,
                    "position": position,
                }
            },
        )


class Inbox:
    """The events national delivered to this province, applied once each."""

    def __init__(self, store: ProvincialStore, clock: Clock, position: int = 0) -> None:
        self.store = store
        self.clock = clock
        self.position = position

    @classmethod
    async def open(cls, store: ProvincialStore, clock: Clock) -> Inbox:
        """The inbox with the position the database holds: heartbeats report it from
        the first one on, not only after a new batch."""
        return cls(store, clock, await store.load_applied_position())

    async def deliver(
        self, caller: str, request: fed_pb.DeliverEventsRequest
    ) -> fed_pb.DeliverEventsResponse:
        """Apply one batch from ``caller`` (the calling node, ``national``)."""
        if caller not in EVENT_ORIGINS:
            raise EcError(-4, f"only national may deliver events (caller: {caller or 'anonymous'})")
        if request.origin and request.origin != caller:
            raise invalid(f"origin {request.origin!r} is not the calling node {caller!r}")
        events = [inbound_from_proto(e) for e in request.events]
        result = await self.store.apply_events(caller, events, self.clock.now_ms(), request.epoch)
        log_epoch_restart(caller, request, result.restarted_from, result.position)
        # After the commit, so a heartbeat never reports a position that could be lost. A
        # new epoch restarts the position: report it, not the old epoch's larger one
        # (national's cursor for this province restarted with its database).
        if result.restarted_from:
            self.position = result.position
        else:
            self.position = max(self.position, result.position)
        if events:
            log.info(
                "events applied",
                extra={
                    "fields": {
                        "origin": caller,
                        "batch": request.batchId,
                        "position": result.position,
                        "applied": result.applied,
                        "stale": result.stale,
                        "duplicates": result.duplicates,
                    }
                },
            )
        return fed_pb.DeliverEventsResponse(appliedPosition=result.position)


async def wait_applied(
    target: Inbox | ProvincialStore, seq: int, timeout: float = 10.0, poll: float = 0.01
) -> float:
    """Wait until a province has applied outbox position ``seq``; returns the seconds waited.

    ``target`` is a province's :class:`~federation.inbox.Inbox` (its position, moved as
    each batch commits) or its store (read from the database). The benchmark hook for
    the lag from commit at national to applied at a province: after the commit take
    ``OutboxStore(national_db).last_seq(province)`` and await this.
    """
    start = time.perf_counter()
    deadline = start + timeout
    while True:
        if isinstance(target, ProvincialStore):
            applied = await target.load_applied_position()
        else:
            applied = target.position
        if applied >= seq:
            return time.perf_counter() - start
        if time.perf_counter() >= deadline:
            raise TimeoutError(f"position {seq} not applied within {timeout}s (at {applied})")
        await asyncio.sleep(poll)
