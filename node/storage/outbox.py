"""The outbox: state changes waiting to be delivered to other nodes.

Tables ``outbox``, ``delivery`` and ``outbox_parked``, and each receiver's
``inbox_position``, created by both roles' migrations through
:mod:`node.storage.migrations.shared`.

Every change that must reach another node is written here *in the same SQLite
transaction as the change itself* (``enqueue`` takes the writer's connection), so a
change and its delivery are committed together or not at all. ``federation.delivery``
reads it one batch in flight at a time and records the acknowledged position and the
persisted, jittered backoff of each delivery lane in ``delivery``.

A row always names its final destination province. National sends each destination
its own rows directly: one lane per destination (``OutboxStore(db)``). A province has
one next hop, national, which relays to the final destinations (settlement notices,
6.3.2 d): its whole outbox is a single lane (``OutboxStore(db, lane="national")``,
rows queued with ``enqueue(..., lane="national")``), so the positions national sees
from that province only grow.

Pruning (``OutboxStore.prune``, run by ``federation.delivery`` on its own timer). The
rule: a row is *done* once its lane has acknowledged it, i.e. ``seq <= acked_seq`` of
the lane's ``delivery`` row (national: the row's destination; a province: the single
lane ``"national"``, whatever final destination the row names). A done row whose
``created_at`` is older than the retention (``DeliverySettings.outbox_retention``,
7 days by default) is deleted; nothing else ever is:

* An unacknowledged row (``seq > acked_seq``) is never deleted, however old: a stopped
  province's events wait for it, then age out only after they are acknowledged.
* A lane with no ``delivery`` row keeps all its rows (``enqueue`` writes that row in
  the same transaction as the rows, so this is a safety net, not a normal state).
* Deletes go in small batches, one write transaction each (``PRUNE_BATCH`` rows,
  oldest seq first over ``outbox_by_destination`` or the rowid), so the single writer
  is never held long. A reader first checks each lane's oldest acknowledged row, so a
  lane with nothing to prune costs one index lookup and no write.
* ``seq`` keeps growing after deletions, even when every row was deleted:
  ``AUTOINCREMENT`` keeps the highest seq ever used in ``sqlite_sequence`` and never
  reuses it. This matters: a receiver treats a seq at or below its applied position
  as a duplicate, so a reused seq would be silently dropped.
* Nothing reads a done row again. Sending, ``pending`` and ``pending_counts`` look only
  beyond ``acked_seq``; ``last_seq`` falls back to the lane's ``acked_seq`` when the
  newest rows are gone.
* A *parked* row (``outbox_parked``: an event its receiver refused as malformed on
  every attempt, moved past by the lane's cursor; the rule is in
  ``federation.delivery``) is never deleted, however old, while it is parked: it is the
  only copy of an event its destination never applied. ``retry_parked`` queues it
  again under a new seq (deleting the old row in the same transaction) and the new row
  then ages like any other.

The epoch. Seqs restart at 1 only with a new database (a wiped or re-provisioned
node) or go back with a database restored from a backup, which is why the outbox has
an *epoch*: a random id kept in ``meta`` (``EPOCH_KEY``), created on first use
(``OutboxStore.epoch``; an existing database gets one the first time it sends). It
changes only when a receiver answers a position beyond every seq this outbox ever gave
(``q_renew_epoch_if_behind``): a restored database, whose seqs would repeat under the
old epoch. Every ``DeliverEvents``
batch carries it, and a receiver keeps it with its position per origin
(``inbox_position.epoch``): a batch of another epoch than the stored one means the
sender's outbox started over, and the receiver restarts that origin's position
instead of dropping the new seqs as duplicates (``q_inbox_start``; the rule is in
``federation.delivery``). The epoch comes from the system's randomness, never from a
node's (possibly seeded) ``entropy``: two creations of a database must not share one.

Leases (national as a cluster). Several national processes on one PostgreSQL database
share one outbox; each province's lane is sent by one of them at a time, the holder of
its row of ``delivery_leases`` (receiver, holder, ``expires_at``, by the database's
clock, so the replicas' own clocks need not agree). A replica claims a lane before each
batch (:func:`q_claim_lease`: the row ``SELECT … FOR UPDATE SKIP LOCKED``, taken when it
is its own or expired), renews the lanes it holds on a timer (:func:`q_renew_leases`),
and gives a lane back when nothing is left to send or when it stops
(:func:`q_release_leases`). A replica that dies holds its lanes until they expire, then
another takes them over: the cursor is in ``delivery``, so it goes on from the last
acknowledged position, and the receiver's applied position drops what was sent twice,
keeping the order. A national on SQLite is one process: it holds every lane and never
writes this table.

What deleting a done row gives up is the ``UNIQUE (destination, event_id)`` dedupe for
that row: the same event id queued again after the prune gets a new row and a new seq
and is delivered a second time. That is harmless, because receivers are idempotent
without it. Voucher events get a fresh random id per change (``node.voucher.events``),
so the same id is never queued twice (a retried transaction commits whole or not at
all). A settlement notice's id is ``notice:<settlement>:<state>``. If it is queued
again, national relays the new seq (its per-origin ``inbox_position`` only refuses
seqs it has already seen, and that position is never pruned). The destination then
stores it with ``INSERT OR IGNORE`` into ``settlement_notices``, keyed by
(settlement, state), so it changes nothing and counts as a duplicate. A voucher
snapshot sent again would likewise change nothing, because a province replaces a
cached voucher only with a newer ``version``. A resent batch is still caught by the
receiver's applied position first and by ``inbox_events`` second. So the
``delivery`` rows, the receivers' positions and ``inbox_events`` are kept, and an
acknowledged row is not needed once it is past the retention.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.storage.db import NodeDatabase

__all__ = [
    "enqueue",
    "OutboxStore",
    "DeliveryState",
    "Pending",
    "q_inbox_position",
    "q_inbox_start",
    "q_advance_inbox_position",
    "q_outbox_epoch",
    "Parked",
    "EPOCH_KEY",
    "PRUNE_BATCH",
    "UPLINK_LANE",
    "q_claim_lease",
    "q_renew_leases",
    "q_release_leases",
]

# The single lane of a province's outbox: everything goes up to national, which relays.
UPLINK_LANE = "national"
# Rows deleted per write transaction when pruning acknowledged rows.
PRUNE_BATCH = 1000
# The ``meta`` key of the outbox's epoch (see the module docstring).
EPOCH_KEY = "outbox_epoch"


def enqueue(
    conn: sqlite3.Connection,
    event: fed_pb.Event,
    destinations: Iterable[str],
    now_ms: int,
    lane: str | None = None,
) -> int:
    """Queue ``event`` for each destination province, inside the caller's transaction.

    ``lane`` names the one next hop of every row (at a province: ``"national"``); None
    (national), each destination is its own lane.

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
        "INSERT OR IGNORE INTO outbox (destination, event_id, kind, ec_card_no, version, body, "
        "created_at) VALUES (?,?,?,?,?,?,?)",
        rows,
    )
    lanes = [r[0] for r in rows] if lane is None else [lane] if rows else []
    conn.executemany(
        "INSERT OR IGNORE INTO delivery (destination) VALUES (?)", [(x,) for x in lanes]
    )
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
    # Send one event at a time while ``acked_seq`` is below this (a refused batch's end).
    narrow_until: int = 0
    # The one event the receiver refused last, and how many consecutive times.
    refused_seq: int = 0
    refusals: int = 0


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    body: bytes
    event_id: str = ""
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Parked:
    """An event its receiver refused on every attempt, set aside (``outbox_parked``)."""

    destination: str
    seq: int
    event_id: str
    kind: str
    error: str
    parked_at: int


