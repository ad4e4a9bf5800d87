"""A province's voucher cache and the channel authorizations of each cached voucher
(tables ``voucher_cache`` of provincial m001 and ``channel_auths`` of m002): persons
insured here, pushed by national, and visitors, fetched from it.

A voucher snapshot replaces the cached one only when its version is newer, so an old
snapshot arriving late (or from a fetch racing a push) never overwrites a new one; it
lists every authorization of the voucher, which replace the cached ones.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

__all__ = [
    "AuthRow",
    "VoucherSnapshot",
    "CachedVoucher",
    "AuthMatch",
    "q_put_voucher",
    "q_get_voucher",
    "q_authorizations_of",
    "q_get_by_auth_code",
]


@dataclass(frozen=True, slots=True)
class AuthRow:
    auth_code: str
    channel_id: str
    channel_name: str = ""
    authorized_at: int | None = None
    revoked: bool = False
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class VoucherSnapshot:
    """A voucher as national sent it (``ecnet.v1.VoucherData`` without proto types)."""

    ec_card_no: str
    state: int  # ecnet.v1.VoucherState
    user_name: str
    id_type: str
    id_no: str
    gender: str
    birthday: str
    nationality: str
    insured_regions: tuple[tuple[str, str], ...]  # (insuOrg, insuType)
    version: int
    authorizations: tuple[AuthRow, ...] = ()


@dataclass(frozen=True, slots=True)
class CachedVoucher:
    ec_card_no: str
    state: int
    user_name: str
    id_type: str
    id_no: str
    gender: str
    birthday: str
    nationality: str
    insured_regions: tuple[tuple[str, str], ...]
    version: int
    source: str  # 'pushed' or 'fetched'
    updated_at: int
    authorizations: tuple[AuthRow, ...]


@dataclass(frozen=True, slots=True)
class AuthMatch:
    """The voucher an authorization code belongs to, and that code's channel (with the
    channel's status as national last told this province: approved until told else)."""

    voucher: CachedVoucher
    channel_id: str
    revoked: bool
    channel_status: str = "approved"
    channel_reason: str = ""


_VOUCHER_COLS = (
    "ec_card_no, state, user_name, id_type, id_no, gender, birthday, nationality, "
    "insured_regions, version, source, updated_at"
)


def q_put_voucher(
    conn: sqlite3.Connection, snap: VoucherSnapshot, source: str, now_ms: int
) -> bool:
    """Cache ``snap`` unless the cache holds its version or a newer one. True if written."""
    row = conn.execute(
        "SELECT version FROM voucher_cache WHERE ec_card_no = ?", (snap.ec_card_no,)
    ).fetchone()
    if row is not None and row[0] >= snap.version:
        return False
    regions = json.dumps(
        [{"insuOrg": o, "insuType": t} for o, t in snap.insured_regions], ensure_ascii=False
    )
    # Once pushed (national knows this province needs it), a later fetch keeps it pushed.
    conn.execute(
        "INSERT INTO voucher_cache (ec_card_no, id_type, id_no, user_name, gender, birthday, "
        "nationality, insured_regions, state, version, source, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (ec_card_no) DO UPDATE SET "
        "id_type = excluded.id_type, id_no = excluded.id_no, user_name = excluded.user_name, "
        "gender = excluded.gender, birthday = excluded.birthday, "
        "nationality = excluded.nationality, insured_regions = excluded.insured_regions, "
        "state = excluded.state, version = excluded.version, "
        "source = CASE WHEN voucher_cache.source = 'pushed' THEN 'pushed' "
        "ELSE excluded.source END, updated_at = excluded.updated_at",
        (
            snap.ec_card_no,
            snap.id_type,
            snap.id_no,
            snap.user_name,
            snap.gender,
            snap.birthday,
            snap.nationality,
            regions,
            snap.state,
            snap.version,
            source,
            now_ms,
        ),
    )
    # The snapshot lists every authorization of the voucher: replace, never merge.
    conn.execute("DELETE FROM channel_auths WHERE ec_card_no = ?", (snap.ec_card_no,))
    conn.executemany(
        "INSERT OR REPLACE INTO channel_auths (auth_code, ec_card_no, channel_id, channel_name, "
        "authorized_at, revoked, revoked_at) VALUES (?,?,?,?,?,?,?)",
        [
            (
                a.auth_code,
                snap.ec_card_no,
                a.channel_id,
                a.channel_name,
                a.authorized_at,
                int(a.revoked),
                a.revoked_at,
            )
            for a in snap.authorizations
            if a.auth_code
        ],
    )
    return True


def q_authorizations_of(conn: sqlite3.Connection, ec_card_no: str) -> tuple[AuthRow, ...]:
    """Every cached authorization of a voucher, revoked ones too, by channel."""
    return tuple(
        AuthRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5])
        for r in conn.execute(
            "SELECT auth_code, channel_id, channel_name, authorized_at, revoked, revoked_at "
            "FROM channel_auths WHERE ec_card_no = ? ORDER BY channel_id, auth_code",
            (ec_card_no,),
        )
    )


def q_get_voucher(conn: sqlite3.Connection, ec_card_no: str) -> CachedVoucher | None:
    r = conn.execute(
        f"SELECT {_VOUCHER_COLS} FROM voucher_cache WHERE ec_card_no = ?", (ec_card_no,)
    ).fetchone()
    if r is None:
        return None
    regions = tuple((g["insuOrg"], g["insuType"]) for g in json.loads(r["insured_regions"]))
    return CachedVoucher(
        r["ec_card_no"],
        r["state"],
        r["user_name"],
        r["id_type"],
        r["id_no"],
        r["gender"],
        r["birthday"],
        r["nationality"],
        regions,
        r["version"],
        r["source"],
        r["updated_at"],
        q_authorizations_of(conn, ec_card_no),
    )


def q_get_by_auth_code(conn: sqlite3.Connection, auth_code: str) -> AuthMatch | None:
    """The cached voucher an authorization code belongs to (revoked ones too), with the
    code's channel status (``channel_status`` of m011; approved when not listed)."""
    r = conn.execute(
        "SELECT a.ec_card_no, a.channel_id, a.revoked, coalesce(c.status, 'approved'), "
        "coalesce(c.reason, '') "
        "FROM channel_auths a LEFT JOIN channel_status c USING (channel_id) WHERE a.auth_code = ?",
        (auth_code,),
    ).fetchone()
    if r is None:
        return None
    voucher = q_get_voucher(conn, r[0])
    return AuthMatch(voucher, r[1], bool(r[2]), r[3], r[4]) if voucher is not None else None
