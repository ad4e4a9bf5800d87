"""A province's receiving end of national's deliveries (``FederationService/DeliverEvents``).

Only national delivers events to a province (voucher changes, relayed settlement
notices, channel status); a province never hears from another directly. A batch is
applied in one transaction, idempotently (``node.storage.provincial``: a position per
origin in the origin's outbox epoch, event ids, per-voucher versions), after every
event of it was checked (``node.wire.events``) and its signature verified against its
origin's key (``node.wire.signing``: national's own, or the key national endorsed for
a relayed notice): a malformed or badly signed one refuses the batch whole with -2,
which the sender narrows down and parks (``federation.delivery``).

:attr:`Inbox.position` is the highest of national's outbox positions applied here: the
registrar reports it in every heartbeat, and :func:`wait_applied` waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import Clock
from node.domain.sm import sm2_public_key_valid, sm3_hex
from node.errors import EcError, invalid
from node.storage.provincial import ProvincialStore
from node.wire.events import NOTICE_KIND, inbound_from_proto
from node.wire.signing import EventVerifier

__all__ = ["Inbox", "EVENT_ORIGINS", "log_epoch_restart", "refuse_signature", "wait_applied"]

log = logging.getLogger("ecnet.inbox")

# Who may deliver events to a province. Provinces deliver only to national (their
# settlement notices), which relays them; a province never hears from another directly.
EVENT_ORIGINS = frozenset({"national"})
# How long a batch delivered while this province registers waits for national's key.
KEY_WAIT_S = 3.0


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


def refuse_signature(
    caller: str, request: fed_pb.DeliverEventsRequest, e: fed_pb.Event, why: str
) -> EcError:
    """The refusal (-2) of a batch whose event ``e`` has a missing or bad signature, after
    one log line naming its origin, its id and why. Nothing of the batch is applied; the
    sender narrows it down to that event and parks it (``federation.delivery``)."""
    log.warning(
        "event refused: its signature does not hold",
        extra={
            "fields": {
                "origin": e.origin or "?",
                "event_id": e.eventId or "?",
                "reason": why,
                "caller": caller or "anonymous",
                "batch": request.batchId,
            }
        },
    )
    return invalid(
        f"event {e.eventId or '?'} from {e.origin or 'no origin'} refused: {why} "
        "(every event is signed by the node that originated it)"
    )


class Inbox:
    """The events national delivered to this province, applied once each, after their
    signatures were checked (``verifier``, with national's key)."""

    def __init__(
        self,
        store: ProvincialStore,
        clock: Clock,
        position: int = 0,
        verifier: EventVerifier | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.position = position
        self.verifier = verifier or EventVerifier()
        # Set once national's key is known: a batch that arrives while this province is
        # registering (national delivers as soon as it has the registration, before its
        # answer with the key reaches us) waits for it instead of failing into a backoff.
        self._key_known = asyncio.Event()
        if self.verifier.national_key:
            self._key_known.set()

    @classmethod
    async def open(cls, store: ProvincialStore, clock: Clock) -> Inbox:
        """The inbox with the position the database holds (heartbeats report it from
        the first one on, not only after a new batch) and national's key as last sent."""
        verifier = EventVerifier(await store.national_sign_key())
        return cls(store, clock, await store.load_applied_position(), verifier)

    async def national_key(self, key: bytes) -> None:
        """National sent its signing key (registration, heartbeat): kept, and stored
        when it is new (logged when it replaces another)."""
        old = self.verifier.national_key
        if not key or key == old:
            return
        if not sm2_public_key_valid(key):
            log.error("national sent a signing key that is no SM2 public key; ignored")
            return
        await self.store.set_national_sign_key(key)
        self.verifier.national_key = key
        self._key_known.set()
        if old:
            log.warning(
                "national's signing key changed: its events are verified with the new one",
                extra={"fields": {"old_key": sm3_hex(old)[:16], "new_key": sm3_hex(key)[:16]}},
            )

    async def deliver(
        self, caller: str, request: fed_pb.DeliverEventsRequest
    ) -> fed_pb.DeliverEventsResponse:
        """Apply one batch from ``caller`` (the calling node, ``national``)."""
        if caller not in EVENT_ORIGINS:
            raise EcError(-4, f"only national may deliver events (caller: {caller or 'anonymous'})")
        if request.origin and request.origin != caller:
            raise invalid(f"origin {request.origin!r} is not the calling node {caller!r}")
        # Every event's signature, before anything is applied: one that does not hold
        # refuses the batch whole, as a malformed one does.
        if request.events and not self.verifier.national_key:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._key_known.wait(), KEY_WAIT_S)
        if request.events and not self.verifier.national_key:
            # Not registered yet (national's answer brings the key): try again later.
            raise EcError(
                -3, "national's signing key is not known yet (this province is registering)"
            )
        for e in request.events:
            why = self.verifier.problem(e)
            if why is None and e.origin != caller and e.kind != NOTICE_KIND:
                why = f"only a settlement notice is relayed from {e.origin}"
            if why is not None:
                raise refuse_signature(caller, request, e, why)
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