# A lane's rows: per destination, the rows naming it; a single lane, every row.
def _rows_of(lane: str | None, alias: str = "o", key: str = "?") -> str:
    return "1 = 1" if lane is not None else f"{alias}.destination = {key}"


def _state_sql(lane: str | None) -> str:
    return (
        "SELECT destination, acked_seq, attempts, next_attempt_at, last_error, "
        f"EXISTS (SELECT 1 FROM outbox o WHERE {_rows_of(lane, key='d.destination')} "
        "AND o.seq > d.acked_seq), narrow_until, refused_seq, refusals FROM delivery d"
    )


def _state(r: Sequence[Any]) -> DeliveryState:
    return DeliveryState(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8])


def _q_states(conn: sqlite3.Connection, lane: str | None) -> list[DeliveryState]:
    # A single-lane store ignores any other delivery row (it has none in normal use).
    where, args = (" WHERE destination = ?", (lane,)) if lane is not None else ("", ())
    return [
        _state(r) for r in conn.execute(f"{_state_sql(lane)}{where} ORDER BY destination", args)
    ]


def _q_state(conn: sqlite3.Connection, lane: str | None, destination: str) -> DeliveryState | None:
    r = conn.execute(f"{_state_sql(lane)} WHERE destination = ?", (destination,)).fetchone()
    return _state(r) if r else None


