"""The national node's storage: base registry, vouchers, channels, terminals, directory.

All SQL of the national role lives here; its schema is
:mod:`node.storage.migrations.national`. Functions named ``_q_*`` run on a connection
handed to them by :class:`~node.storage.db.Database` (a reader thread or the writer
inside a transaction); :class:`NationalStore` exposes them as coroutines.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.storage import outbox
from node.storage.db import Database, RoleStore, count_rows
from node.storage.migrations.national import MIGRATIONS

__all__ = [
    "NationalStore",
    "PersonRow",
    "RegionRow",
    "ChannelRow",
    "TerminalRow",
    "NodeRow",
    "VoucherRow",
    "AuthRow",
    "SerialRow",
    "RelayEvent",
    "RelayResult",
    "MIGRATIONS",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RegionRow:
    insu_org: str
    insu_type: str


@dataclass(frozen=True, slots=True)
class PersonRow:
    person_id: int
    user_name: str
    id_type: str
    id_no: str
    gender: str
    birthday: str
    nationality: str
    phone: str
    insured: tuple[RegionRow, ...]


@dataclass(frozen=True, slots=True)
class ChannelRow:
    channel_id: str
    name: str
    kind: str
    status: str
    public_key: str = ""
    status_reason: str = ""
    status_version: int = 1
    status_changed_at: int | None = None


@dataclass(frozen=True, slots=True)
class TerminalRow:
    terminal_id: str
    province: str
    org_id: str
    org_name: str
    name: str
    purpose: str
    version: str
    developer: str
    registered_on: str
    mac: str


@dataclass(frozen=True, slots=True)
class NodeRow:
    province: str
    address: str
    version: str
    instance_id: str
    state: str
    registered_at: int
    last_heartbeat_at: int
    applied_position: int


# -- queries -------------------------------------------------------------------------
COUNTED_TABLES = ("persons", "vouchers", "authorizations", "channels", "terminals")


def _regions_of(conn: sqlite3.Connection, person_ids: Sequence[int]) -> dict[int, list[RegionRow]]:
    out: dict[int, list[RegionRow]] = {pid: [] for pid in person_ids}
    if not person_ids:
        return out
    marks = ",".join("?" * len(person_ids))
    for r in conn.execute(
        f"SELECT person_id, insu_org, insu_type FROM insured_regions "
        f"WHERE person_id IN ({marks}) ORDER BY person_id, insu_org",
        list(person_ids),
    ):
        out[r[0]].append(RegionRow(r[1], r[2]))
    return out


def _person_rows(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[PersonRow]:
    regions = _regions_of(conn, [r["person_id"] for r in rows])
    return [
        PersonRow(
            r["person_id"],
            r["user_name"],
            r["id_type"],
            r["id_no"],
            r["gender"],
            r["birthday"],
            r["nationality"],
            r["phone"],
            tuple(regions[r["person_id"]]),
        )
        for r in rows
    ]


_PERSON_COLS = "person_id, user_name, id_type, id_no, gender, birthday, nationality, phone"


def _q_list_persons(
    conn: sqlite3.Connection, insured_province: str, limit: int, after_id: int
) -> list[PersonRow]:
    if insured_province:
        # Range over the (insu_org, person_id) index: stays flat as the registry grows.
        lo, hi = insured_province, f"{int(insured_province) + 1:02d}"
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT person_id FROM insured_regions "
                "WHERE insu_org >= ? AND insu_org < ? AND person_id > ? "
                "ORDER BY person_id LIMIT ?",
                (lo, hi, after_id, limit),
            )
        ]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT {_PERSON_COLS} FROM persons WHERE person_id IN ({marks}) ORDER BY person_id",
            ids,
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_PERSON_COLS} FROM persons WHERE person_id > ? ORDER BY person_id LIMIT ?",
            (after_id, limit),
        ).fetchall()
    return _person_rows(conn, rows)


def _q_get_person(conn: sqlite3.Connection, id_type: str, id_no: str) -> PersonRow | None:
    rows = conn.execute(
        f"SELECT {_PERSON_COLS} FROM persons WHERE id_type = ? AND id_no = ?", (id_type, id_no)
    ).fetchall()
    found = _person_rows(conn, rows)
    return found[0] if found else None


def _q_insert_persons(
    conn: sqlite3.Connection, people: Sequence[dict[str, Any]], now_ms: int
) -> int:
    """Bulk insert for seeding: each dict has the person's columns and ``insured``."""
    start = conn.execute("SELECT coalesce(max(person_id), 0) FROM persons").fetchone()[0] + 1
    person_rows = []
    region_rows = []
    for offset, p in enumerate(people):
        pid = start + offset
        person_rows.append(
            (
                pid,
                p["user_name"],
                p["id_type"],
                p["id_no"],
                p["gender"],
                p["birthday"],
                p["nationality"],
                p["phone"],
                p.get("face_template"),
                now_ms,
            )
        )
        for insu_org, insu_type in p["insured"]:
            region_rows.append((pid, insu_org, insu_type))
    conn.executemany(
        "INSERT INTO persons (person_id, user_name, id_type, id_no, gender, birthday, "
        "nationality, phone, face_template, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        person_rows,
    )
    conn.executemany(
        "INSERT INTO insured_regions (person_id, insu_org, insu_type) VALUES (?,?,?)", region_rows
    )
    return len(person_rows)


