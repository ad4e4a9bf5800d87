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
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils.migrations import Migrations

from node.storage import outbox, qrcodes, settlement
from node.storage.batch import WriteBatcher
from node.storage.db import RoleStore, run_script

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

MIGRATIONS = Migrations("ecnet-provincial")


@MIGRATIONS()
def m001_voucher_cache(db: Any) -> None:
    """The voucher cache: persons insured here (pushed) and visitors (fetched)."""
    run_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE voucher_cache (
            ec_card_no      TEXT PRIMARY KEY,
            id_type         TEXT NOT NULL,
            id_no           TEXT NOT NULL,
            user_name       TEXT NOT NULL,
            gender          TEXT NOT NULL,
            birthday        TEXT NOT NULL,
            nationality     TEXT NOT NULL,
            -- JSON list of {insuOrg, insuType}.
            insured_regions TEXT NOT NULL,
            state           INTEGER NOT NULL,
            version         INTEGER NOT NULL,
            -- 'pushed' (insured here, delivered by national) or 'fetched' (a visitor).
            source          TEXT NOT NULL CHECK (source IN ('pushed', 'fetched')),
            updated_at      INTEGER NOT NULL
        );
        CREATE INDEX voucher_cache_by_person ON voucher_cache (id_type, id_no);
        """,
    )


@MIGRATIONS()
def m002_inbox(db: Any) -> None:
    """Delivered events: position per origin, applied event ids, channel authorizations."""
    run_script(
        db,
        """
        CREATE TABLE inbox_position (
            origin      TEXT PRIMARY KEY,
            -- Highest outbox seq of this origin applied here.
            applied_seq INTEGER NOT NULL
        );

        CREATE TABLE inbox_events (
            event_id   TEXT PRIMARY KEY,
            origin     TEXT NOT NULL,
            seq        INTEGER NOT NULL,
            applied_at INTEGER NOT NULL
        );
        CREATE INDEX inbox_events_by_time ON inbox_events (applied_at);

        -- The channel authorizations of cached vouchers (6.1.4 c), as national last sent them.
        CREATE TABLE channel_auths (
            auth_code     TEXT PRIMARY KEY,
            ec_card_no    TEXT NOT NULL,
            channel_id    TEXT NOT NULL,
            channel_name  TEXT NOT NULL DEFAULT '',
            authorized_at INTEGER,
            revoked       INTEGER NOT NULL DEFAULT 0,
            revoked_at    INTEGER
        );
        CREATE INDEX channel_auths_by_voucher ON channel_auths (ec_card_no, channel_id);
        """,
    )


# A duplicate of an older event is caught by the position; ids are the second line, for
# the same event reaching us under another seq (national's outbox already refuses a
# repeat per destination while it keeps the first row: acknowledged rows are pruned
# after the outbox retention, see node.storage.outbox). Past both, a repeat is still
# harmless: a snapshot needs a newer version, a notice a new (settlement, state).
@MIGRATIONS()
def m003_acceptance(db: Any) -> None:
    """QR codes this province issued, ecTokens it issued, the terminals it serves."""
    run_script(
        db,
        """
        -- Codes issued here (6.2). A code is good for one business: exactly one scan
        -- moves it from 'live' to 'used'; a refresh moves the previous one to 'replaced'.
        CREATE TABLE qr_codes (
            code            TEXT PRIMARY KEY,
            ec_card_no      TEXT NOT NULL,
            auth_code       TEXT NOT NULL,
            channel_id      TEXT NOT NULL,
            insu_org        TEXT NOT NULL,
            -- The voucher version the code was issued for (consistency check, 6.3.2 c).
            voucher_version INTEGER NOT NULL,
            issued_at       INTEGER NOT NULL,
            expires_at      INTEGER NOT NULL,
            state           TEXT NOT NULL CHECK (state IN ('live', 'used', 'replaced')),
            used_at         INTEGER,
            -- Terminal (20 digits) or serving province that consumed the code.
            used_by         TEXT
        );
        CREATE INDEX qr_codes_by_auth ON qr_codes (auth_code, state);
        CREATE INDEX qr_codes_by_expiry ON qr_codes (expires_at);

        -- ecTokens issued here as the serving province (6.4): bound to voucher, orgId,
        -- business type and insured region; one settlement per token.
        CREATE TABLE ec_tokens (
            token         TEXT PRIMARY KEY,
            ec_card_no    TEXT NOT NULL,
            org_id        TEXT NOT NULL,
            business_type TEXT NOT NULL,
            insu_org      TEXT NOT NULL,
            id_type       TEXT NOT NULL,
            id_no         TEXT NOT NULL,
            user_name     TEXT NOT NULL,
            issued_at     INTEGER NOT NULL,
            expires_at    INTEGER NOT NULL,
            settled_at    INTEGER
        );
        CREATE INDEX ec_tokens_by_expiry ON ec_tokens (expires_at);

        -- Terminals of this province (table 1), copied from national's registry.
        CREATE TABLE terminals (
            terminal_id TEXT PRIMARY KEY CHECK (length(terminal_id) = 20),
            org_id      TEXT NOT NULL,
            org_name    TEXT NOT NULL,
            name        TEXT NOT NULL,
            mac         TEXT NOT NULL,
            synced_at   INTEGER NOT NULL
        );
        """,
    )


# requestIds of IssueQrCode / RefreshQrCode (the SQL of issue lives in qrcodes.py).
MIGRATIONS(name="m004_qr_requests")(qrcodes.create_tables)


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


# The settlement ledger (the SQL lives in settlement.py).
MIGRATIONS(name="m005_settlement")(settlement.create_tables)


@MIGRATIONS()
def m006_settlement_notices(db: Any) -> None:
    """Settlement notices (6.3.2 d): the outbox this province sends them through (to
    national, which relays them) and the notices received from the other insured
    provinces of a person."""
    outbox.create_tables(db)
    run_script(
        db,
        """
        CREATE TABLE settlement_notices (
            settlement_id TEXT NOT NULL,
            -- 'settled' (version 1) or 'reversed' (version 2): both rows are kept.
            state         TEXT NOT NULL CHECK (state IN ('settled', 'reversed')),
            version       INTEGER NOT NULL,
            ec_card_no    TEXT NOT NULL,
            id_type       TEXT NOT NULL,
            id_no         TEXT NOT NULL,
            insu_org      TEXT NOT NULL,
            settled_by    TEXT NOT NULL,
            med_type      TEXT NOT NULL,
            fee_sumamt    INTEGER NOT NULL,
            fund_pay      INTEGER NOT NULL,
            psn_acct_pay  INTEGER NOT NULL,
            own_pay_amt   INTEGER NOT NULL,
            at_ms         INTEGER NOT NULL,
            received_at   INTEGER NOT NULL,
            PRIMARY KEY (settlement_id, state)
        );
        CREATE INDEX settlement_notices_by_person ON settlement_notices (id_type, id_no, at_ms);
        """,
    )


# The epoch of each origin's outbox that its position counts in (node.storage.outbox).
MIGRATIONS(name="m007_inbox_epoch")(outbox.add_inbox_epoch)


# Remote reversals not yet confirmed by the insured province (node.storage.settlement).
MIGRATIONS(name="m008_reversals_pending")(settlement.create_reversal_table)


# Parked outbox events and the narrowing of a refused batch (federation.delivery).
MIGRATIONS(name="m009_outbox_parking")(outbox.add_parking)


# The yearly injection into personal accounts (node.settlement.ledger).
MIGRATIONS(name="m010_account_injected_year")(settlement.add_injected_year)


@MIGRATIONS()
def m011_channel_status(db: Any) -> None:
    """The status of each channel national's management center changed (channel.status
    events): a channel not listed is approved."""
    run_script(
        db,
        """
        CREATE TABLE channel_status (
            channel_id TEXT PRIMARY KEY,
            status     TEXT NOT NULL CHECK (status IN ('approved', 'suspended')),
            reason     TEXT NOT NULL,
            version    INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        """,
    )