def _q_batch(
    conn: sqlite3.Connection, lane: str | None, destination: str, after_seq: int, limit: int
) -> list[Pending]:
    args = (after_seq, limit) if lane is not None else (destination, after_seq, limit)
    return [
        Pending(*r)
        for r in conn.execute(
            f"SELECT seq, body, event_id, kind FROM outbox o WHERE {_rows_of(lane)} AND seq > ? "
            "ORDER BY seq LIMIT ?",
            args,
        )
    ]


def _q_acked(conn: sqlite3.Connection, destination: str, applied: int, now_ms: int) -> None:
    # max(): a late or replayed answer must never move the cursor backwards.
    # An answer means the receiver took the batch: no event of it is refused any more.
    conn.execute(
        "UPDATE delivery SET acked_seq = max(acked_seq, ?), attempts = 0, next_attempt_at = 0, "
        "last_error = '', last_delivered_at = ?, refused_seq = 0, refusals = 0 "
        "WHERE destination = ?",
        (applied, now_ms, destination),
    )


def _q_narrow(conn: sqlite3.Connection, destination: str, until: int) -> None:
    conn.execute(
        "UPDATE delivery SET narrow_until = max(narrow_until, ?) WHERE destination = ?",
        (until, destination),
    )


def _q_refused(conn: sqlite3.Connection, destination: str, seq: int) -> int:
    """Count one more refusal of the single event ``seq``; returns the consecutive count."""
    conn.execute(
        "UPDATE delivery SET refusals = CASE WHEN refused_seq = ? THEN refusals + 1 ELSE 1 END, "
        "refused_seq = ? WHERE destination = ?",
        (seq, seq, destination),
    )
    row = conn.execute(
        "SELECT refusals FROM delivery WHERE destination = ?", (destination,)
    ).fetchone()
    return row[0] if row else 0