def _q_upsert_channels(
    conn: sqlite3.Connection, channels: Iterable[ChannelRow], now_ms: int
) -> None:
    conn.executemany(
        "INSERT INTO channels (channel_id, name, kind, status, public_key, created_at) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT (channel_id) DO UPDATE SET name = excluded.name, "
        "kind = excluded.kind, status = excluded.status, public_key = excluded.public_key",
        [(c.channel_id, c.name, c.kind, c.status, c.public_key, now_ms) for c in channels],
    )


_CHANNEL_COLS = (
    "channel_id, name, kind, status, public_key, status_reason, status_version, status_changed_at"
)


def _q_list_channels(conn: sqlite3.Connection) -> list[ChannelRow]:
    return [
        ChannelRow(*r)
        for r in conn.execute(
            f"SELECT {_CHANNEL_COLS} FROM channels ORDER BY kind = 'third_party', channel_id"
        )
    ]


_TERMINAL_COLS = (
    "terminal_id, province, org_id, org_name, name, purpose, version, developer, registered_on, mac"
)


def _q_insert_terminals(conn: sqlite3.Connection, terminals: Iterable[TerminalRow]) -> int:
    cur = conn.executemany(
        f"INSERT OR IGNORE INTO terminals ({_TERMINAL_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (
                t.terminal_id,
                t.province,
                t.org_id,
                t.org_name,
                t.name,
                t.purpose,
                t.version,
                t.developer,
                t.registered_on,
                t.mac,
            )
            for t in terminals
        ],
    )
    return cur.rowcount


def _q_list_terminals(
    conn: sqlite3.Connection, province: str, limit: int, after: str
) -> list[TerminalRow]:
    if province:
        cur = conn.execute(
            f"SELECT {_TERMINAL_COLS} FROM terminals WHERE province = ? AND terminal_id > ? "
            "ORDER BY terminal_id LIMIT ?",
            (province, after, limit),
        )
    else:
        cur = conn.execute(
            f"SELECT {_TERMINAL_COLS} FROM terminals WHERE terminal_id > ? "
            "ORDER BY terminal_id LIMIT ?",
            (after, limit),
        )
    return [TerminalRow(*r) for r in cur]


