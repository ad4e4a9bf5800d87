"""The QR codes a province issues (table ``qr_codes`` of provincial m003) and the
requestIds of its issue calls (``qr_requests``, m004; both in
:mod:`node.storage.migrations.provincial`): all SQL of issue and refresh.

One live code per channel authorization: :func:`q_issue` moves every ``live`` code of
the authCode to ``replaced`` and inserts the new one in the same transaction, so a
code displayed earlier is dead the moment a new one exists (the payment-code practice),
and two concurrent issues for one authCode leave exactly one live code (the single
writer serializes them). A scan moves a code from ``live`` to ``used`` (the acceptance
side); expiry is ``expires_at``, checked by whoever reads the code.

Each issue also counts itself in ``qr_issued`` (the management center's figures,
:mod:`node.storage.figures`), and deletes a bounded batch of codes expired more than the
retention ago and of requestIds older than it (both through their time indexes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from node.errors import invalid
from node.storage.batch import WriteBatcher
from node.storage.db import NodeDatabase
from node.storage.figures import q_count_qr

__all__ = ["QrRow", "RequestKey", "QrStore", "q_code", "q_live_codes", "q_issue"]

_PRUNE_BATCH = 200
_COLS = (
    "code, ec_card_no, code_hash, channel_id, insu_org, voucher_version, issued_at, expires_at, "
    "state, used_at, used_by"
)


@dataclass(frozen=True, slots=True)
class QrRow:
    code: str
    ec_card_no: str
    code_hash: str
    channel_id: str
    insu_org: str
    voucher_version: int
    issued_at: int
    expires_at: int
    state: str = "live"
    used_at: int | None = None
    used_by: str | None = None


@dataclass(frozen=True, slots=True)
class RequestKey:
    """An idempotency key: (channel, method, requestId) and the request's fingerprint."""

    channel_id: str
    method: str
    request_id: str
    fingerprint: str


def q_code(conn: sqlite3.Connection, code: str) -> QrRow | None:
    r = conn.execute(f"SELECT {_COLS} FROM qr_codes WHERE code = ?", (code,)).fetchone()
    return QrRow(*r) if r else None


def q_live_codes(conn: sqlite3.Connection, code_hash: str) -> list[QrRow]:
    return [
        QrRow(*r)
        for r in conn.execute(
            f"SELECT {_COLS} FROM qr_codes WHERE code_hash = ? AND state = 'live'", (code_hash,)
        )
    ]


def _recall(conn: sqlite3.Connection, key: RequestKey) -> QrRow | None:
    r = conn.execute(
        "SELECT fingerprint, code FROM qr_requests WHERE channel_id = ? AND method = ? "
        "AND request_id = ?",
        (key.channel_id, key.method, key.request_id),
    ).fetchone()
    if r is None:
        return None
    if r[0] != key.fingerprint:
        raise invalid(
            f"requestId {key.request_id!r} was already used for a different {key.method} request"
        )
    return q_code(conn, r[1])


def _prune(conn: sqlite3.Connection, before: int) -> None:
    for table, column in (("qr_codes", "expires_at"), ("qr_requests", "created_at")):
        conn.execute(
            f"DELETE FROM {table} WHERE rowid IN "
            f"(SELECT rowid FROM {table} WHERE {column} < ? LIMIT {_PRUNE_BATCH})",
            (before,),
        )


def q_issue(
    conn: sqlite3.Connection,
    template: QrRow,
    new_code: Callable[[], str],
    key: RequestKey | None,
    prune_before: int,
) -> QrRow:
    """Kill the authCode's live codes and store a new one (``template`` with a fresh
    value from ``new_code``); with ``key``, a repeated request answers its first code."""
    if key is not None:
        prior = _recall(conn, key)
        if prior is not None:
            return prior
    conn.execute(
        "UPDATE qr_codes SET state = 'replaced' WHERE code_hash = ? AND state = 'live'",
        (template.code_hash,),
    )
    code = new_code()
    while conn.execute("SELECT 1 FROM qr_codes WHERE code = ?", (code,)).fetchone():  # 1 in 10^13
        code = new_code()
    row = QrRow(
        code,
        template.ec_card_no,
        template.code_hash,
        template.channel_id,
        template.insu_org,
        template.voucher_version,
        template.issued_at,
        template.expires_at,
    )
    conn.execute(
        "INSERT INTO qr_codes (code, ec_card_no, code_hash, channel_id, insu_org, "
        "voucher_version, issued_at, expires_at, state) VALUES (?,?,?,?,?,?,?,?, 'live')",
        (
            row.code,
            row.ec_card_no,
            row.code_hash,
            row.channel_id,
            row.insu_org,
            row.voucher_version,
            row.issued_at,
            row.expires_at,
        ),
    )
    if key is not None:
        conn.execute(
            "INSERT INTO qr_requests (channel_id, method, request_id, fingerprint, code, "
            "created_at) VALUES (?,?,?,?,?,?)",
            (key.channel_id, key.method, key.request_id, key.fingerprint, row.code, row.issued_at),
        )
    q_count_qr(conn, row.issued_at, row.channel_id)
    _prune(conn, prune_before)
    return row


class QrStore:
    """Coroutine access to the QR tables of a provincial database."""

    def __init__(self, db: NodeDatabase, writes: WriteBatcher) -> None:
        """``writes``: the province's unsynced inline writer (``ProvincialStore.unsynced``)."""
        self.db = db
        # QR display is the busiest call a province answers (a code lives a minute), and
        # a hand-off to a database thread cost more CPU than the SQL: reads by key run
        # on the loop's thread (Database.read_now), the issue's write inline when
        # SQLite's lock is free, unsynced (a lost code costs a new one).
        self.writes = writes

    def get(self, code: str) -> QrRow | None:
        return self.db.read_now(q_code, code)

    def live_codes(self, code_hash: str) -> list[QrRow]:
        return self.db.read_now(q_live_codes, code_hash)

    async def issue(
        self,
        template: QrRow,
        new_code: Callable[[], str],
        key: RequestKey | None,
        prune_before: int,
    ) -> QrRow:
        return await self.writes.write(q_issue, template, new_code, key, prune_before)
