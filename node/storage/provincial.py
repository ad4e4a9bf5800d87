"""A provincial node's storage: the voucher cache and its channel authorizations, the
inbox of events delivered by national (and, in later migrations, codes, tokens and the
settlement ledger). All SQL of the provincial role lives here, but for the issue of
QR codes (``node/storage/qrcodes.py``).

Applying delivered events (``apply_events``) is idempotent, in one transaction per batch:

* ``inbox_position`` holds, per origin, the highest outbox seq applied and the epoch
  of the sender's outbox it counts in (m007). The sender sends in seq order and only
  after an answer, so an event at or below it is a duplicate, within that epoch. A
  batch of another epoch (the sender's database was recreated: its seqs restart at 1)
  restarts the position at 0 and is taken as new; the two lines below still apply to
  it. A batch without an epoch (an older sender) is checked as it always was.
* ``inbox_events`` records each applied event id, so an event queued again under a new
  seq is still applied once. The position already rejects every older duplicate, so
  ids are kept only for ``EVENT_ID_RETENTION_MS`` (pruned as batches arrive).
* A voucher snapshot replaces the cached one only when its version is newer, so an old
  snapshot arriving late (or from a fetch racing a push) never overwrites a new one.
* A settlement notice (``settlement.notice``, 6.3.2 d: another insured province of the
  person settled or reversed) is stored in ``settlement_notices``, one row per
  (settlement, state): a reversal keeps the settled row beside it, and the current
  state of a settlement is its row of highest ``version`` (settled 1, reversed 2).
* A channel's status (``channel.status``, national's channel control) is kept in
  ``channel_status`` when its version is newer; a channel not listed there is approved.

The province's own outbox (m006, the tables of ``node.storage.outbox``) holds the
notices this province sends to the other insured provinces of a person, through national.
The schema is :mod:`node.storage.migrations.provincial`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from node.storage import outbox
from node.storage.batch import WriteBatcher
from node.storage.db import RoleStore
from node.storage.migrations.provincial import MIGRATIONS

__all__ = [
    "ProvincialStore",
    "MIGRATIONS",
    "AuthRow",
    "VoucherSnapshot",
    "InboundEvent",
    "ChannelStatus",
    "Notice",
    "ReceivedNotice",
    "ApplyResult",
    "CachedVoucher",
    "AuthMatch",
    "EVENT_ID_RETENTION_MS",
    "NOTICE_VERSIONS",
]


def _q_meta_init(conn: sqlite3.Connection, key: str, value: str) -> str:
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
    return conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]


EVENT_ID_RETENTION_MS = 7 * 24 * 3600 * 1000


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
class Notice:
    """A settlement (or its reversal) of a person insured in several regions, as told to
    the person's other insured provinces (6.3.2 d). Amounts in fen; times in ms.
    Re-exported by ``node.settlement.notice``, where it is queued and listed."""

    settlement_id: str
    ec_card_no: str
    id_type: str
    id_no: str
    insu_org: str  # the insured region whose fund settled
    settled_by: str  # two-digit province code of the settling province
    med_type: str  # "outpatient" | "inpatient" | "pharmacy"
    fee_sumamt: int
    fund_pay: int
    psn_acct_pay: int
    own_pay_amt: int
    state: str  # "settled" | "reversed"
    at_ms: int  # when it was settled / reversed


@dataclass(frozen=True, slots=True)
class ReceivedNotice:
    notice: Notice
    received_at: int


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel's status as national's management center set it (version: its order)."""

    channel_id: str
    status: str  # "approved" or "suspended"
    reason: str
    version: int


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A delivered event: a voucher snapshot, (``settlement.notice``) a notice, or
    (``channel.status``) a channel's status."""

    event_id: str
    seq: int
    kind: str
    voucher: VoucherSnapshot | None = None
    notice: Notice | None = None
    channel: ChannelStatus | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    position: int  # the origin's applied position after the batch (in the batch's epoch)
    applied: int  # events whose snapshot changed the cache
    stale: int  # new events whose snapshot was older than the cache (recorded, not applied)
    duplicates: int  # events already applied (by position or by id)
    # The origin's previous outbox epoch when this batch started a new one (the position
    # restarted), else "".
    restarted_from: str = ""


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


