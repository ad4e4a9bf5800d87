"""The status of each channel as national's channel control last told this province
(``channel.status`` events; table ``channel_status`` of provincial m011). A channel
not listed is approved; a status replaces the kept one only when its version is newer."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["ChannelStatus", "q_put_channel_status"]


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel's status as national's management center set it (version: its order)."""

    channel_id: str
    status: str  # "approved" or "suspended"
    reason: str
    version: int


def q_put_channel_status(conn: sqlite3.Connection, c: ChannelStatus, now_ms: int) -> bool:
    """Keep ``c`` unless this province holds its version or a newer one. True if written."""
    cur = conn.execute(
        "INSERT INTO channel_status (channel_id, status, reason, version, updated_at) "
        "VALUES (?,?,?,?,?) "
        "ON CONFLICT (channel_id) DO UPDATE SET status = excluded.status, "
        "reason = excluded.reason, version = excluded.version, updated_at = excluded.updated_at "
        "WHERE excluded.version > channel_status.version",
        (c.channel_id, c.status, c.reason, c.version, now_ms),
    )
    return cur.rowcount > 0
