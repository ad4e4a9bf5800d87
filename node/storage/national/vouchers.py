"""Vouchers, their channel authorizations (个人渠道授权码) and the business-place
provinces told about each: tables ``vouchers``, ``authorizations`` (national m001, m003,
m004) and ``voucher_provinces`` (m003).

The lifecycle code in ``node/voucher/`` composes these functions into its transactions
(``NationalStore.transact``) and reads (``NationalStore.query``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "VoucherRow",
    "AuthRow",
    "q_voucher",
    "q_live_voucher",
    "q_lapsed_freezes",
    "q_put_voucher",
    "q_set_failed_attempts",
    "q_authorizations",
    "q_authorization",
    "q_active_authorization",
    "q_insert_authorization",
    "q_revoke_authorization",
    "q_revoke_all",
    "q_voucher_provinces",
    "q_add_voucher_province",
]


@dataclass(frozen=True, slots=True)
class VoucherRow:
    ec_card_no: str
    person_id: int
    state: int
    password_hash: bytes | None
    password_salt: bytes | None
    password_iterations: int | None
    failed_attempts: int
    frozen_until: int | None
    version: int
    created_at: int
    activated_at: int | None
    updated_at: int
    superseded_by: str | None


@dataclass(frozen=True, slots=True)
class AuthRow:
    """An authorization, found by the keyed hash of its code (``node.vault``); the
    digest of the code that events carry is kept sealed (``code_digest``)."""

    code_hash: str
    ec_card_no: str
    channel_id: str
    channel_name: str
    channel_kind: str
    created_at: int
    revoked_at: int | None
    code_digest: bytes | None


_VOUCHER_COLS = (
    "ec_card_no, person_id, state, password_hash, password_salt, password_iterations, "
    "failed_attempts, frozen_until, version, created_at, activated_at, updated_at, superseded_by"
)
_AUTH_SELECT = (
    "SELECT a.code_hash, a.ec_card_no, a.channel_id, c.name, c.kind, a.created_at, a.revoked_at, "
    "a.code_digest "
    "FROM authorizations a JOIN channels c ON c.channel_id = a.channel_id"
)


# -- vouchers --------------------------------------------------------------------------
def q_voucher(conn: sqlite3.Connection, ec_card_no: str) -> VoucherRow | None:
    r = conn.execute(
        f"SELECT {_VOUCHER_COLS} FROM vouchers WHERE ec_card_no = ?", (ec_card_no,)
    ).fetchone()
    return VoucherRow(*r) if r else None


def q_live_voucher(conn: sqlite3.Connection, person_id: int) -> VoucherRow | None:
    """The person's voucher that is not superseded (at most one), if any."""
    r = conn.execute(
        f"SELECT {_VOUCHER_COLS} FROM vouchers WHERE person_id = ? AND state != 4", (person_id,)
    ).fetchone()
    return VoucherRow(*r) if r else None


def q_lapsed_freezes(conn: sqlite3.Connection, now_ms: int, limit: int) -> list[VoucherRow]:
    """Frozen vouchers whose freeze is over (through the partial index of m004)."""
    return [
        VoucherRow(*r)
        for r in conn.execute(
            f"SELECT {_VOUCHER_COLS} FROM vouchers WHERE state = 3 AND frozen_until <= ? "
            "ORDER BY frozen_until LIMIT ?",
            (now_ms, limit),
        )
    ]


