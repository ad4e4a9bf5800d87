"""DDL both roles' migrations call: the outbox (with its parking) and the inbox
position per origin (with its epoch).

National sends through its outbox to every province and relays what the provinces
deliver; each province sends its settlement notices to national through its own
outbox and applies what national delivers. The queries of these tables are in
:mod:`node.storage.outbox`; the rules of delivery in ``federation/delivery.py``.
Each function here is one step of a role's list (:mod:`node.storage.migrations.national`,
:mod:`node.storage.migrations.provincial`), run in that migration's transaction.
"""

from __future__ import annotations

import sqlite_utils

from node.storage.db import run_script

__all__ = [
    "create_outbox",
    "add_outbox_parking",
    "create_inbox_position",
    "add_inbox_epoch",
    "create_audit_log",
    "create_call_tally",
]


def create_outbox(db: sqlite_utils.Database) -> None:
    """The outbox and the per-destination delivery state (national m002, provincial m006)."""
    run_script(
        db,
        """
        CREATE TABLE outbox (
            -- Global and monotonic; a destination sees its events in seq order.
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            -- Two-digit province code of the receiving node.
            destination TEXT NOT NULL,
            event_id    TEXT NOT NULL,
            kind        TEXT NOT NULL,
            ec_card_no  TEXT NOT NULL,
            version     INTEGER NOT NULL,
            -- The serialized ecnet.v1.Event (its sequence field is filled at send time).
            body        BLOB NOT NULL,
            created_at  INTEGER NOT NULL,
            UNIQUE (destination, event_id)
        );
        CREATE INDEX outbox_by_destination ON outbox (destination, seq);

        CREATE TABLE delivery (
            destination       TEXT PRIMARY KEY,
            -- Highest seq the destination has acknowledged as applied.
            acked_seq         INTEGER NOT NULL DEFAULT 0,
            attempts          INTEGER NOT NULL DEFAULT 0,
            next_attempt_at   INTEGER NOT NULL DEFAULT 0,
            last_error        TEXT NOT NULL DEFAULT '',
            last_delivered_at INTEGER
        );
        """,
    )


def add_outbox_parking(db: sqlite_utils.Database) -> None:
    """Parked events and the per-lane state of narrowing a refused batch (national m007,
    provincial m009; the rule is in ``federation/delivery.py``).

    ``narrow_until``: the lane sends one event at a time while ``acked_seq`` is below it
    (the last seq of a batch the receiver refused). ``refused_seq`` / ``refusals``: how
    many consecutive times the receiver refused that one event (-2). ``outbox_parked``:
    one row per parked outbox row, by its ``seq`` (the row itself stays in ``outbox``).
    """
    run_script(
        db,
        """
        ALTER TABLE delivery ADD COLUMN narrow_until INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE delivery ADD COLUMN refused_seq INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE delivery ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;

        CREATE TABLE outbox_parked (
            -- The parked outbox row (kept in outbox, never pruned while parked).
            seq         INTEGER PRIMARY KEY,
            -- The lane that parked it (national: the destination province; a province:
            -- "national").
            destination TEXT NOT NULL,
            event_id    TEXT NOT NULL,
            kind        TEXT NOT NULL,
            -- The receiver's message on its last refusal.
            error       TEXT NOT NULL,
            parked_at   INTEGER NOT NULL
        );
        CREATE INDEX outbox_parked_by_destination ON outbox_parked (destination, seq);
        """,
    )


def create_inbox_position(db: sqlite_utils.Database) -> None:
    """The highest outbox seq applied (a province) or relayed (national) of each
    delivering node (national m005, provincial m002)."""
    run_script(
        db,
        """
        CREATE TABLE inbox_position (
            -- The delivering node: "national", or "pNN" for a province.
            origin      TEXT PRIMARY KEY,
            -- Highest outbox seq of this origin applied here.
            applied_seq INTEGER NOT NULL
        );
        """,
    )


def add_inbox_epoch(db: sqlite_utils.Database) -> None:
    """The epoch of the sender's outbox that each origin's position counts in, '' until
    a batch names one (national m006, provincial m007; ``node.storage.outbox``)."""
    run_script(db, "ALTER TABLE inbox_position ADD COLUMN epoch TEXT NOT NULL DEFAULT '';")


_AUDIT_LOG = """
        CREATE TABLE audit_log (
            -- From 1, without gaps: a missing number is a record removed.
            seq         INTEGER PRIMARY KEY,
            at          INTEGER NOT NULL,  -- ms since the epoch
            who         TEXT NOT NULL,     -- the verified identity (ecnet://…)
            peer        TEXT NOT NULL,     -- the gRPC peer address
            method      TEXT NOT NULL,
            subject     TEXT NOT NULL,     -- request fields, id numbers masked
            outcome     TEXT NOT NULL,     -- OK or the gRPC status
            code        INTEGER NOT NULL,  -- the C.4 code answered (0: OK)
            prev_digest TEXT NOT NULL,     -- SM3 (hex) of the record before
            digest      TEXT NOT NULL      -- SM3 (hex) of this record and prev_digest
        );
"""


def create_audit_log(db: sqlite_utils.Database) -> None:
    """The append-only audit log (national m011, provincial m014; the chain and its
    check are in :mod:`node.storage.audit`). The triggers refuse an UPDATE or a DELETE
    from the program; someone who edits the file around them is found by the chain of
    SM3 digests (``ecnet audit verify``)."""
    run_script(
        db,
        _AUDIT_LOG
        + """
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
        # PostgreSQL's triggers call a function, which raises the same sentence.
        postgresql=_AUDIT_LOG
        + """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        """,
    )


def create_call_tally(db: sqlite_utils.Database) -> None:
    """The calls a node answered, counted per hour, method, C.4 code and caller, and when
    each terminal or channel last called (national m017, provincial m017): the
    management center's refusals by code, channel supervision and a terminal's last
    call (``node.storage.figures``). Counted in memory and added here every few
    seconds, not per call."""
    run_script(
        db,
        """
        CREATE TABLE call_tally (
            -- The hour's first instant, milliseconds since the epoch.
            hour        INTEGER NOT NULL,
            method      TEXT NOT NULL,
            code        INTEGER NOT NULL,
            -- The channel (appId) or terminal (20 digits) that called; '' for none.
            channel_id  TEXT NOT NULL,
            terminal_id TEXT NOT NULL,
            count       INTEGER NOT NULL CHECK (count > 0),
            PRIMARY KEY (hour, method, code, channel_id, terminal_id)
        ) WITHOUT ROWID;

        CREATE TABLE callers_seen (
            -- A terminal's number or a channel's appId.
            caller  TEXT PRIMARY KEY,
            last_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
    )