def _q_terminal_provinces(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT province FROM terminals")}


def _q_meta_get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _q_meta_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


# -- node directory ------------------------------------------------------------------
def _node_row(r: sqlite3.Row | None) -> NodeRow | None:
    return NodeRow(*r) if r else None


_NODE_COLS = (
    "province, address, version, instance_id, state, registered_at, last_heartbeat_at, "
    "applied_position"
)


def _q_get_node(conn: sqlite3.Connection, province: str) -> NodeRow | None:
    return _node_row(
        conn.execute(
            f"SELECT {_NODE_COLS} FROM node_directory WHERE province = ?", (province,)
        ).fetchone()
    )


def _q_list_nodes(conn: sqlite3.Connection) -> list[NodeRow]:
    return [
        NodeRow(*r)
        for r in conn.execute(f"SELECT {_NODE_COLS} FROM node_directory ORDER BY province")
    ]


def _q_put_node(
    conn: sqlite3.Connection,
    province: str,
    address: str,
    version: str,
    instance_id: str,
    now_ms: int,
) -> None:
    conn.execute(
        "INSERT INTO node_directory (province, address, version, instance_id, state, "
        "registered_at, last_heartbeat_at) VALUES (?,?,?,?, 'up', ?, ?) "
        "ON CONFLICT (province) DO UPDATE SET address = excluded.address, "
        "version = excluded.version, instance_id = excluded.instance_id, state = 'up', "
        "registered_at = excluded.registered_at, last_heartbeat_at = excluded.last_heartbeat_at",
        (province, address, version, instance_id, now_ms, now_ms),
    )


def _q_heartbeat(
    conn: sqlite3.Connection, province: str, instance_id: str, applied: int, now_ms: int
) -> bool:
    cur = conn.execute(
        "UPDATE node_directory SET last_heartbeat_at = ?, applied_position = ? "
        "WHERE province = ? AND instance_id = ? AND state = 'up'",
        (now_ms, applied, province, instance_id),
    )
    return cur.rowcount == 1


def _q_deregister(conn: sqlite3.Connection, province: str, instance_id: str, now_ms: int) -> bool:
    cur = conn.execute(
        "UPDATE node_directory SET state = 'stopped', last_heartbeat_at = ? "
        "WHERE province = ? AND instance_id = ?",
        (now_ms, province, instance_id),
    )
    return cur.rowcount == 1


# -- relay of events delivered by the provinces ---------------------------------------
@dataclass(frozen=True, slots=True)
class RelayEvent:
    """An event a province delivered, for ``destination`` (None: not relayed)."""

    seq: int  # in the origin's outbox
    destination: str | None
    event: fed_pb.Event  # its ``sequence`` cleared: national's outbox numbers it again


@dataclass(frozen=True, slots=True)
class RelayResult:
    position: int  # the origin's applied position after the batch (in the batch's epoch)
    queued: int  # events queued in national's outbox
    duplicates: int  # events already relayed (by position, or by destination and id)
    destinations: frozenset[str]  # where events were queued
    # The origin's previous outbox epoch when this batch started a new one (its position
    # restarted), else "".
    restarted_from: str = ""


def _q_relay_events(
    conn: sqlite3.Connection,
    origin: str,
    events: Sequence[RelayEvent],
    now_ms: int,
    epoch: str = "",
) -> RelayResult:
    """Queue a delivered batch for its destinations and move the origin's position, in
    one transaction. At or below the position, or already queued for that destination
    (UNIQUE (destination, event_id)), an event changes nothing: a resent batch is a no-op.

    The position counts in the origin's outbox ``epoch``: a batch of another epoch than
    the stored one (the province's database was recreated, its seqs restart at 1)
    restarts the position at 0, so its events are relayed as new; an event queued
    before for the same destination is still refused by UNIQUE (destination, event_id).
    An empty epoch (an older province) is compared with the stored position as it is
    (``outbox.q_inbox_start``)."""
    position, restarted_from = outbox.q_inbox_start(conn, origin, epoch)
    queued = duplicates = 0
    destinations: set[str] = set()
    for ev in sorted(events, key=lambda e: e.seq):
        if ev.seq <= position:
            duplicates += 1
            continue
        position = ev.seq
        if ev.destination is None:
            continue
        if outbox.enqueue(conn, ev.event, [ev.destination], now_ms):
            queued += 1
            destinations.add(ev.destination)
        else:
            duplicates += 1
    outbox.q_advance_inbox_position(conn, origin, position, epoch, restarted=bool(restarted_from))
    return RelayResult(position, queued, duplicates, frozenset(destinations), restarted_from)


# -- voucher lifecycle (node/voucher/) -------------------------------------------------
# Public ``q_*`` functions run on a connection handed out by ``NationalStore.query`` (a
# reader) or ``NationalStore.transact`` (the writer, inside one transaction); the
# lifecycle code in node/voucher/ composes them into its transactions.


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
    auth_code: str
    ec_card_no: str
    channel_id: str
    channel_name: str
    channel_kind: str
    created_at: int
    revoked_at: int | None


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


_VOUCHER_COLS = (
    "ec_card_no, person_id, state, password_hash, password_salt, password_iterations, "
    "failed_attempts, frozen_until, version, created_at, activated_at, updated_at, superseded_by"
)
_AUTH_SELECT = (
    "SELECT a.auth_code, a.ec_card_no, a.channel_id, c.name, c.kind, a.created_at, a.revoked_at "
    "FROM authorizations a JOIN channels c ON c.channel_id = a.channel_id"
)
_SERIAL_COLS = (
    "serial, kind, person_id, channel_id, parent, identity_tag, challenge, password_hash, "
    "password_salt, password_iterations, attempts, created_at, expires_at, used_at"
)
_PRUNE_BATCH = 200


def q_meta_get(conn: sqlite3.Connection, key: str) -> str | None:
    return _q_meta_get(conn, key)


def q_meta_init(conn: sqlite3.Connection, key: str, value: str) -> str:
    """The value of ``key``, storing ``value`` first when there is none."""
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
    return _q_meta_get(conn, key) or value


def q_channel(conn: sqlite3.Connection, channel_id: str) -> ChannelRow | None:
    r = conn.execute(
        f"SELECT {_CHANNEL_COLS} FROM channels WHERE channel_id = ?", (channel_id,)
    ).fetchone()
    return ChannelRow(*r) if r else None


def q_set_channel_status(conn: sqlite3.Connection, row: ChannelRow) -> None:
    conn.execute(
        "UPDATE channels SET status = ?, status_reason = ?, status_version = ?, status_changed_at = ? "
        "WHERE channel_id = ?",
        (row.status, row.status_reason, row.status_version, row.status_changed_at, row.channel_id),
    )


def q_person(conn: sqlite3.Connection, id_type: str, id_no: str) -> PersonRow | None:
    return _q_get_person(conn, id_type, id_no)


def q_person_by_id(conn: sqlite3.Connection, person_id: int) -> PersonRow | None:
    rows = conn.execute(
        f"SELECT {_PERSON_COLS} FROM persons WHERE person_id = ?", (person_id,)
    ).fetchall()
    found = _person_rows(conn, rows)
    return found[0] if found else None


def q_face_template(conn: sqlite3.Connection, person_id: int) -> bytes | None:
    r = conn.execute(
        "SELECT face_template FROM persons WHERE person_id = ?", (person_id,)
    ).fetchone()
    return bytes(r[0]) if r and r[0] is not None else None


def q_update_identity(
    conn: sqlite3.Connection, person_id: int, user_name: str, id_type: str, id_no: str, now_ms: int
) -> None:
    conn.execute(
        "UPDATE persons SET user_name = ?, id_type = ?, id_no = ?, updated_at = ? WHERE person_id = ?",
        (user_name, id_type, id_no, now_ms, person_id),
    )


def q_replace_regions(
    conn: sqlite3.Connection, person_id: int, regions: Sequence[RegionRow], now_ms: int
) -> None:
    conn.execute("DELETE FROM insured_regions WHERE person_id = ?", (person_id,))
    conn.executemany(
        "INSERT INTO insured_regions (person_id, insu_org, insu_type) VALUES (?,?,?)",
        [(person_id, r.insu_org, r.insu_type) for r in regions],
    )
    conn.execute("UPDATE persons SET updated_at = ? WHERE person_id = ?", (now_ms, person_id))


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


def q_voucher(conn: sqlite3.Connection, ec_card_no: str) -> VoucherRow | None:
    r = conn.execute(
        f"SELECT {_VOUCHER_COLS} FROM vouchers WHERE ec_card_no = ?", (ec_card_no,)
    ).fetchone()
    return VoucherRow(*r) if r else None


def q_put_voucher(conn: sqlite3.Connection, v: VoucherRow) -> None:
    """Insert or replace the whole row of a voucher."""
    conn.execute(
        f"INSERT INTO vouchers ({_VOUCHER_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (ec_card_no) DO UPDATE SET person_id = excluded.person_id, "
        "state = excluded.state, password_hash = excluded.password_hash, "
        "password_salt = excluded.password_salt, password_iterations = excluded.password_iterations, "
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


def q_authorizations(conn: sqlite3.Connection, ec_card_no: str) -> list[AuthRow]:
    """Every authorization of a voucher, revoked ones too, oldest first."""
    return [
        AuthRow(*r)
        for r in conn.execute(
            f"{_AUTH_SELECT} WHERE a.ec_card_no = ? ORDER BY a.created_at, a.rowid", (ec_card_no,)
        )
    ]


def q_authorization(conn: sqlite3.Connection, auth_code: str) -> AuthRow | None:
    r = conn.execute(f"{_AUTH_SELECT} WHERE a.auth_code = ?", (auth_code,)).fetchone()
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
    conn: sqlite3.Connection, auth_code: str, ec_card_no: str, channel_id: str, now_ms: int
) -> None:
    conn.execute(
        "INSERT INTO authorizations (auth_code, ec_card_no, channel_id, created_at) VALUES (?,?,?,?)",
        (auth_code, ec_card_no, channel_id, now_ms),
    )


def q_revoke_authorization(conn: sqlite3.Connection, auth_code: str, now_ms: int) -> bool:
    cur = conn.execute(
        "UPDATE authorizations SET revoked_at = ? WHERE auth_code = ? AND revoked_at IS NULL",
        (now_ms, auth_code),
    )
    return cur.rowcount == 1


def q_revoke_all(conn: sqlite3.Connection, ec_card_no: str, now_ms: int) -> int:
    cur = conn.execute(
        "UPDATE authorizations SET revoked_at = ? WHERE ec_card_no = ? AND revoked_at IS NULL",
        (now_ms, ec_card_no),
    )
    return cur.rowcount


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


def q_liveness_seen(conn: sqlite3.Connection, digest: bytes) -> bool:
    return (
        conn.execute("SELECT 1 FROM liveness_seen WHERE digest = ?", (digest,)).fetchone()
        is not None
    )


def q_record_liveness(conn: sqlite3.Connection, digest: bytes, now_ms: int) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO liveness_seen (digest, seen_at) VALUES (?, ?)", (digest, now_ms)
    )


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