def _q_park(conn: sqlite3.Connection, destination: str, seq: int, error: str, now_ms: int) -> bool:
    """Park the outbox row ``seq`` of lane ``destination`` and move the lane's cursor
    past it, in one transaction. False when the row is gone (nothing parked, no move)."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO outbox_parked (seq, destination, event_id, kind, error, parked_at) "
        "SELECT seq, ?, event_id, kind, ?, ? FROM outbox WHERE seq = ?",
        (destination, error[:500], now_ms, seq),
    )
    if (
        cur.rowcount == 0
        and conn.execute("SELECT 1 FROM outbox_parked WHERE seq = ?", (seq,)).fetchone() is None
    ):
        return False
    conn.execute(
        "UPDATE delivery SET acked_seq = max(acked_seq, ?), attempts = 0, next_attempt_at = 0, "
        "last_error = '', refused_seq = 0, refusals = 0 WHERE destination = ?",
        (seq, destination),
    )
    return True


def _q_parked(conn: sqlite3.Connection, destination: str | None) -> list[Parked]:
    where, args = (
        (" WHERE destination = ?", (destination,)) if destination is not None else ("", ())
    )
    return [
        Parked(*r)
        for r in conn.execute(
            "SELECT destination, seq, event_id, kind, error, parked_at FROM outbox_parked"
            f"{where} ORDER BY destination, seq",
            args,
        )
    ]


def _q_parked_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(
        conn.execute(
            "SELECT destination, count(*) FROM outbox_parked GROUP BY destination"
        ).fetchall()
    )


def _q_retry_parked(conn: sqlite3.Connection, destination: str, now_ms: int) -> list[Parked]:
    """Queue each parked event of lane ``destination`` again as a new outbox row (a new
    seq, the same event id, destination and body; created now) and clear its parked
    row, in the caller's one transaction. The old row is deleted (``UNIQUE (destination,
    event_id)`` allows one row per event and destination). Returns what was re-queued."""
    parked = _q_parked(conn, destination)
    for p in parked:
        row = conn.execute(
            "SELECT destination, event_id, kind, ec_card_no, version, body FROM outbox "
            "WHERE seq = ?",
            (p.seq,),
        ).fetchone()
        conn.execute("DELETE FROM outbox_parked WHERE seq = ?", (p.seq,))
        if row is None:
            continue  # cannot happen (a parked row is never pruned); nothing to send
        conn.execute("DELETE FROM outbox WHERE seq = ?", (p.seq,))
        conn.execute(
            "INSERT INTO outbox (destination, event_id, kind, ec_card_no, version, body, "
            "created_at) VALUES (?,?,?,?,?,?,?)",
            (*row, now_ms),
        )
    return parked


def _q_failed(
    conn: sqlite3.Connection, destination: str, attempts: int, next_attempt_at: int, error: str
) -> None:
    conn.execute(
        "UPDATE delivery SET attempts = ?, next_attempt_at = ?, last_error = ? "
        "WHERE destination = ?",
        (attempts, next_attempt_at, error[:500], destination),
    )


def _q_rewind(conn: sqlite3.Connection, destination: str, position: int) -> int | None:
    """Move ``destination``'s cursor back to ``position`` when it is beyond it; the cursor
    it had, or None when it was not beyond."""
    row = conn.execute(
        "SELECT acked_seq FROM delivery WHERE destination = ?", (destination,)
    ).fetchone()
    if row is None or row[0] <= position:
        return None
    conn.execute(
        "UPDATE delivery SET acked_seq = ?, attempts = 0, next_attempt_at = 0, "
        "refused_seq = 0, refusals = 0 WHERE destination = ?",
        (position, destination),
    )
    old: int = row[0]
    return old


def _q_reset_backoff(conn: sqlite3.Connection, destination: str) -> None:
    conn.execute(
        "UPDATE delivery SET attempts = 0, next_attempt_at = 0 WHERE destination = ?",
        (destination,),
    )


def _q_last_seq(conn: sqlite3.Connection, lane: str | None, destination: str) -> int:
    args = () if lane is not None else (destination,)
    newest: int = conn.execute(
        f"SELECT coalesce(max(seq), 0) FROM outbox o WHERE {_rows_of(lane)}", args
    ).fetchone()[0]
    # Pruned rows were acknowledged: the cursor is then the newest position queued.
    acked = conn.execute(
        "SELECT acked_seq FROM delivery WHERE destination = ?", (destination,)
    ).fetchone()
    return max(newest, acked[0] if acked else 0)


def _q_pending_counts(conn: sqlite3.Connection, lane: str | None) -> dict[str, int]:
    # One indexed range count per destination over outbox_by_destination (destination, seq).
    where, args = (" WHERE d.destination = ?", (lane,)) if lane is not None else ("", ())
    return {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT d.destination, (SELECT count(*) FROM outbox o "
            f"WHERE {_rows_of(lane, key='d.destination')} AND o.seq > d.acked_seq) "
            f"FROM delivery d{where}",
            args,
        )
    }


def _q_backlog(conn: sqlite3.Connection, lane: str | None) -> list[tuple[str, int, int, int]]:
    """(lane, events past its cursor, created_at of the oldest of them or 0, parked
    events) of every lane, in one statement: per lane an indexed range count and one
    indexed row over outbox_by_destination (destination, seq), and a count over
    outbox_parked_by_destination."""
    rows = _rows_of(lane, key="d.destination")
    where, args = (" WHERE d.destination = ?", (lane,)) if lane is not None else ("", ())
    return [
        (r[0], r[1], r[2] or 0, r[3])
        for r in conn.execute(
            "SELECT d.destination, "
            f"(SELECT count(*) FROM outbox o WHERE {rows} AND o.seq > d.acked_seq), "
            f"(SELECT o.created_at FROM outbox o WHERE {rows} AND o.seq > d.acked_seq "
            "ORDER BY o.seq LIMIT 1), "
            "(SELECT count(*) FROM outbox_parked p WHERE p.destination = d.destination) "
            f"FROM delivery d{where} ORDER BY d.destination",
            args,
        )
    ]


# A parked row is past its lane's cursor but not done: never pruned while parked.
_NOT_PARKED = "NOT EXISTS (SELECT 1 FROM outbox_parked p WHERE p.seq = o.seq)"


def _q_prunable(conn: sqlite3.Connection, lane: str | None, before_ms: int) -> list[str]:
    """Lanes whose oldest acknowledged row was created before ``before_ms``."""
    where, args = (" WHERE destination = ?", (lane,)) if lane is not None else ("", ())
    out = []
    for destination, acked in conn.execute(
        f"SELECT destination, acked_seq FROM delivery{where} ORDER BY destination", args
    ).fetchall():
        oldest = conn.execute(
            f"SELECT created_at FROM outbox o WHERE {_rows_of(lane)} AND seq <= ? "
            f"AND {_NOT_PARKED} ORDER BY seq LIMIT 1",
            (acked,) if lane is not None else (destination, acked),
        ).fetchone()
        if oldest is not None and oldest[0] < before_ms:
            out.append(destination)
    return out


def _q_prune(
    conn: sqlite3.Connection, lane: str | None, destination: str, before_ms: int, limit: int
) -> int:
    """Delete up to ``limit`` of the lane's oldest acknowledged rows created before
    ``before_ms``; the lane's cursor is read in the same transaction."""
    row = conn.execute(
        "SELECT acked_seq FROM delivery WHERE destination = ?", (destination,)
    ).fetchone()
    if row is None:
        return 0  # no cursor: nothing is known to be delivered, keep everything
    args = (row[0], limit) if lane is not None else (destination, row[0], limit)
    return conn.execute(
        "DELETE FROM outbox WHERE seq IN "
        f"(SELECT seq FROM outbox o WHERE {_rows_of(lane)} AND seq <= ? AND {_NOT_PARKED} "
        "ORDER BY seq LIMIT ?) AND created_at < ?",
        (*args, before_ms),
    ).rowcount


