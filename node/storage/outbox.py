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
from dataclasses import dataclass
from typing import Any

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.storage.db import Database, run_script

__all__ = ["create_tables", "enqueue", "OutboxStore", "DeliveryState", "Pending"]


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


# -- delivery side (federation.delivery) ---------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliveryState:
    """One destination's row of ``delivery`` plus whether events wait beyond its cursor."""

    destination: str
    acked_seq: int
    attempts: int
    next_attempt_at: int
    last_error: str
    pending: bool


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    body: bytes


_STATE_SQL = (
    "SELECT destination, acked_seq, attempts, next_attempt_at, last_error, "
    "EXISTS (SELECT 1 FROM outbox o WHERE o.destination = d.destination AND o.seq > d.acked_seq) "
    "FROM delivery d"
)


def _q_states(conn: sqlite3.Connection) -> list[DeliveryState]:
    return [DeliveryState(*r[:5], bool(r[5])) for r in conn.execute(f"{_STATE_SQL} ORDER BY destination")]


def _q_state(conn: sqlite3.Connection, destination: str) -> DeliveryState | None:
    r = conn.execute(f"{_STATE_SQL} WHERE destination = ?", (destination,)).fetchone()
    return DeliveryState(*r[:5], bool(r[5])) if r else None


def _q_batch(conn: sqlite3.Connection, destination: str, after_seq: int, limit: int) -> list[Pending]:
    return [
        Pending(r[0], r[1])
        for r in conn.execute(
            "SELECT seq, body FROM outbox WHERE destination = ? AND seq > ? ORDER BY seq LIMIT ?",
            (destination, after_seq, limit),
        )
    ]


def _q_acked(conn: sqlite3.Connection, destination: str, applied: int, now_ms: int) -> None:
    # max(): a late or replayed answer must never move the cursor backwards.
    conn.execute(
        "UPDATE delivery SET acked_seq = max(acked_seq, ?), attempts = 0, next_attempt_at = 0, "
        "last_error = '', last_delivered_at = ? WHERE destination = ?",
        (applied, now_ms, destination),
    )


def _q_failed(
    conn: sqlite3.Connection, destination: str, attempts: int, next_attempt_at: int, error: str
) -> None:
    conn.execute(
        "UPDATE delivery SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE destination = ?",
        (attempts, next_attempt_at, error[:500], destination),
    )


def _q_reset_backoff(conn: sqlite3.Connection, destination: str) -> None:
    conn.execute(
        "UPDATE delivery SET attempts = 0, next_attempt_at = 0 WHERE destination = ?", (destination,)
    )


def _q_last_seq(conn: sqlite3.Connection, destination: str) -> int:
    return conn.execute(
        "SELECT coalesce(max(seq), 0) FROM outbox WHERE destination = ?", (destination,)
    ).fetchone()[0]


def _q_pending_counts(conn: sqlite3.Connection) -> dict[str, int]:
    # One indexed range count per destination over outbox_by_destination (destination, seq).
    return {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT d.destination, (SELECT count(*) FROM outbox o "
            "WHERE o.destination = d.destination AND o.seq > d.acked_seq) FROM delivery d"
        )
    }


class OutboxStore:
    """Coroutine access to the outbox and the delivery cursors of a national database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def states(self) -> list[DeliveryState]:
        return await self.db.read(_q_states)

    async def state(self, destination: str) -> DeliveryState | None:
        return await self.db.read(_q_state, destination)

    async def batch(self, destination: str, after_seq: int, limit: int) -> list[Pending]:
        """Up to ``limit`` events for ``destination`` after ``after_seq``, in seq order."""
        return await self.db.read(_q_batch, destination, after_seq, limit)

    async def acked(self, destination: str, applied: int, now_ms: int) -> None:
        await self.db.write(_q_acked, destination, applied, now_ms)

    async def failed(self, destination: str, attempts: int, next_attempt_at: int, error: str) -> None:
        await self.db.write(_q_failed, destination, attempts, next_attempt_at, error)

    async def reset_backoff(self, destination: str) -> None:
        await self.db.write(_q_reset_backoff, destination)

    async def last_seq(self, destination: str) -> int:
        """The newest outbox position queued for ``destination`` (0 if none)."""
        return await self.db.read(_q_last_seq, destination)

    async def pending_counts(self) -> dict[str, int]:
        """Events beyond each destination's acknowledged position."""
        return await self.db.read(_q_pending_counts)