def q_idempotent_get(
    conn: sqlite3.Connection, channel_id: str, method: str, request_id: str
) -> tuple[str, str] | None:
    """(fingerprint, result JSON) of an earlier call with this request id."""
    r = conn.execute(
        "SELECT fingerprint, result FROM idempotency WHERE channel_id = ? AND method = ? AND request_id = ?",
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


class NationalStore(RoleStore):
    """Coroutine access to the national database."""

    MIGRATIONS = MIGRATIONS
    COUNTED_TABLES = COUNTED_TABLES

    async def list_persons(
        self, insured_province: str, limit: int, after_id: int
    ) -> list[PersonRow]:
        return await self.db.read(_q_list_persons, insured_province, limit, after_id)

    async def get_person(self, id_type: str, id_no: str) -> PersonRow | None:
        return await self.db.read(_q_get_person, id_type, id_no)

    async def list_channels(self) -> list[ChannelRow]:
        return await self.db.read(_q_list_channels)

    async def list_terminals(self, province: str, limit: int, after: str) -> list[TerminalRow]:
        return await self.db.read(_q_list_terminals, province, limit, after)

    async def get_node(self, province: str) -> NodeRow | None:
        return await self.db.read(_q_get_node, province)

    async def list_nodes(self) -> list[NodeRow]:
        return await self.db.read(_q_list_nodes)

    async def put_node(
        self, province: str, address: str, version: str, instance_id: str, now_ms: int
    ) -> None:
        await self.db.write_unsynced(_q_put_node, province, address, version, instance_id, now_ms)

    async def heartbeat(self, province: str, instance_id: str, applied: int, now_ms: int) -> bool:
        return await self.db.write_unsynced(_q_heartbeat, province, instance_id, applied, now_ms)

    async def deregister(self, province: str, instance_id: str, now_ms: int) -> bool:
        return await self.db.write(_q_deregister, province, instance_id, now_ms)

    async def relay_events(
        self, origin: str, events: Sequence[RelayEvent], now_ms: int, epoch: str = ""
    ) -> RelayResult:
        """Queue events a province delivered, sent in its outbox ``epoch``, for their
        destinations (idempotent)."""
        return await self.db.write(_q_relay_events, origin, list(events), now_ms, epoch)

    async def load_inbox_position(self, origin: str) -> int:
        """The highest outbox seq of province node ``origin`` relayed here."""
        return await self.db.read(outbox.q_inbox_position, origin)

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on a reader (``fn`` composes the ``q_*`` functions)."""
        return await self.db.read(fn, *args)

    async def transact(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` in one write transaction: it commits whole or not at all."""
        return await self.db.write(fn, *args)


class NationalSeeder:
    """Synchronous bulk access for seeding a national database before its node starts."""

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path, MIGRATIONS, readers=1)
        self.db.open_sync()

    def close(self) -> None:
        self.db.close_sync()

    def counts(self) -> dict[str, int]:
        return self.db.read_sync(count_rows, COUNTED_TABLES)

    def meta(self, key: str) -> str | None:
        return self.db.read_sync(_q_meta_get, key)

    def set_meta(self, key: str, value: str) -> None:
        self.db.write_sync(_q_meta_set, key, value)

    def insert_persons(self, people: Sequence[dict[str, Any]], now_ms: int) -> int:
        return self.db.write_sync(_q_insert_persons, people, now_ms)

    def upsert_channels(self, channels: Iterable[ChannelRow], now_ms: int) -> None:
        self.db.write_sync(_q_upsert_channels, list(channels), now_ms)

    def insert_terminals(self, terminals: Iterable[TerminalRow]) -> int:
        return self.db.write_sync(_q_insert_terminals, list(terminals))

    def terminal_provinces(self) -> set[str]:
        return self.db.read_sync(_q_terminal_provinces)