def q_renew_epoch_if_behind(conn: sqlite3.Connection, seen: int) -> str | None:
    """A new epoch when a receiver has applied ``seen``, beyond any seq this outbox
    ever gave (``sqlite_sequence``): the database went back in time (restored from a
    backup, seqs given again under the same epoch), so the receiver would drop the new
    events as old. None when ``seen`` is a seq this outbox did give."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    if seen <= (row[0] if row else 0):
        return None
    epoch = uuid.uuid4().hex
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (EPOCH_KEY, epoch))
    return epoch


def _q_stored_epoch(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (EPOCH_KEY,)).fetchone()
    return row[0] if row is not None and row[0] else ""


def q_outbox_epoch(conn: sqlite3.Connection) -> tuple[str, bool]:
    """This database's outbox epoch, created if absent (in the writer's transaction).
    Returns (epoch, created now)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (EPOCH_KEY,)).fetchone()
    if row is not None and row[0]:
        return row[0], False
    # System randomness on purpose: a seeded node entropy would give a recreated
    # database the epoch of the one it replaces.
    epoch = uuid.uuid4().hex
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (EPOCH_KEY, epoch))
    return epoch, True


# -- receiving side: each receiver's ``inbox_position`` ----------------------------------
def q_inbox_position(conn: sqlite3.Connection, origin: str) -> int:
    """The highest outbox seq of ``origin`` applied here (0 if none), in the epoch stored
    with it."""
    row = conn.execute(
        "SELECT applied_seq FROM inbox_position WHERE origin = ?", (origin,)
    ).fetchone()
    return row[0] if row else 0


def q_inbox_start(conn: sqlite3.Connection, origin: str, epoch: str) -> tuple[int, str]:
    """The position a batch of ``origin`` sent in ``epoch`` is checked against, and the
    stored epoch it replaces ("" when it replaces none).

    The rule (``federation.delivery``, "an idempotent receiver"): when both the batch
    and the stored position carry an epoch and they differ, the sender's outbox started
    over (its database was recreated; its seqs restart at 1), so the position restarts
    at 0 and the batch is taken as new; the caller keeps deduplicating by event id and
    voucher version, and records the new epoch with ``q_advance_inbox_position(...,
    restarted=True)`` in the same transaction. An empty epoch (an older sender) or none
    stored yet (a receiver's position from before epochs): the stored position, as it is.
    """
    row = conn.execute(
        "SELECT applied_seq, epoch FROM inbox_position WHERE origin = ?", (origin,)
    ).fetchone()
    if row is None:
        return 0, ""
    applied, stored = row
    if epoch and stored and stored != epoch:
        return 0, stored
    return applied, ""


