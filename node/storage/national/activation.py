"""The short-lived state of activation (standard 6.1): the serial of each step, the
liveness samples already accepted, and the idempotency keys of the voucher calls
(tables ``activation_serials``, ``liveness_seen`` and ``idempotency`` of national m003),
with the bounded prune that keeps them as large as their retention windows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "SerialRow",
    "q_insert_serial",
    "q_serial",
    "q_use_serial",
    "q_serial_attempt",
    "q_liveness_seen",
    "q_record_liveness",
    "q_idempotent_get",
    "q_idempotent_put",
    "q_prune",
]


@dataclass(frozen=True, slots=True)
class SerialRow:
    serial: str
    kind: str
    person_id: int
    channel_id: str
    parent: str | None
    identity_tag: str
    challenge: str | None
    password_hash: bytes | None
    password_salt: bytes | None
    password_iterations: int | None
    attempts: int
    created_at: int
    expires_at: int
    used_at: int | None


_SERIAL_COLS = (
    "serial, kind, person_id, channel_id, parent, identity_tag, challenge, password_hash, "
    "password_salt, password_iterations, attempts, created_at, expires_at, used_at"
)
_PRUNE_BATCH = 200


# -- serials ---------------------------------------------------------------------------
def q_insert_serial(conn: sqlite3.Connection, s: SerialRow) -> None:
    conn.execute(
        f"INSERT INTO activation_serials ({_SERIAL_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            s.serial,
            s.kind,
            s.person_id,
            s.channel_id,
            s.parent,
            s.identity_tag,
            s.challenge,
            s.password_hash,
            s.password_salt,
            s.password_iterations,
            s.attempts,
            s.created_at,
            s.expires_at,
            s.used_at,
        ),
    )


def q_serial(conn: sqlite3.Connection, serial: str) -> SerialRow | None:
    r = conn.execute(
        f"SELECT {_SERIAL_COLS} FROM activation_serials WHERE serial = ?", (serial,)
    ).fetchone()
    return SerialRow(*r) if r else None


def q_use_serial(conn: sqlite3.Connection, serial: str, now_ms: int) -> bool:
    """Mark a serial used; False when it already was (a concurrent use)."""
    cur = conn.execute(
        "UPDATE activation_serials SET used_at = ? WHERE serial = ? AND used_at IS NULL",
        (now_ms, serial),
    )
    return cur.rowcount == 1


def q_serial_attempt(conn: sqlite3.Connection, serial: str) -> int:
    """Count one failed attempt on a serial; returns the attempts so far."""
    conn.execute(
        "UPDATE activation_serials SET attempts = attempts + 1 WHERE serial = ?", (serial,)
    )
    r = conn.execute(
        "SELECT attempts FROM activation_serials WHERE serial = ?", (serial,)
    ).fetchone()
    return r[0] if r else 0


# -- liveness samples ------------------------------------------------------------------
def q_liveness_seen(conn: sqlite3.Connection, digest: bytes) -> bool:
    return (
        conn.execute("SELECT 1 FROM liveness_seen WHERE digest = ?", (digest,)).fetchone()
        is not None
    )


def q_record_liveness(conn: sqlite3.Connection, digest: bytes, now_ms: int) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO liveness_seen (digest, seen_at) VALUES (?, ?)", (digest, now_ms)
    )


# -- idempotency keys ------------------------------------------------------------------
def q_idempotent_get(
    conn: sqlite3.Connection, channel_id: str, method: str, request_id: str
) -> tuple[str, str] | None:
    """(fingerprint, result JSON) of an earlier call with this request id."""
    r = conn.execute(
        "SELECT fingerprint, result FROM idempotency WHERE channel_id = ? AND method = ? "
        "AND request_id = ?",
        (channel_id, method, request_id),
    ).fetchone()
    return (r[0], r[1]) if r else None


def q_idempotent_put(
    conn: sqlite3.Connection,
    channel_id: str,
    method: str,
    request_id: str,
    fingerprint: str,
    result: str,
    now_ms: int,
) -> None:
    conn.execute(
        "INSERT INTO idempotency (channel_id, method, request_id, fingerprint, result, created_at) "
        "VALUES (?,?,?,?,?,?)",
        (channel_id, method, request_id, fingerprint, result, now_ms),
    )


# -- retention -------------------------------------------------------------------------
def q_prune(
    conn: sqlite3.Connection, serials_before: int, seen_before: int, keys_before: int
) -> int:
    """Delete a bounded batch of expired serials, seen samples and idempotency keys.

    Called on the write path of each activation step, so the tables stay as large as
    the traffic of their retention windows, never as the history.
    """
    n = 0
    for table, column, before in (
        ("activation_serials", "expires_at", serials_before),
        ("liveness_seen", "seen_at", seen_before),
        ("idempotency", "created_at", keys_before),
    ):
        n += conn.execute(
            f"DELETE FROM {table} WHERE rowid IN "
            f"(SELECT rowid FROM {table} WHERE {column} < ? LIMIT {_PRUNE_BATCH})",
            (before,),
        ).rowcount
    return n
