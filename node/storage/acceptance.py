"""The acceptance SQL of a provincial node: claiming QR codes, ecTokens, terminals.

Functions on a connection, run inside the caller's transaction through
``store.db.read`` / ``store.db.write`` (the tables come from ``m003_acceptance`` of
:mod:`node.storage.migrations.provincial`). The voucher cache itself is read and
written with the functions of :mod:`node.storage.provincial.vouchers`, re-exported here
so that a claim, the voucher it resolves to and the token issued for it can share one
transaction.

Claiming is the one-business rule of standard 4.11: a single ``UPDATE … WHERE state =
'live' AND expires_at > now`` moves a code to ``used``. Writes run on the node's one
writer thread inside ``BEGIN IMMEDIATE``, and the ``WHERE`` is the guard besides, so of
any number of concurrent scans exactly one sees ``rowcount == 1``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from node.storage.provincial.vouchers import (
    CachedVoucher,
    q_authorizations_of,
    q_get_voucher,
    q_put_voucher,
)

__all__ = [
    "Claim",
    "TokenRow",
    "TerminalRow",
    "q_claim_code",
    "q_insert_token",
    "q_get_token",
    "q_cached_version",
    "q_load_terminals",
    "q_replace_terminals",
    "q_get_voucher",
    "q_put_voucher",
]


# -- codes ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Claim:
    """What a scan found. ``status`` is ``claimed`` (this scan consumed the code),
    ``missing``, ``used``, ``replaced`` or ``expired``; the row fields are empty for
    ``missing``. ``voucher`` and the code's authorization come with a claimed code."""

    status: str
    ec_card_no: str = ""
    code_hash: str = ""
    channel_id: str = ""
    insu_org: str = ""
    voucher_version: int = 0
    expires_at: int = 0
    used_at: int | None = None
    voucher: CachedVoucher | None = None
    # The code's channel authorization as cached: None when the cache lacks it.
    auth_revoked: bool | None = None


_CODE_COLS = "ec_card_no, code_hash, channel_id, insu_org, voucher_version, expires_at, used_at"

# The cached voucher and the code's authorization in one read (the lean form of a claim).
_VOUCHER_AND_AUTH = (
    "SELECT v.ec_card_no, v.state, v.user_name, v.id_type, v.id_no, v.gender, v.birthday, "
    "v.nationality, v.insured_regions, v.version, v.source, v.updated_at, "
    "(SELECT revoked FROM channel_auths WHERE code_hash = ?) "
    "FROM voucher_cache v WHERE v.ec_card_no = ?"
)


def q_claim_code(
    conn: sqlite3.Connection,
    code: str,
    now_ms: int,
    used_by: str,
    with_authorizations: bool = False,
) -> Claim:
    """Consume a live, unexpired code, or say why not (inside a write transaction).

    The claimed code's voucher comes without its list of authorizations unless
    ``with_authorizations`` (a routed scan sends the whole voucher to the serving
    province); the code's own authorization is in ``auth_revoked`` either way.
    """
    row = conn.execute(
        f"UPDATE qr_codes SET state = 'used', used_at = ?, used_by = ? "
        f"WHERE code = ? AND state = 'live' AND expires_at > ? RETURNING {_CODE_COLS}",
        (now_ms, used_by, code, now_ms),
    ).fetchone()
    if row is None:
        row = conn.execute(
            f"SELECT state, {_CODE_COLS} FROM qr_codes WHERE code = ?", (code,)
        ).fetchone()
        if row is None:
            return Claim("missing")
        status = "expired" if row[0] == "live" else row[0]
        return _claim(status, row[1:])
    v = conn.execute(_VOUCHER_AND_AUTH, (row[1], row[0])).fetchone()
    if v is None:
        return _claim("claimed", row)
    regions = tuple((g["insuOrg"], g["insuType"]) for g in json.loads(v[8]))
    auths = q_authorizations_of(conn, row[0]) if with_authorizations else ()
    voucher = CachedVoucher(
        v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], regions, v[9], v[10], v[11], auths
    )
    return _claim("claimed", row, voucher, None if v[12] is None else bool(v[12]))


def _claim(
    status: str,
    r: Sequence[Any],
    voucher: CachedVoucher | None = None,
    auth_revoked: bool | None = None,
) -> Claim:
    """A :class:`Claim` from the columns ``_CODE_COLS`` of a code's row."""
    return Claim(status, r[0], r[1], r[2], r[3], r[4], r[5], r[6], voucher, auth_revoked)


# -- tokens --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TokenRow:
    token: str
    ec_card_no: str
    org_id: str
    business_type: str
    insu_org: str
    id_type: str
    id_no: str
    user_name: str
    issued_at: int
    expires_at: int
    settled_at: int | None = None


_TOKEN_COLS = (
    "token, ec_card_no, org_id, business_type, insu_org, id_type, id_no, user_name, "
    "issued_at, expires_at, settled_at"
)


def q_insert_token(conn: sqlite3.Connection, t: TokenRow) -> None:
    conn.execute(
        f"INSERT INTO ec_tokens ({_TOKEN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            t.token,
            t.ec_card_no,
            t.org_id,
            t.business_type,
            t.insu_org,
            t.id_type,
            t.id_no,
            t.user_name,
            t.issued_at,
            t.expires_at,
            t.settled_at,
        ),
    )


def q_get_token(conn: sqlite3.Connection, token: str) -> TokenRow | None:
    row = conn.execute(f"SELECT {_TOKEN_COLS} FROM ec_tokens WHERE token = ?", (token,)).fetchone()
    return TokenRow(*row) if row is not None else None


def q_cached_version(conn: sqlite3.Connection, ec_card_no: str) -> int | None:
    """The cached version of a voucher, None when it is not cached here."""
    row = conn.execute(
        "SELECT version FROM voucher_cache WHERE ec_card_no = ?", (ec_card_no,)
    ).fetchone()
    return row[0] if row is not None else None


# -- terminals -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TerminalRow:
    terminal_id: str
    org_id: str
    org_name: str = ""
    name: str = ""
    mac: str = ""


def q_load_terminals(conn: sqlite3.Connection) -> tuple[list[TerminalRow], int | None]:
    """Every terminal copied from national, and when the copy was last made."""
    rows = [
        TerminalRow(*r)
        for r in conn.execute("SELECT terminal_id, org_id, org_name, name, mac FROM terminals")
    ]
    synced = conn.execute("SELECT max(synced_at) FROM terminals").fetchone()[0]
    return rows, synced


def q_replace_terminals(
    conn: sqlite3.Connection, terminals: Iterable[TerminalRow], now_ms: int
) -> int:
    """Make the table national's list: upsert every row, drop the ones national dropped."""
    rows = list(terminals)
    conn.executemany(
        "INSERT INTO terminals (terminal_id, org_id, org_name, name, mac, synced_at) "
        "VALUES (?,?,?,?,?,?) "
        "ON CONFLICT (terminal_id) DO UPDATE SET org_id = excluded.org_id, "
        "org_name = excluded.org_name, name = excluded.name, mac = excluded.mac, "
        "synced_at = excluded.synced_at",
        [(t.terminal_id, t.org_id, t.org_name, t.name, t.mac, now_ms) for t in rows],
    )
    keep = {t.terminal_id for t in rows}
    gone = [(r[0],) for r in conn.execute("SELECT terminal_id FROM terminals") if r[0] not in keep]
    conn.executemany("DELETE FROM terminals WHERE terminal_id = ?", gone)
    return len(rows)
