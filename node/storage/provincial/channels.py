"""The status of each channel as national's channel control last told this province
(``channel.status`` events; table ``channel_status`` of provincial m011). A channel
not listed is approved; a status replaces the kept one only when its version is newer."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["ChannelStatus", "q_put_channel_status", "q_channel_status"]


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel's status as national's management center set it (version: its order)."""

    channel_id: str
    status: str  # "approved" or "suspended"
    reason: str
    version: int
    public_key: str = ""  # hexadecimal, 65 bytes 04||x||y (m014)
    scopes: str = ""  # comma-separated methods it may call


def q_put_channel_status(conn: sqlite3.Connection, c: ChannelStatus, now_ms: int) -> bool:
    """Keep ``c`` unless this province holds its version or a newer one. True if written."""
    cur = conn.execute(
        "INSERT INTO channel_status (channel_id, status, reason, version, updated_at, "
        "public_key, scopes) VALUES (?,?,?,?,?,?,?) "
        "ON CONFLICT (channel_id) DO UPDATE SET status = excluded.status, "
        "reason = excluded.reason, version = excluded.version, updated_at = excluded.updated_at, "
        "public_key = excluded.public_key, scopes = excluded.scopes "
        "WHERE excluded.version > channel_status.version",
        (c.channel_id, c.status, c.reason, c.version, now_ms, c.public_key, c.scopes),
    )
    return cur.rowcount > 0


def q_channel_status(conn: sqlite3.Connection, channel_id: str) -> ChannelStatus | None:
    """What national last told this province of a channel (None: nothing)."""
    r = conn.execute(
        "SELECT channel_id, status, reason, version, public_key, scopes FROM channel_status "
        "WHERE channel_id = ?",
        (channel_id,),
    ).fetchone()
    return ChannelStatus(*r) if r else None
