"""The channels (the official NHSA app and the third-party apps) with their status
under national's channel control, and the registry of acceptance terminals (终端登记
信息, table 1 of the standard): tables ``channels`` (national m001, m008) and
``terminals`` (m001). Each province copies its own terminals from here."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ChannelRow",
    "TerminalRow",
    "q_channel",
    "q_list_channels",
    "ApplicationRow",
    "q_put_channel",
    "q_unannounced_channels",
    "q_mark_announced",
    "q_told_without_sm4",
    "q_insert_application",
    "q_application",
    "q_count_applications",
    "q_list_applications",
    "q_decide_application",
    "q_upsert_channels",
    "q_set_channel_status",
    "q_insert_terminals",
    "q_list_terminals",
    "q_terminal_provinces",
    "q_terminal",
    "q_terminal_count",
    "q_revoke_terminal",
]


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
    scopes: str = ""  # comma-separated: ecnet.v1.Service/Method or ecnet.v1.Service/*
    key_version: int = 1


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    """A channel's application (4.3), made through a province, decided by national."""

    application_id: str
    province: str
    name: str
    public_key: str
    scopes: str
    status: str  # pending | approved | rejected
    app_id: str = ""
    reason: str = ""
    applied_at: int = 0
    decided_at: int | None = None


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
    revoked_at: int | None = None  # ms since the epoch
    revoke_reason: str = ""


_CHANNEL_COLS = (
    "channel_id, name, kind, status, public_key, status_reason, status_version, "
    "status_changed_at, scopes, key_version"
)
_APPLICATION_COLS = (
    "application_id, province, name, public_key, scopes, status, app_id, reason, applied_at, "
    "decided_at"
)
_TERMINAL_COLS = (
    "terminal_id, province, org_id, org_name, name, purpose, version, developer, registered_on, "
    "mac, revoked_at, revoke_reason"
)


# -- channels --------------------------------------------------------------------------
def q_channel(conn: sqlite3.Connection, channel_id: str) -> ChannelRow | None:
    r = conn.execute(
        f"SELECT {_CHANNEL_COLS} FROM channels WHERE channel_id = ?", (channel_id,)
    ).fetchone()
    return ChannelRow(*r) if r else None


def q_list_channels(conn: sqlite3.Connection) -> list[ChannelRow]:
    """Every channel: the official ones first, then by id."""
    return [
        ChannelRow(*r)
        for r in conn.execute(
            f"SELECT {_CHANNEL_COLS} FROM channels ORDER BY kind = 'third_party', channel_id"
        )
    ]


def q_upsert_channels(
    conn: sqlite3.Connection, channels: Iterable[ChannelRow], now_ms: int
) -> None:
    """Seeding: insert the channels, or update their name, kind, status, key and scopes
    (a new key or scopes make a new version of the record, which the provinces are told)."""
    conn.executemany(
        "INSERT INTO channels (channel_id, name, kind, status, public_key, created_at, scopes) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT (channel_id) DO UPDATE SET name = excluded.name, "
        "kind = excluded.kind, status = excluded.status, public_key = excluded.public_key, "
        "scopes = excluded.scopes, status_version = channels.status_version + "
        "CASE WHEN excluded.public_key <> channels.public_key "
        "OR excluded.scopes <> channels.scopes THEN 1 ELSE 0 END, "
        "key_version = channels.key_version + "
        "CASE WHEN excluded.public_key <> channels.public_key THEN 1 ELSE 0 END",
        [
            (c.channel_id, c.name, c.kind, c.status, c.public_key, now_ms, c.scopes)
            for c in channels
        ],
    )


def q_put_channel(conn: sqlite3.Connection, row: ChannelRow, now_ms: int) -> None:
    """A channel approved (inserted), or its key or scopes changed (updated)."""
    conn.execute(
        "INSERT INTO channels (channel_id, name, kind, status, public_key, created_at, scopes, "
        "status_reason, status_version, status_changed_at, key_version) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (channel_id) DO UPDATE SET "
        "public_key = excluded.public_key, scopes = excluded.scopes, "
        "status_version = excluded.status_version, status_changed_at = excluded.status_changed_at, "
        "key_version = excluded.key_version",
        (
            row.channel_id,
            row.name,
            row.kind,
            row.status,
            row.public_key,
            now_ms,
            row.scopes,
            row.status_reason,
            row.status_version,
            row.status_changed_at,
            row.key_version,
        ),
    )


