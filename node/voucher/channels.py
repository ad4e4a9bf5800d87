"""Channel control at national (渠道管理, standard 4.3 and the management center's
"渠道权限控制"): the management center suspends a third-party channel, or approves it
again.

A suspension takes effect at national in the transaction that records it: activation,
authorization and a province's voucher fetch check the calling channel
(``check_channel``: -4). The provinces answer QR display from their own cache, so the
change also goes to every province as a ``channel.status`` event through national's
outbox (``node.wire.events.channel_event``), in the same transaction; a province that
is down gets it when it is back, like any delivered event. A province refuses the
suspended channel's QR display once the event is applied (``node.qr.issuer``: -4).
Codes displayed before live out their minute.

The official NHSA channel cannot be suspended. Setting the status a channel already
has, with the same reason, changes nothing and sends nothing.
"""

from __future__ import annotations

import dataclasses
import sqlite3

from node.domain.regions import PROVINCES
from node.errors import EcError, Problems, invalid
from node.storage import national as q
from node.storage import outbox
from node.storage.national import ChannelRow
from node.voucher.context import Lifecycle
from node.voucher.model import OFFICIAL
from node.wire.events import CHANNEL_STATUSES, channel_event

__all__ = ["set_channel_status", "announce_channels", "MAX_REASON"]

MAX_REASON = 200


async def set_channel_status(
    lc: Lifecycle, channel_id: str, status: str, reason: str
) -> tuple[ChannelRow, bool]:
    """The channel after the change, and whether anything changed."""
    channel_id, reason = channel_id.strip(), reason.strip()
    p = Problems()
    p.require("channelId", channel_id)
    statuses = ", ".join(CHANNEL_STATUSES)
    if p.require("status", status, hint=f"one of {statuses}") and status not in CHANNEL_STATUSES:
        p.wrong("status", f"must be one of {statuses}, not {status!r}")
    if len(reason) > MAX_REASON:
        p.wrong("reason", f"must be at most {MAX_REASON} characters")
    p.check()

    def tx(conn: sqlite3.Connection) -> tuple[ChannelRow, bool]:
        channel = q.q_channel(conn, channel_id)
        if channel is None:
            raise EcError(
                500012, f"channel {channel_id!r} is not registered with the national platform"
            )
        if channel.kind == OFFICIAL and status != "approved":
            raise invalid(
                f"{channel_id} is the official NHSA channel: it cannot be suspended", field="status"
            )
        if (channel.status, channel.status_reason) == (status, reason):
            return channel, False
        now = lc.now_ms()
        row = dataclasses.replace(
            channel,
            status=status,
            status_reason=reason,
            status_version=channel.status_version + 1,
            status_changed_at=now,
        )
        q.q_set_channel_status(conn, row)
        _announce(conn, lc, row, now)
        return row, True

    result = await lc.store.transact(tx)
    if result[1]:
        lc.wake()
    return result


def _announce(conn: sqlite3.Connection, lc: Lifecycle, row: ChannelRow, now: int) -> None:
    """Tell every province a channel's record (status, key, scopes), in ``conn``'s
    transaction."""
    event = channel_event(
        row.channel_id,
        row.status,
        row.status_reason,
        row.status_version,
        now,
        row.public_key,
        row.scopes,
    )
    outbox.enqueue(conn, lc.signer.sign(event), PROVINCES, now)
    q.q_mark_announced(conn, row.channel_id, row.status_version)


async def announce_channels(lc: Lifecycle) -> int:
    """At national's start: tell the provinces every channel record they were not told
    (seeded channels, a key changed by seeding again). How many."""

    def tx(conn: sqlite3.Connection) -> int:
        rows = q.q_unannounced_channels(conn)
        now = lc.now_ms()
        for row in rows:
            _announce(conn, lc, row, now)
        return len(rows)

    n = await lc.store.transact(tx)
    if n:
        lc.wake()
    return n
