"""National's receiving end of the provinces' deliveries: their settlement notices
(standard 6.3.2 d), relayed to the person's other insured provinces.

A province's uplink (``federation.delivery.uplink``) delivers its outbox to national as
``pNN``. National accepts events only from a registered province speaking as itself,
only notices (``node.wire.events``) of that province's own settlements, each naming a
destination province and signed by that province with the key it registered
(``node.wire.signing``: an altered or forged notice is refused -2 and logged); the
whole batch is checked before anything is queued, so a malformed one is refused whole
(-2) and the sender narrows it down. In one transaction
national moves the origin's applied position (in the origin's outbox epoch) and queues
each notice in its own outbox for its destination, never back to its origin
(``node.storage.national``); after the commit its delivery takes them on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.inbox import log_epoch_restart, refuse_signature
from node.clock import Clock
from node.domain.regions import is_province
from node.errors import EcError, invalid
from node.storage.national import NationalStore, RelayEvent
from node.wire.events import NOTICE_KIND, inbound_from_proto, notice_destination
from node.wire.signing import signature_problem

__all__ = ["NoticeRelay"]

log = logging.getLogger("ecnet.notice")


class NoticeRelay:
    """``wake(destination)`` is called after the commit for each destination queued."""

    def __init__(self, store: NationalStore, clock: Clock, wake: Callable[[str], None]) -> None:
        self.store = store
        self.clock = clock
        self.wake = wake

    async def deliver(
        self, caller: str, request: fed_pb.DeliverEventsRequest
    ) -> fed_pb.DeliverEventsResponse:
        """National's ``DeliverEvents``: a province's notices, queued for their destinations."""
        if caller == "national":
            raise EcError(-5, "national delivers events to the provinces, not to itself")
        province = caller[1:] if caller.startswith("p") else ""
        if not is_province(province):
            raise EcError(
                -4,
                "only a province node delivers events to national "
                f"(caller: {caller or 'anonymous'})",
            )
        if request.origin and request.origin != caller:
            raise EcError(-4, f"node {caller} may not deliver events as origin {request.origin!r}")
        node = await self.store.get_node(province)
        if node is None:
            raise EcError(-4, f"node {caller} is not registered with national")
        relay = []
        # The whole batch is checked before anything is queued: a malformed one is refused whole.
        for e in request.events:
            if e.kind != NOTICE_KIND:
                raise invalid(
                    f"national relays only {NOTICE_KIND} events, not {e.kind!r} ({e.eventId})"
                )
            # Signed by the province it names, with the key it registered (the directory).
            why = "" if e.origin == caller else f"origin {e.origin or 'missing'}, not {caller}"
            why = why or signature_problem(e, node.sign_key) or ""
            if why:
                raise refuse_signature(caller, request, e, why)
            notice = inbound_from_proto(e).notice
            assert notice is not None  # a NOTICE_KIND event carries its notice
            if notice.settled_by != province:
                raise EcError(
                    -4,
                    f"node {caller} may not send a notice of province "
                    f"{notice.settled_by}'s settlement",
                )
            dest = notice_destination(e)
            if not is_province(dest):
                raise invalid(f"notice {e.eventId} names no destination province ({dest!r})")
            forward = fed_pb.Event()
            forward.CopyFrom(e)
            forward.ClearField("sequence")
            # The key the signature was verified with travels on; national endorses it
            # when it sends the event (node.wire.signing.Endorsements).
            forward.originKey = node.sign_key
            forward.ClearField("originKeyEndorsement")
            # Never back to its origin (the sender excludes itself; this is the second line).
            relay.append(RelayEvent(e.sequence, None if dest == province else dest, forward))
        result = await self.store.relay_events(caller, relay, self.clock.now_ms(), request.epoch)
        log_epoch_restart(caller, request, result.restarted_from, result.position)
        for dest in result.destinations:  # after the commit: delivery takes them on
            self.wake(dest)
        if relay:
            log.info(
                "events relayed",
                extra={
                    "fields": {
                        "origin": caller,
                        "batch": request.batchId,
                        "position": result.position,
                        "queued": result.queued,
                        "duplicates": result.duplicates,
                        "destinations": ",".join(sorted(result.destinations)),
                    }
                },
            )
        return fed_pb.DeliverEventsResponse(appliedPosition=result.position)