def q_unannounced_channels(conn: sqlite3.Connection) -> list[ChannelRow]:
    """The channels whose record the provinces were not told yet (seeded ones)."""
    return [
        ChannelRow(*r)
        for r in conn.execute(
            f"SELECT {_CHANNEL_COLS} FROM channels WHERE announced_version < status_version"
        )
    ]


def q_mark_announced(conn: sqlite3.Connection, channel_id: str, version: int) -> None:
    """The provinces were told ``version`` of the channel's record (with its SM4 key)."""
    conn.execute(
        "UPDATE channels SET announced_version = max(announced_version, ?), sm4_announced = 1 "
        "WHERE channel_id = ?",
        (version, channel_id),
    )


def q_told_without_sm4(conn: sqlite3.Connection) -> list[ChannelRow]:
    """The channels whose current record the provinces were told by a national that did
    not send SM4 keys yet (m014)."""
    return [
        ChannelRow(*r)
        for r in conn.execute(
            f"SELECT {_CHANNEL_COLS} FROM channels "
            "WHERE sm4_announced = 0 AND announced_version >= status_version"
        )
    ]


# -- channel applications --------------------------------------------------------------
def q_insert_application(conn: sqlite3.Connection, a: ApplicationRow) -> None:
    conn.execute(
        f"INSERT INTO channel_applications ({_APPLICATION_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            a.application_id,
            a.province,
            a.name,
            a.public_key,
            a.scopes,
            a.status,
            a.app_id,
            a.reason,
            a.applied_at,
            a.decided_at,
        ),
    )


def q_count_applications(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM channel_applications").fetchone()[0])


def q_application(conn: sqlite3.Connection, application_id: str) -> ApplicationRow | None:
    r = conn.execute(
        f"SELECT {_APPLICATION_COLS} FROM channel_applications WHERE application_id = ?",
        (application_id,),
    ).fetchone()
    return ApplicationRow(*r) if r else None


def q_list_applications(conn: sqlite3.Connection) -> list[ApplicationRow]:
    return [
        ApplicationRow(*r)
        for r in conn.execute(
            f"SELECT {_APPLICATION_COLS} FROM channel_applications ORDER BY applied_at, "
            "application_id"
        )
    ]


def q_decide_application(conn: sqlite3.Connection, a: ApplicationRow) -> None:
    conn.execute(
        "UPDATE channel_applications SET status = ?, app_id = ?, reason = ?, decided_at = ? "
        "WHERE application_id = ?",
        (a.status, a.app_id, a.reason, a.decided_at, a.application_id),
    )


def q_set_channel_status(conn: sqlite3.Connection, row: ChannelRow) -> None:
    conn.execute(
        "UPDATE channels SET status = ?, status_reason = ?, status_version = ?, "
        "status_changed_at = ? WHERE channel_id = ?",
        (row.status, row.status_reason, row.status_version, row.status_changed_at, row.channel_id),
    )


# -- terminals -------------------------------------------------------------------------
def q_insert_terminals(conn: sqlite3.Connection, terminals: Iterable[TerminalRow]) -> int:
    """Seeding: the terminals not registered yet; returns how many were inserted."""
    cur = conn.executemany(
        f"INSERT OR IGNORE INTO terminals ({_TERMINAL_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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
                t.revoked_at,
                t.revoke_reason,
            )
            for t in terminals
        ],
    )
    return cur.rowcount


def q_list_terminals(
    conn: sqlite3.Connection, province: str, limit: int, after: str
) -> list[TerminalRow]:
    """A page of terminals by id after ``after``, of one province or ("") of all."""
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


def q_terminal_provinces(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT province FROM terminals")}


def q_terminal(conn: sqlite3.Connection, terminal_id: str) -> TerminalRow | None:
    row = conn.execute(
        f"SELECT {_TERMINAL_COLS} FROM terminals WHERE terminal_id = ?", (terminal_id,)
    ).fetchone()
    return None if row is None else TerminalRow(*row)


def q_terminal_count(conn: sqlite3.Connection, province: str) -> int:
    """How many terminals were ever registered for ``province`` (revoked ones too)."""
    row = conn.execute("SELECT count(*) FROM terminals WHERE province = ?", (province,)).fetchone()
    return int(row[0])


def q_revoke_terminal(conn: sqlite3.Connection, terminal_id: str, at: int, reason: str) -> None:
    conn.execute(
        "UPDATE terminals SET revoked_at = ?, revoke_reason = ? "
        "WHERE terminal_id = ? AND revoked_at IS NULL",
        (at, reason, terminal_id),
    )
