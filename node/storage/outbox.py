"""The outbox: state changes waiting to be delivered to other nodes.

Every change that must reach another node is written here *in the same SQLite
transaction as the change itself* (``enqueue`` takes the writer's connection), so a
change and its delivery are committed together or not at all. ``federation.delivery``
reads it per destination, one batch in flight at a time, and records each
destination's acknowledged position and persisted, jittered backoff in ``delivery``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.storage.db import run_script

__all__ = ["create_tables", "enqueue"]


def create_tables(db: Any) -> None:
    """Migration: the outbox and the per-destination delivery state."""
    run_script(
        db,
        """
        CREATE TABLE outbox (
            -- Global and monotonic; a destination sees its events in seq order.
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            -- Two-digit province code of the receiving node.
            destination TEXT NOT NULL,
            event_id    TEXT NOT NULL,
            kind        TEXT NOT NULL,
            ec_card_no  TEXT NOT NULL,
            version     INTEGER NOT NULL,
            -- The serialized ecnet.v1.Event (its sequence field is filled at send time).
            body        BLOB NOT NULL,
            created_at  INTEGER NOT NULL,
            UNIQUE (destination, event_id)
        );
        CREATE INDEX outbox_by_destination ON outbox (destination, seq);

        CREATE TABLE delivery (
            destination       TEXT PRIMARY KEY,
            -- Highest seq the destination has acknowledged as applied.
            acked_seq         INTEGER NOT NULL DEFAULT 0,
            attempts          INTEGER NOT NULL DEFAULT 0,
            next_attempt_at   INTEGER NOT NULL DEFAULT 0,
            last_error        TEXT NOT NULL DEFAULT '',
            last_delivered_at INTEGER
        );
        """,
    )


def enqueue(conn: sqlite3.Connection, event: fed_pb.Event, destinations: Iterable[str], now_ms: int) -> int:
    """Queue ``event`` for each destination province, inside the caller's transaction.

    Returns the number of rows written. The event must carry ``eventId``, ``kind``,
    ``ecCardNo`` and ``version``; a repeat of the same event id for a destination is
    ignored, so a retried transaction cannot queue an event twice.
    """
    if not (event.eventId and event.kind and event.ecCardNo and event.version):
        raise ValueError("an outbox event needs eventId, kind, ecCardNo and version")
    body = event.SerializeToString()
    rows = [
        (dest, event.eventId, event.kind, event.ecCardNo, event.version, body, now_ms)
        for dest in sorted(set(destinations))
    ]
    cur = conn.executemany(
        "INSERT OR IGNORE INTO outbox (destination, event_id, kind, ec_card_no, version, body, created_at) "
        "VALUES (?,?,?,?,?,?,?)",
        rows,
    )
    conn.executemany("INSERT OR IGNORE INTO delivery (destination) VALUES (?)", [(r[0],) for r in rows])
    return cur.rowcount
