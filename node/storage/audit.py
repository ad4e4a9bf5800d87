"""The audit log of a node (``audit_log``, :func:`node.storage.migrations.shared.create_audit_log`):
append-only, each record chained to the one before by its SM3 digest.

A record's digest is SM3 over the canonical JSON of its fields and the digest of the
record before (:func:`record_digest`; the first record's ``prev_digest`` is 64 zeros).
The last record written is also kept in ``meta`` (``audit_head``: ``SEQ DIGEST``), and
the next record is chained to it, so records removed from the end leave a gap too.
:func:`q_audit_verify` walks the log from record 1 and names the first record changed
or missing. The chain finds an edit made with a tool around the triggers (which refuse
UPDATE and DELETE from the program); it does not stop someone who rewrites every record
after the one edited and the head too: that needs a copy of the head kept elsewhere.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import astuple, dataclass

from node.domain.sm import sm3_hex
from node.storage.meta import q_meta_get, q_meta_set

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditRecord",
    "AuditCheck",
    "record_digest",
    "q_audit_append",
    "q_audit_tail",
    "q_audit_verify",
]

GENESIS = "0" * 64
_HEAD = "audit_head"
_COLUMNS = "seq, at, who, peer, method, subject, outcome, code, prev_digest, digest"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What one record says: who (the verified identity), from where (peer), what
    (method and subject, id numbers masked) and the outcome."""

    who: str
    peer: str
    method: str
    subject: str
    outcome: str
    code: int


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: int  # ms since the epoch
    who: str
    peer: str
    method: str
    subject: str
    outcome: str
    code: int
    prev_digest: str
    digest: str


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The outcome of :func:`q_audit_verify`: ``first_bad`` 0 when intact."""

    records: int
    first_bad: int = 0
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad == 0


def record_digest(seq: int, at: int, entry: AuditEntry | AuditRecord, prev_digest: str) -> str:
    """SM3 (hex) of the canonical JSON array of the record's fields and ``prev_digest``."""
    fields = [
        seq,
        at,
        entry.who,
        entry.peer,
        entry.method,
        entry.subject,
        entry.outcome,
        entry.code,
        prev_digest,
    ]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return sm3_hex(canonical.encode())


def _head(conn: sqlite3.Connection) -> tuple[int, str]:
    stored = q_meta_get(conn, _HEAD)
    if stored is None:
        return 0, GENESIS
    seq, digest = stored.split(" ", 1)
    return int(seq), digest


def q_audit_append(conn: sqlite3.Connection, entry: AuditEntry, at: int) -> AuditRecord:
    """Append ``entry`` (in the caller's write transaction), chained to the head."""
    last, prev = _head(conn)
    seq = last + 1
    digest = record_digest(seq, at, entry, prev)
    record = AuditRecord(
        seq,
        at,
        entry.who,
        entry.peer,
        entry.method,
        entry.subject,
        entry.outcome,
        entry.code,
        prev,
        digest,
    )
    conn.execute(
        f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        astuple(record),
    )
    q_meta_set(conn, _HEAD, f"{seq} {digest}")
    return record


def _record(row: tuple[int, int, str, str, str, str, str, int, str, str]) -> AuditRecord:
    return AuditRecord(*row)


def q_audit_tail(conn: sqlite3.Connection, limit: int) -> list[AuditRecord]:
    """The newest ``limit`` records, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_record(r) for r in reversed(rows)]


def q_audit_verify(conn: sqlite3.Connection) -> AuditCheck:
    """Every record from 1: its digest, its link to the one before, no number missing,
    and the last one the head the node wrote last."""
    expected, prev, count = 1, GENESIS, 0
    for row in conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq"):
        r = _record(row)
        count += 1
        if r.seq != expected:
            missing = expected if r.seq > expected else r.seq
            return AuditCheck(
                count, missing, f"record {missing} is missing: it was removed from the log"
            )
        if record_digest(r.seq, r.at, r, r.prev_digest) != r.digest:
            return AuditCheck(
                count, r.seq, f"record {r.seq} was changed: its digest does not match its fields"
            )
        if r.prev_digest != prev:
            return AuditCheck(
                count,
                r.seq,
                f"record {r.seq} was changed: it does not chain to record {r.seq - 1} "
                "(its previous digest differs)",
            )
        prev, expected = r.digest, expected + 1
    last, head = _head(conn)
    if last >= expected:
        return AuditCheck(
            count,
            expected,
            f"record {expected} is missing: the node wrote records up to {last}, the log "
            f"ends at {expected - 1}",
        )
    if last == expected - 1 and last > 0 and head != prev:
        return AuditCheck(
            count, last, f"record {last} was changed: it is not the record the node wrote last"
        )
    return AuditCheck(count)
