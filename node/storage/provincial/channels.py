"""The status of each channel as national's channel control last told this province
(``channel.status`` events; table ``channel_status`` of provincial m011). A channel
not listed is approved; a status replaces the kept one only when its version is newer.

A channel's SM4 key (m016, ``sm4_sealed``) is kept sealed with the province's vault
(``node.vault``, label :data:`SM4_LABEL`): the caller gives the sealing and opening
functions, so that no clear key reaches the database."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ChannelStatus", "SM4_LABEL", "q_put_channel_status", "q_channel_status"]

# What a channel's sealed SM4 key is sealed as (node.vault's associated data).
SM4_LABEL = "channel SM4 key"


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel's status as national's management center set it (version: its order)."""

    channel_id: str
    status: str  # "approved" or "suspended"
    reason: str
    version: int
    public_key: str = ""  # hexadecimal, 65 bytes 04||x||y (m014)
    scopes: str = ""  # comma-separated methods it may call
    # The SM4 key of its encrypted fields and envelopes (16 bytes, clear: in memory only;
    # empty when national did not send one or it was read without the opener).
    sm4_key: bytes = field(default=b"", repr=False)


def q_put_channel_status(
    conn: sqlite3.Connection,
    c: ChannelStatus,
    now_ms: int,
    seal: Callable[[bytes], bytes] | None = None,
) -> bool:
    """Keep ``c`` unless this province holds its version or a newer one, its SM4 key
    sealed with ``seal`` (required when it has one). True if written."""
    if c.sm4_key and seal is None:
        raise ValueError("a channel's SM4 key is kept sealed: give the sealing function")
    sealed = seal(c.sm4_key) if c.sm4_key and seal is not None else b""
    cur = conn.execute(
        "INSERT INTO channel_status (channel_id, status, reason, version, updated_at, "
        "public_key, scopes, sm4_sealed) VALUES (?,?,?,?,?,?,?,?) "
        "ON CONFLICT (channel_id) DO UPDATE SET status = excluded.status, "
        "reason = excluded.reason, version = excluded.version, updated_at = excluded.updated_at, "
        "public_key = excluded.public_key, scopes = excluded.scopes, "
        "sm4_sealed = excluded.sm4_sealed "
        "WHERE excluded.version > channel_status.version",
        (c.channel_id, c.status, c.reason, c.version, now_ms, c.public_key, c.scopes, sealed),
    )
    return cur.rowcount > 0


def q_channel_status(
    conn: sqlite3.Connection,
    channel_id: str,
    open_: Callable[[bytes], bytes] | None = None,
) -> ChannelStatus | None:
    """What national last told this province of a channel (None: nothing); its SM4 key
    opened with ``open_`` (without it: left out)."""
    r = conn.execute(
        "SELECT channel_id, status, reason, version, public_key, scopes, sm4_sealed "
        "FROM channel_status WHERE channel_id = ?",
        (channel_id,),
    ).fetchone()
    if r is None:
        return None
    sealed = bytes(r[6] or b"")
    key = open_(sealed) if sealed and open_ is not None else b""
    return ChannelStatus(r[0], r[1], r[2], r[3], r[4], r[5], key)