def q_advance_inbox_position(
    conn: sqlite3.Connection, origin: str, position: int, epoch: str = "", restarted: bool = False
) -> None:
    """Record ``position`` as applied from ``origin`` in ``epoch``.

    Within an epoch the position never moves backwards. ``restarted`` (``q_inbox_start``
    found another epoch): the position of the new epoch replaces the old one. An empty
    ``epoch`` leaves the stored epoch as it is.
    """
    if restarted:
        conn.execute(
            "INSERT INTO inbox_position (origin, applied_seq, epoch) VALUES (?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET applied_seq = excluded.applied_seq, "
            "epoch = excluded.epoch",
            (origin, position, epoch),
        )
        return
    conn.execute(
        "INSERT INTO inbox_position (origin, applied_seq, epoch) VALUES (?, ?, ?) "
        "ON CONFLICT (origin) DO UPDATE SET "
        "applied_seq = max(inbox_position.applied_seq, excluded.applied_seq), "
        "epoch = CASE WHEN excluded.epoch = '' THEN inbox_position.epoch ELSE excluded.epoch END",
        (origin, position, epoch),
    )


# -- leases (PostgreSQL only: several national processes on one database) -------------
# Now, in ms since the epoch, by the database server's clock.
_DB_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


def q_claim_lease(
    conn: sqlite3.Connection, receiver: str, holder: str, ttl_ms: int
) -> tuple[bool, int]:
    """Claim (or renew) the lease of ``receiver``'s lane for ``holder``, for ``ttl_ms``.
    Returns (held now, ms until the other holder's lease expires when not)."""
    conn.execute(
        "INSERT OR IGNORE INTO delivery_leases (receiver, holder, expires_at) VALUES (?, ?, 0)",
        (receiver, holder),
    )
    row = conn.execute(
        f"SELECT holder, expires_at, {_DB_NOW_MS} FROM delivery_leases WHERE receiver = ? "
        "FOR UPDATE SKIP LOCKED",
        (receiver,),
    ).fetchone()
    if row is None:
        return False, ttl_ms  # another replica is claiming it at this moment
    current, expires_at, now = row
    if current != holder and expires_at > now:
        return False, int(expires_at - now)
    conn.execute(
        "UPDATE delivery_leases SET holder = ?, expires_at = ? WHERE receiver = ?",
        (holder, now + ttl_ms, receiver),
    )
    return True, ttl_ms


def q_renew_leases(conn: sqlite3.Connection, holder: str, ttl_ms: int) -> set[str]:
    """Extend every unexpired lease of ``holder`` by ``ttl_ms`` from now; the receivers
    it still holds (one that expired meanwhile may have been taken over: not renewed)."""
    return {
        r[0]
        for r in conn.execute(
            f"UPDATE delivery_leases SET expires_at = {_DB_NOW_MS} + ? "
            f"WHERE holder = ? AND expires_at > {_DB_NOW_MS} RETURNING receiver",
            (ttl_ms, holder),
        ).fetchall()
    }


def q_release_leases(conn: sqlite3.Connection, holder: str, receiver: str | None) -> None:
    """Give back ``holder``'s lease of ``receiver`` (None: all of them), so another
    replica may take the lane at once."""
    where, args = (" AND receiver = ?", (holder, receiver)) if receiver else ("", (holder,))
    conn.execute(f"UPDATE delivery_leases SET expires_at = 0 WHERE holder = ?{where}", args)


