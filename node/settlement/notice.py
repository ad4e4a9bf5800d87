"""Settlement notices (standard 6.3.2 d): after a business of a person insured in
several regions, the other insured provinces are told, through national.

The path, durable at every hop (each one an outbox written in the same transaction as
the change it carries, see ``federation.delivery``):

1. The settling province calls :func:`enqueue_notice` inside the write transaction of
   the settlement (or reversal): one outbox row per other insured province, each
   naming its final destination. After the commit, :func:`notify_enqueued` wakes the
   province's uplink (``node.uplink``), which delivers its outbox to national as
   ``pNN`` (a periodic scan finds the rows anyway, so a lost wake only delays).
2. National (:func:`relay_delivered`, its ``DeliverEvents``) accepts events only from a
   registered province speaking as itself, and in one transaction moves that origin's
   applied position and queues each notice in its own outbox for the destination
   (never back to the origin); its delivery then sends them like voucher events. The
   position counts in the province's outbox epoch: after the province's database was
   recreated, its new notices restart the position (``federation.delivery``).
3. The destination province stores the notice with its inbox position
   (``node.storage.provincial``); :func:`list_notices` serves ``ListNotices``.

Event: kind ``settlement.notice``, eventId ``notice:{settlement_id}:{state}``, version
1 (settled) or 2 (reversed), the notice as payloadJson, no voucher snapshot. A
reversal keeps the settled row beside it at the receiver; listings show each
settlement once, in its current state.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import settlement_service_pb2 as pb
from federation.delivery import UPLINK_LANE, log_epoch_restart
from node.domain.codes import MED_TYPES
from node.domain.regions import is_province
from node.errors import EcError, invalid
from node.storage import outbox
from node.storage.national import RelayEvent
from node.storage.provincial import NOTICE_VERSIONS, Notice
from node.wire.events import (
    NOTICE_KIND,
    inbound_from_proto,
    notice_destination,
    notice_event,
)

__all__ = ["Notice", "enqueue_notice", "notify_enqueued", "list_notices", "relay_delivered"]

log = logging.getLogger("ecnet.notice")

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200


def enqueue_notice(
    conn: sqlite3.Connection, notice: Notice, destinations: Iterable[str], now_ms: int
) -> None:
    """Inside the settling province's write transaction: queue the notice for the other
    insured provinces (two-digit codes; the caller passes them, excluding itself).
    No-op for an empty destination list.

    Raises ValueError (rolling the caller's transaction back) for a notice or a
    destination that could never be delivered. Queuing the same (settlement, state)
    again is harmless: ignored while its row is kept, and once the outbox was pruned
    the receiver's key on (settlement, state) ignores it. After the commit:
    :func:`notify_enqueued`.
    """
    dests = sorted(set(destinations) - {notice.settled_by})
    if not dests:
        return
    bad = [d for d in dests if not is_province(d)]
    if bad:
        raise ValueError(f"notice destinations must be two-digit province codes, not {bad}")
    if notice.state not in NOTICE_VERSIONS or notice.med_type not in MED_TYPES:
        raise ValueError(f"notice state {notice.state!r} / medType {notice.med_type!r} unknown")
    if not (notice.settlement_id and notice.ec_card_no and is_province(notice.settled_by)):
        raise ValueError("a notice needs settlement_id, ec_card_no and the settling province")
    for dest in dests:
        # One body per destination: it names the province national relays it to.
        outbox.enqueue(conn, notice_event(notice, dest, now_ms), [dest], now_ms, lane=UPLINK_LANE)


def notify_enqueued(node) -> None:
    """After the commit of :func:`enqueue_notice`: send at once (the uplink's periodic
    scan would find the rows anyway)."""
    uplink = getattr(node, "uplink", None)
    if uplink is not None:
        uplink.wake()


async def list_notices(
    node, id_type: str, id_no: str, limit: int = LIST_LIMIT_DEFAULT
) -> list[pb.SettlementNotice]:
    """Notices received at this provincial node for one person, newest first (each
    settlement once, in its current state: a reversal replaces the settlement)."""
    if node.config.role != "provincial":
        raise EcError(-5, "settlement notices are kept by the provincial nodes, not by national")
    limit = LIST_LIMIT_DEFAULT if limit <= 0 else min(limit, LIST_LIMIT_MAX)
    # Here, not at the top: the wire module imports the ledger, which imports this one.
    from node.settlement.wire import notice_to_proto

    return [
        notice_to_proto(r.notice, r.received_at)
        for r in await node.store.list_notices(id_type, id_no, limit)
    ]


async def relay_delivered(
    node, caller: str, request: fed_pb.DeliverEventsRequest
) -> fed_pb.DeliverEventsResponse:
    """National's ``DeliverEvents``: a province's notices, queued for their destinations."""
    province = caller[1:] if caller.startswith("p") else ""
    if not is_province(province):
        raise EcError(
            -4,
            f"only a province node delivers events to national (caller: {caller or 'anonymous'})",
        )
    if request.origin and request.origin != caller:
        raise EcError(-4, f"node {caller} may not deliver events as origin {request.origin!r}")
    if await node.store.get_node(province) is None:
        raise EcError(-4, f"node {caller} is not registered with national")
    relay = []
    # The whole batch is checked before anything is queued: a malformed one is refused whole.
    for e in request.events:
        if e.kind != NOTICE_KIND:
            raise invalid(
                f"national relays only {NOTICE_KIND} events, not {e.kind!r} ({e.eventId})"
            )
        notice = inbound_from_proto(e).notice
        if notice.settled_by != province:
            raise EcError(
                -4,
                f"node {caller} may not send a notice of province {notice.settled_by}'s settlement",
            )
        dest = notice_destination(e)
        if not is_province(dest):
            raise invalid(f"notice {e.eventId} names no destination province ({dest!r})")
        forward = fed_pb.Event()
        forward.CopyFrom(e)
        forward.ClearField("sequence")
        # Never back to its origin (the sender excludes itself; this is the second line).
        relay.append(RelayEvent(e.sequence, None if dest == province else dest, forward))
    result = await node.store.relay_events(caller, relay, node.clock.now_ms(), request.epoch)
    log_epoch_restart(caller, request, result.restarted_from, result.position)
    # After the commit: national's delivery takes them on to the destinations.
    if node.delivery is not None:
        for dest in result.destinations:
            node.delivery.wake(dest)
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
