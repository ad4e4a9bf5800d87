"""A province's voucher cache and the channel authorizations of each cached voucher
(tables ``voucher_cache`` of provincial m001 and ``channel_auths`` of m002): persons
insured here, pushed by national, and visitors, fetched from it.

A voucher snapshot replaces the cached one only when its version is newer, so an old
snapshot arriving late (or from a fetch racing a push) never overwrites a new one. A
snapshot from national (an event, ``FetchVoucher``) lists every authorization of the
voucher, each with the digest of its code, which replace the cached ones when they are
of a newer version than those cached (``auths_version``); they are kept as the keyed
hash of the digest (``code_hash``, ``node.vault``), never the code. A snapshot from
another province (a routed scan or settlement) carries no codes and leaves the
cached authorizations as they are.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "AuthRow",
    "VoucherSnapshot",
    "CachedVoucher",
    "AuthMatch",
    "q_put_voucher",
    "q_get_voucher",
    "q_authorizations_of",
    "q_get_by_code_hash",
]


@dataclass(frozen=True, slots=True)
class AuthRow:
    """An authorization: as cached (``code_hash``, the keyed hash) or as received from
    national (``code_digest``, the digest of the code that travels between nodes)."""

    code_hash: str
    channel_id: str
    channel_name: str = ""
    authorized_at: int | None = None
    revoked: bool = False
    revoked_at: int | None = None
    code_digest: str = ""


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
    conn: sqlite3.Connection,
    snap: VoucherSnapshot,
    source: str,
    now_ms: int,
    code_key: Callable[[str], str] | None = None,
) -> bool:
    """Cache ``snap`` unless the cache holds its version or a newer one. True if written.

    ``code_key`` (the node's keyed hash of a code's digest, ``NodeKeys.digest_key``):
    the snapshot's authorizations replace the cached ones when they are newer; without
    it (a snapshot from another province, which carries no codes) the cached
    authorizations stay.
    """
    row = conn.execute(
        "SELECT version, auths_version FROM voucher_cache WHERE ec_card_no = ?",
        (snap.ec_card_no,),
    ).fetchone()
    newer = row is None or row[0] < snap.version
    auths_newer = code_key is not None and (row is None or row[1] is None or row[1] < snap.version)
    if not newer and not auths_newer:
        return False
    if newer:
        regions = json.dumps(
            [{"insuOrg": o, "insuType": t} for o, t in snap.insured_regions], ensure_ascii=False
        )
        # Once pushed (national knows this province needs it), a later fetch keeps it pushed.
        conn.execute(
            "INSERT INTO voucher_cache (ec_card_no, id_type, id_no, user_name, gender, "
            "birthday, nationality, insured_regions, state, version, source, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (ec_card_no) DO UPDATE SET "
            "id_type = excluded.id_type, id_no = excluded.id_no, "
            "user_name = excluded.user_name, gender = excluded.gender, "
            "birthday = excluded.birthday, nationality = excluded.nationality, "
            "insured_regions = excluded.insured_regions, state = excluded.state, "
            "version = excluded.version, "
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
    if code_key is None or not auths_newer:
        return newer
    conn.execute(
        "UPDATE voucher_cache SET auths_version = ? WHERE ec_card_no = ?",
        (snap.version, snap.ec_card_no),
    )
    # The snapshot lists every authorization of the voucher: replace, never merge.
    conn.execute("DELETE FROM channel_auths WHERE ec_card_no = ?", (snap.ec_card_no,))
    conn.executemany(
        "INSERT OR REPLACE INTO channel_auths (code_hash, ec_card_no, channel_id, channel_name, "
        "authorized_at, revoked, revoked_at) VALUES (?,?,?,?,?,?,?)",
        [
            (
                # national's digest, or a row already in this province's keyed form
                code_key(a.code_digest) if a.code_digest else a.code_hash,
                snap.ec_card_no,
                a.channel_id,
                a.channel_name,
                a.authorized_at,
                int(a.revoked),
                a.revoked_at,
            )
            for a in snap.authorizations
            if a.code_digest or a.code_hash
        ],
    )
    return True


def q_authorizations_of(conn: sqlite3.Connection, ec_card_no: str) -> tuple[AuthRow, ...]:
    """Every cached authorization of a voucher, revoked ones too, by channel."""
    return tuple(
        AuthRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5])
        for r in conn.execute(
            "SELECT code_hash, channel_id, channel_name, authorized_at, revoked, revoked_at "
            "FROM channel_auths WHERE ec_card_no = ? ORDER BY channel_id, code_hash",
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


def q_get_by_code_hash(conn: sqlite3.Connection, code_hash: str) -> AuthMatch | None:
    """The cached voucher an authorization code belongs to (revoked ones too), found by
    the code's keyed hash, with the code's channel status (``channel_status`` of m011;
    approved when not listed)."""
    r = conn.execute(
        "SELECT a.ec_card_no, a.channel_id, a.revoked, coalesce(c.status, 'approved'), "
        "coalesce(c.reason, '') "
        "FROM channel_auths a LEFT JOIN channel_status c USING (channel_id) WHERE a.code_hash = ?",
        (code_hash,),
    ).fetchone()
    if r is None:
        return None
    voucher = q_get_voucher(conn, r[0])
    return AuthMatch(voucher, r[1], bool(r[2]), r[3], r[4]) if voucher is not None else None
