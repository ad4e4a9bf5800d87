"""The management console's operators and sessions at national (``console_operators``,
``console_sessions``: :func:`node.storage.migrations.national.m015_console`).

What is kept is decided in :mod:`node.console.passwords`: a password's scrypt hash and
its salt, an administrator's TOTP secret sealed under the node's key; a session by the
SM3 digest of its random id, so that a copy of the database opens no session.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "OperatorRow",
    "SessionRow",
    "q_operator",
    "q_operator_put",
    "q_operator_remove",
    "q_password_set",
    "q_login_failed",
    "q_login_ok",
    "q_totp_claim",
    "q_session_add",
    "q_session",
    "q_session_end",
]

_OPERATOR = (
    "name, duty, pw_salt, pw_hash, must_change, totp_sealed, failures, locked_until, changed_at"
)


@dataclass(frozen=True, slots=True)
class OperatorRow:
    name: str
    duty: str
    pw_salt: bytes
    pw_hash: bytes
    must_change: bool
    totp_sealed: bytes | None
    failures: int
    locked_until: int  # ms since the epoch; 0: not locked
    changed_at: int


@dataclass(frozen=True, slots=True)
class SessionRow:
    name: str
    csrf: str
    created_at: int
    expires_at: int


def q_operator(conn: sqlite3.Connection, name: str) -> OperatorRow | None:
    row = conn.execute(
        f"SELECT {_OPERATOR} FROM console_operators WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    return OperatorRow(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8])


def q_operator_put(
    conn: sqlite3.Connection,
    name: str,
    duty: str,
    salt: bytes,
    digest: bytes,
    totp_sealed: bytes | None,
    now_ms: int,
) -> None:
    """An operator with a one-time password (to be changed at the first login): a new
    one, or one given a new one-time password (its sessions end, its lock is lifted)."""
    conn.execute(
        "INSERT INTO console_operators (name, duty, pw_salt, pw_hash, must_change, "
        "totp_sealed, failures, locked_until, changed_at) VALUES (?, ?, ?, ?, 1, ?, 0, 0, ?) "
        "ON CONFLICT (name) DO UPDATE SET duty = excluded.duty, pw_salt = excluded.pw_salt, "
        "pw_hash = excluded.pw_hash, must_change = 1, totp_sealed = excluded.totp_sealed, "
        "failures = 0, locked_until = 0, changed_at = excluded.changed_at",
        (name, duty, salt, digest, totp_sealed, now_ms),
    )
    conn.execute("DELETE FROM console_sessions WHERE name = ?", (name,))


def q_operator_remove(conn: sqlite3.Connection, name: str) -> bool:
    """Remove an operator and its sessions; whether there was one."""
    conn.execute("DELETE FROM console_sessions WHERE name = ?", (name,))
    return conn.execute("DELETE FROM console_operators WHERE name = ?", (name,)).rowcount > 0


def q_password_set(
    conn: sqlite3.Connection, name: str, salt: bytes, digest: bytes, now_ms: int, keep: str
) -> None:
    """The operator's own new password; every other session of it ends (``keep``: the
    digest of the session that changed it)."""
    conn.execute(
        "UPDATE console_operators SET pw_salt = ?, pw_hash = ?, must_change = 0, "
        "changed_at = ? WHERE name = ?",
        (salt, digest, now_ms, name),
    )
    conn.execute("DELETE FROM console_sessions WHERE name = ? AND id_digest != ?", (name, keep))


def q_login_failed(
    conn: sqlite3.Connection, name: str, limit: int, lock_until_ms: int
) -> tuple[int, bool]:
    """Count a wrong password (or code); at ``limit`` the account is locked until
    ``lock_until_ms`` and the count starts again. The count after, and whether it locked."""
    row = conn.execute("SELECT failures FROM console_operators WHERE name = ?", (name,)).fetchone()
    if row is None:
        return 0, False
    failures = row[0] + 1
    locked = failures >= limit
    conn.execute(
        "UPDATE console_operators SET failures = ?, locked_until = CASE WHEN ? = 1 THEN ? "
        "ELSE locked_until END WHERE name = ?",
        (0 if locked else failures, locked, lock_until_ms, name),
    )
    return failures, locked


def q_login_ok(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(
        "UPDATE console_operators SET failures = 0, locked_until = 0 WHERE name = ?", (name,)
    )


def q_totp_claim(conn: sqlite3.Connection, name: str, step: int) -> bool:
    """Record ``step`` as the last TOTP time-step ``name`` used, if it is after the last
    one recorded; False (nothing changed) if it is not: the code was used already, or an
    older one is presented after a newer (m016)."""
    return (
        conn.execute(
            "UPDATE console_operators SET totp_step = ? WHERE name = ? AND totp_step < ?",
            (step, name, step),
        ).rowcount
        == 1
    )


def q_session_add(
    conn: sqlite3.Connection, id_digest: str, name: str, csrf: str, now_ms: int, expires_ms: int
) -> None:
    """A new session; the expired sessions of everyone are removed."""
    conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (now_ms,))
    conn.execute(
        "INSERT INTO console_sessions (id_digest, name, csrf, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (id_digest, name, csrf, now_ms, expires_ms),
    )


def q_session(conn: sqlite3.Connection, id_digest: str) -> SessionRow | None:
    row = conn.execute(
        "SELECT name, csrf, created_at, expires_at FROM console_sessions WHERE id_digest = ?",
        (id_digest,),
    ).fetchone()
    return None if row is None else SessionRow(row[0], row[1], row[2], row[3])


def q_session_end(conn: sqlite3.Connection, id_digest: str) -> None:
    conn.execute("DELETE FROM console_sessions WHERE id_digest = ?", (id_digest,))