def q_put_voucher(conn: sqlite3.Connection, v: VoucherRow) -> None:
    """Insert or replace the whole row of a voucher."""
    conn.execute(
        f"INSERT INTO vouchers ({_VOUCHER_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (ec_card_no) DO UPDATE SET person_id = excluded.person_id, "
        "state = excluded.state, password_hash = excluded.password_hash, "
        "password_salt = excluded.password_salt, "
        "password_iterations = excluded.password_iterations, "
        "failed_attempts = excluded.failed_attempts, frozen_until = excluded.frozen_until, "
        "version = excluded.version, activated_at = excluded.activated_at, "
        "updated_at = excluded.updated_at, superseded_by = excluded.superseded_by",
        (
            v.ec_card_no,
            v.person_id,
            v.state,
            v.password_hash,
            v.password_salt,
            v.password_iterations,
            v.failed_attempts,
            v.frozen_until,
            v.version,
            v.created_at,
            v.activated_at,
            v.updated_at,
            v.superseded_by,
        ),
    )
    if v.state == 3:
        conn.execute(
            "UPDATE vouchers SET frozen_at = coalesce(frozen_at, ?) WHERE ec_card_no = ?",
            (v.updated_at, v.ec_card_no),
        )
    else:
        conn.execute("UPDATE vouchers SET frozen_at = NULL WHERE ec_card_no = ?", (v.ec_card_no,))
    if v.state == 4:
        conn.execute(
            "UPDATE vouchers SET superseded_at = coalesce(superseded_at, ?) WHERE ec_card_no = ?",
            (v.updated_at, v.ec_card_no),
        )


def q_set_failed_attempts(conn: sqlite3.Connection, ec_card_no: str, attempts: int) -> None:
    """The wrong-password counter alone (not part of the voucher data: no new version)."""
    conn.execute(
        "UPDATE vouchers SET failed_attempts = ? WHERE ec_card_no = ?", (attempts, ec_card_no)
    )


# -- authorizations --------------------------------------------------------------------
def q_authorizations(conn: sqlite3.Connection, ec_card_no: str) -> list[AuthRow]:
    """Every authorization of a voucher, revoked ones too, oldest first."""
    return [
        AuthRow(*r)
        for r in conn.execute(
            f"{_AUTH_SELECT} WHERE a.ec_card_no = ? ORDER BY a.created_at, a.rowid", (ec_card_no,)
        )
    ]


def q_authorization(conn: sqlite3.Connection, code_hash: str) -> AuthRow | None:
    r = conn.execute(f"{_AUTH_SELECT} WHERE a.code_hash = ?", (code_hash,)).fetchone()
    return AuthRow(*r) if r else None


def q_active_authorization(
    conn: sqlite3.Connection, ec_card_no: str, channel_id: str
) -> AuthRow | None:
    r = conn.execute(
        f"{_AUTH_SELECT} WHERE a.ec_card_no = ? AND a.channel_id = ? AND a.revoked_at IS NULL",
        (ec_card_no, channel_id),
    ).fetchone()
    return AuthRow(*r) if r else None


def q_insert_authorization(
    conn: sqlite3.Connection,
    code_hash: str,
    sealed_digest: bytes,
    ec_card_no: str,
    channel_id: str,
    now_ms: int,
) -> None:
    """A new authorization: the keyed hash of its code and its code's digest, sealed."""
    conn.execute(
        "INSERT INTO authorizations (code_hash, code_digest, ec_card_no, channel_id, "
        "created_at) VALUES (?,?,?,?,?)",
        (code_hash, sealed_digest, ec_card_no, channel_id, now_ms),
    )


def q_revoke_authorization(conn: sqlite3.Connection, code_hash: str, now_ms: int) -> bool:
    cur = conn.execute(
        "UPDATE authorizations SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL",
        (now_ms, code_hash),
    )
    return cur.rowcount == 1


def q_revoke_all(conn: sqlite3.Connection, ec_card_no: str, now_ms: int) -> int:
    cur = conn.execute(
        "UPDATE authorizations SET revoked_at = ? WHERE ec_card_no = ? AND revoked_at IS NULL",
        (now_ms, ec_card_no),
    )
    return cur.rowcount


# -- provinces told --------------------------------------------------------------------
def q_voucher_provinces(conn: sqlite3.Connection, ec_card_no: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT province FROM voucher_provinces WHERE ec_card_no = ?", (ec_card_no,)
        )
    }


def q_add_voucher_province(conn: sqlite3.Connection, ec_card_no: str, province: str) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO voucher_provinces (ec_card_no, province) VALUES (?, ?)",
        (ec_card_no, province),
    )