class OutboxStore:
    """Coroutine access to the outbox and the delivery cursors of a node's database.

    ``lane`` None (national): one lane per destination province. ``lane="national"``
    (a province): the whole outbox is one lane to that next hop; the ``destination``
    arguments below then name the lane.
    """

    def __init__(self, db: NodeDatabase, lane: str | None = None) -> None:
        self.db = db
        self.lane = lane
        self._epoch = ""

    async def epoch(self, fresh: bool = False) -> tuple[str, bool]:
        """This outbox's epoch (see the module docstring), created on first use.
        Returns (epoch, created by this call). ``fresh``: read from the database, not
        the copy kept from the last call (national as a cluster: another replica may
        have renewed it)."""
        if self._epoch and not fresh:
            return self._epoch, False
        if fresh:
            stored = await self.db.read(_q_stored_epoch)
            if stored:
                self._epoch = stored
                return stored, False
        epoch, created = await self.db.write(q_outbox_epoch)
        self._epoch = epoch
        return epoch, created

    async def renew_epoch_if_behind(self, seen: int) -> str | None:
        """See :func:`q_renew_epoch_if_behind`; the new epoch, or None."""
        epoch = await self.db.write(q_renew_epoch_if_behind, seen)
        if epoch is not None:
            self._epoch = epoch
        return epoch

    async def claim_lease(self, receiver: str, holder: str, ttl_ms: int) -> tuple[bool, int]:
        """See :func:`q_claim_lease` (PostgreSQL only)."""
        return await self.db.write_unsynced(q_claim_lease, receiver, holder, ttl_ms)

    async def renew_leases(self, holder: str, ttl_ms: int) -> set[str]:
        """See :func:`q_renew_leases` (PostgreSQL only)."""
        return await self.db.write_unsynced(q_renew_leases, holder, ttl_ms)

    async def release_leases(self, holder: str, receiver: str | None = None) -> None:
        """See :func:`q_release_leases` (PostgreSQL only)."""
        await self.db.write_unsynced(q_release_leases, holder, receiver)

    async def states(self) -> list[DeliveryState]:
        return await self.db.read(_q_states, self.lane)

    async def state(self, destination: str) -> DeliveryState | None:
        return await self.db.read(_q_state, self.lane, destination)

    async def batch(self, destination: str, after_seq: int, limit: int) -> list[Pending]:
        """Up to ``limit`` events for ``destination`` after ``after_seq``, in seq order."""
        return await self.db.read(_q_batch, self.lane, destination, after_seq, limit)

    async def acked(self, destination: str, applied: int, now_ms: int) -> None:
        await self.db.write_unsynced(_q_acked, destination, applied, now_ms)

    async def failed(
        self, destination: str, attempts: int, next_attempt_at: int, error: str
    ) -> None:
        await self.db.write_unsynced(_q_failed, destination, attempts, next_attempt_at, error)

    async def reset_backoff(self, destination: str) -> None:
        await self.db.write_unsynced(_q_reset_backoff, destination)

    async def rewind(self, destination: str, position: int) -> int | None:
        """The receiver has applied only up to ``position`` (its database went back: a
        restore): the cursor goes back there, and what follows is sent again (receivers
        apply an event once). The cursor it had, or None when it was not beyond."""
        return await self.db.write(_q_rewind, destination, position)

    async def narrow(self, destination: str, until: int) -> None:
        """Send ``destination``'s events one at a time until its cursor reaches ``until``."""
        await self.db.write_unsynced(_q_narrow, destination, until)

    async def refused(self, destination: str, seq: int) -> int:
        """One more refusal of event ``seq`` alone; the consecutive count."""
        return await self.db.write_unsynced(_q_refused, destination, seq)

    async def park(self, destination: str, seq: int, error: str, now_ms: int) -> bool:
        """Park event ``seq`` and move the lane's cursor past it (see :func:`_q_park`)."""
        return await self.db.write(_q_park, destination, seq, error, now_ms)

    async def parked(self, destination: str | None = None) -> list[Parked]:
        """Parked events, of one lane or all, in seq order."""
        return await self.db.read(_q_parked, destination)

    async def parked_counts(self) -> dict[str, int]:
        """Parked events per lane (lanes with none are absent)."""
        return await self.db.read(_q_parked_counts)

    async def retry_parked(self, destination: str, now_ms: int) -> list[Parked]:
        """Queue the lane's parked events again (see :func:`_q_retry_parked`)."""
        return await self.db.write(_q_retry_parked, destination, now_ms)

    async def last_seq(self, destination: str) -> int:
        """The newest outbox position queued for ``destination`` (0 if none; its
        acknowledged position if its newest rows were pruned)."""
        return await self.db.read(_q_last_seq, self.lane, destination)

    async def pending_counts(self) -> dict[str, int]:
        """Events beyond each destination's acknowledged position."""
        return await self.db.read(_q_pending_counts, self.lane)

    async def backlog(self) -> list[tuple[str, int, int, int]]:
        """Per lane: (lane, events not yet acknowledged, ``created_at`` of the oldest of
        them (0: none), parked events); one read (``node.metrics`` at a scrape)."""
        return await self.db.read(_q_backlog, self.lane)

    async def prune(self, before_ms: int, batch: int = PRUNE_BATCH) -> int:
        """Delete acknowledged rows created before ``before_ms`` (see the module
        docstring), ``batch`` rows per write transaction; returns the rows deleted."""
        total = 0
        for destination in await self.db.read(_q_prunable, self.lane, before_ms):
            while True:
                n = await self.db.write_unsynced(_q_prune, self.lane, destination, before_ms, batch)
                total += n
                if n < batch:
                    break
        return total