# -- writes --------------------------------------------------------------------------
def _put_snapshot(
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
        "gender = excluded.gender, birthday = excluded.birthday, nationality = excluded.nationality, "
        "insured_regions = excluded.insured_regions, state = excluded.state, version = excluded.version, "
        "source = CASE WHEN voucher_cache.source = 'pushed' THEN 'pushed' ELSE excluded.source END, "
        "updated_at = excluded.updated_at",
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


# A notice event's version: a reversal supersedes the settlement.
NOTICE_VERSIONS = {"settled": 1, "reversed": 2}


def _put_notice(conn: sqlite3.Connection, n: Notice, now_ms: int) -> bool:
    """Store a received notice unless this (settlement, state) is already here."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO settlement_notices (settlement_id, state, version, ec_card_no, id_type, "
        "id_no, insu_org, settled_by, med_type, fee_sumamt, fund_pay, psn_acct_pay, own_pay_amt, "
        "at_ms, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            n.settlement_id,
            n.state,
            NOTICE_VERSIONS[n.state],
            n.ec_card_no,
            n.id_type,
            n.id_no,
            n.insu_org,
            n.settled_by,
            n.med_type,
            n.fee_sumamt,
            n.fund_pay,
            n.psn_acct_pay,
            n.own_pay_amt,
            n.at_ms,
            now_ms,
        ),
    )
    return cur.rowcount == 1


_q_position = outbox.q_inbox_position


def _q_apply_events(
    conn: sqlite3.Connection,
    origin: str,
    events: Sequence[InboundEvent],
    now_ms: int,
    epoch: str = "",
) -> ApplyResult:
    # The position counts in the origin's outbox epoch: another epoch than the stored
    # one means the sender's outbox started over, so the position restarts at 0 (the
    # batch is new) while inbox_events and the voucher version still drop a repeat; an
    # empty epoch (an older sender) is checked against the stored position as it is.
    position, restarted_from = outbox.q_inbox_start(conn, origin, epoch)
    applied = stale = duplicates = 0
    for ev in sorted(events, key=lambda e: e.seq):
        if ev.seq <= position:
            duplicates += 1
            continue
        position = ev.seq
        cur = conn.execute(
            "INSERT OR IGNORE INTO inbox_events (event_id, origin, seq, applied_at) VALUES (?,?,?,?)",
            (ev.event_id, origin, ev.seq, now_ms),
        )
        if cur.rowcount == 0:
            duplicates += 1
        elif ev.notice is not None:
            if _put_notice(conn, ev.notice, now_ms):
                applied += 1
            else:
                duplicates += 1
        elif ev.channel is not None:
            if _put_channel_status(conn, ev.channel, now_ms):
                applied += 1
            else:
                stale += 1
        elif ev.voucher is not None and _put_snapshot(conn, ev.voucher, "pushed", now_ms):
            applied += 1
        else:
            stale += 1
    outbox.q_advance_inbox_position(conn, origin, position, epoch, restarted=bool(restarted_from))
    conn.execute("DELETE FROM inbox_events WHERE applied_at < ?", (now_ms - EVENT_ID_RETENTION_MS,))
    return ApplyResult(position, applied, stale, duplicates, restarted_from)


# -- reads ---------------------------------------------------------------------------
_VOUCHER_COLS = (
    "ec_card_no, state, user_name, id_type, id_no, gender, birthday, nationality, "
    "insured_regions, version, source, updated_at"
)


def _auths_of(conn: sqlite3.Connection, ec_card_no: str) -> tuple[AuthRow, ...]:
    return tuple(
        AuthRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5])
        for r in conn.execute(
            "SELECT auth_code, channel_id, channel_name, authorized_at, revoked, revoked_at "
            "FROM channel_auths WHERE ec_card_no = ? ORDER BY channel_id, auth_code",
            (ec_card_no,),
        )
    )


def _q_get_voucher(conn: sqlite3.Connection, ec_card_no: str) -> CachedVoucher | None:
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
        _auths_of(conn, ec_card_no),
    )


def _q_get_by_auth_code(conn: sqlite3.Connection, auth_code: str) -> AuthMatch | None:
    r = conn.execute(
        "SELECT a.ec_card_no, a.channel_id, a.revoked, coalesce(c.status, 'approved'), coalesce(c.reason, '') "
        "FROM channel_auths a LEFT JOIN channel_status c USING (channel_id) WHERE a.auth_code = ?",
        (auth_code,),
    ).fetchone()
    if r is None:
        return None
    voucher = _q_get_voucher(conn, r[0])
    return AuthMatch(voucher, r[1], bool(r[2]), r[3], r[4]) if voucher is not None else None


def _put_channel_status(conn: sqlite3.Connection, c: ChannelStatus, now_ms: int) -> bool:
    """Keep ``c`` unless this province holds its version or a newer one. True if written."""
    cur = conn.execute(
        "INSERT INTO channel_status (channel_id, status, reason, version, updated_at) VALUES (?,?,?,?,?) "
        "ON CONFLICT (channel_id) DO UPDATE SET status = excluded.status, reason = excluded.reason, "
        "version = excluded.version, updated_at = excluded.updated_at WHERE excluded.version > channel_status.version",
        (c.channel_id, c.status, c.reason, c.version, now_ms),
    )
    return cur.rowcount > 0


def _q_list_notices(
    conn: sqlite3.Connection, id_type: str, id_no: str, limit: int
) -> list[ReceivedNotice]:
    # The current state of each settlement: its row of highest version; newest first.
    rows = conn.execute(
        "SELECT settlement_id, ec_card_no, id_type, id_no, insu_org, settled_by, med_type, fee_sumamt, "
        "fund_pay, psn_acct_pay, own_pay_amt, state, at_ms, received_at FROM settlement_notices n "
        "WHERE id_type = ? AND id_no = ? AND NOT EXISTS (SELECT 1 FROM settlement_notices m "
        "WHERE m.settlement_id = n.settlement_id AND m.version > n.version) "
        "ORDER BY at_ms DESC, settlement_id LIMIT ?",
        (id_type, id_no, limit),
    )
    return [ReceivedNotice(Notice(*r[:13]), r[13]) for r in rows]


COUNTED_TABLES = (
    "voucher_cache",
    "channel_auths",
    "settlements",
    "settlement_notices",
    "outbox_parked",
)


class ProvincialStore(RoleStore):
    """Coroutine access to a provincial database."""

    MIGRATIONS = MIGRATIONS
    COUNTED_TABLES = COUNTED_TABLES

    def __init__(self, path, synchronous: str = "NORMAL") -> None:
        super().__init__(path, synchronous)
        self._unsynced: WriteBatcher | None = None

    @property
    def unsynced(self) -> WriteBatcher:
        """The province's writes whose loss in a power failure costs a repeat and moves
        no money (a scan's claim and token, a QR code): on the loop's thread when
        SQLite's lock is free, not synced (node.storage.batch). One per database, so
        they share one connection and one checkpoint schedule."""
        if self._unsynced is None:
            self._unsynced = WriteBatcher(self.db, inline=True, synced=False)
        return self._unsynced

    async def close(self) -> None:
        if self._unsynced is not None:
            await self._unsynced.close()
        await super().close()

    async def apply_events(
        self, origin: str, events: Sequence[InboundEvent], now_ms: int, epoch: str = ""
    ) -> ApplyResult:
        """Apply a batch delivered from ``origin``'s outbox ``epoch`` in one transaction
        (idempotent; see the module docstring)."""
        return await self.db.write(_q_apply_events, origin, list(events), now_ms, epoch)

    async def put_voucher(self, snapshot: VoucherSnapshot, source: str, now_ms: int) -> bool:
        """Cache a snapshot (e.g. ``'fetched'`` for a visitor) unless a newer one is cached."""
        return await self.db.write(_put_snapshot, snapshot, source, now_ms)

    async def list_notices(self, id_type: str, id_no: str, limit: int) -> list[ReceivedNotice]:
        """Settlement notices received for one person: each settlement's current state."""
        return await self.db.read(_q_list_notices, id_type, id_no, limit)

    async def load_applied_position(self, origin: str = "national") -> int:
        """The highest outbox seq of ``origin`` applied here."""
        return await self.db.read(_q_position, origin)

    async def get_voucher(self, ec_card_no: str) -> CachedVoucher | None:
        return await self.db.read(_q_get_voucher, ec_card_no)

    async def secret(self, name: str, fresh_hex: str) -> bytes:
        """A per-province secret kept in ``meta`` (e.g. ``qr_key``, the key of the QR
        check digits): ``fresh_hex`` is stored the first time and never replaced."""
        return bytes.fromhex(await self.db.write(_q_meta_init, name, fresh_hex))

    async def get_by_auth_code(self, auth_code: str) -> AuthMatch | None:
        """The cached voucher a channel authorization code belongs to (revoked ones too)."""
        return await self.db.read(_q_get_by_auth_code, auth_code)

    def get_by_auth_code_now(self, auth_code: str) -> AuthMatch | None:
        """:meth:`get_by_auth_code` on the loop's thread (``Database.read_now``)."""
        return self.db.read_now(_q_get_by_auth_code, auth_code)
