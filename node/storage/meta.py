"""The ``meta`` table of both roles (m001 of each): one text value per key.

National keeps there the population it was seeded with and the key of its voucher
numbers, sealed; a province the key of its QR check digits, sealed; both the check
value of their master key (``node.storage.secrets``, ``node.vault``). The outbox's epoch is
kept there too (:mod:`node.storage.outbox`, which reads and writes its key itself).
"""

from __future__ import annotations

import sqlite3

__all__ = ["q_meta_get", "q_meta_set", "q_meta_init"]


def q_meta_get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def q_meta_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def q_meta_init(conn: sqlite3.Connection, key: str, value: str) -> str:
    """The value of ``key``, storing ``value`` first when there is none (a key or a
    secret made once and kept: a later ``value`` never replaces it)."""
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
    stored = q_meta_get(conn, key)
    return value if stored is None else stored
