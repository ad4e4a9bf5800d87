"""Settlement notices (standard 6.3.2 d): after a business of a person insured in
several regions, the other insured provinces are told, through national.

The path, durable at every hop (each one an outbox written in the same transaction as
the change it carries, see ``federation.delivery``):

1. The settling province calls :func:`enqueue_notice` inside the write transaction of
   the settlement (or reversal): one outbox row per other insured province, each
   naming its final destination. After the commit the settlement wakes the province's
   uplink (``federation.delivery.uplink``), which delivers its outbox to national as
   ``pNN`` (a periodic scan finds the rows anyway, so a lost wake only delays).
2. National (``federation.relay``, its ``DeliverEvents``) accepts events only from a
   registered province speaking as itself, and in one transaction moves that origin's
   applied position and queues each notice in its own outbox for the destination
   (never back to the origin); its delivery then sends them like voucher events. The
   position counts in the province's outbox epoch: after the province's database was
   recreated, its new notices restart the position (``federation.delivery``).
3. The destination province stores the notice with its inbox position
   (``federation.inbox``, ``node.storage.provincial``); :func:`list_notices` serves
   ``ListNotices``.

Event: kind ``settlement.notice``, eventId ``notice:{settlement_id}:{state}``, version
1 (settled) or 2 (reversed), the notice as payloadJson, no voucher snapshot. A
reversal keeps the settled row beside it at the receiver; listings show each
settlement once, in its current state.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from node.domain.codes import MED_TYPES
from node.domain.regions import is_province
from node.storage import outbox
from node.storage.outbox import UPLINK_LANE
from node.storage.provincial import NOTICE_VERSIONS, Notice, ProvincialStore, ReceivedNotice
from node.wire.events import notice_event
from node.wire.signing import EventSigner

__all__ = ["Notice", "Outgoing", "enqueue_notice", "list_notices"]

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200


@dataclass
class Outgoing:
    """What a write transaction queues for the uplink: its notices are signed with
    ``signer`` (the province's key, ``node.wire.signing``) and their destinations
    collected in ``destinations``, so that the caller wakes the uplink after the commit."""

    signer: EventSigner
    destinations: list[str] = field(default_factory=list)


def enqueue_notice(
    conn: sqlite3.Connection,
    notice: Notice,
    destinations: Iterable[str],
    now_ms: int,
    signer: EventSigner,
) -> None:
    """Inside the settling province's write transaction: queue the notice for the other
    insured provinces (two-digit codes; the caller passes them, excluding itself).
    No-op for an empty destination list.

    Raises ValueError (rolling the caller's transaction back) for a notice or a
    destination that could never be delivered. Queuing the same (settlement, state)
    again is harmless: ignored while its row is kept, and once the outbox was pruned
    the receiver's key on (settlement, state) ignores it. Each event is signed by this
    province (``signer``) once, here. After the commit: :func:`notify_enqueued`.
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
        event = signer.sign(notice_event(notice, dest, now_ms))
        outbox.enqueue(conn, event, [dest], now_ms, lane=UPLINK_LANE)


async def list_notices(
    store: ProvincialStore, id_type: str, id_no: str, limit: int = LIST_LIMIT_DEFAULT
) -> list[ReceivedNotice]:
    """Notices received at this provincial node for one person, newest first (each
    settlement once, in its current state: a reversal replaces the settlement)."""
    limit = LIST_LIMIT_DEFAULT if limit <= 0 else min(limit, LIST_LIMIT_MAX)
    return await store.list_notices(id_type, id_no, limit)
