"""The migrations of each role (node/storage/migrations/).

sqlite-utils records an applied migration by its name, so the names are part of every
database ever created: a list is numbered m001, m002, … without gaps, a released name
never changes, and a database built by any prefix of a list (an older node's) migrates
to the schema of a new database while keeping its rows.
"""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from node.storage.db import RoleStore, connect
from node.storage.migrations import national, provincial
from node.storage.national import NationalStore
from node.storage.provincial import ProvincialStore

ROOT = Path(__file__).resolve().parent.parent

# The names released so far, in order. A list may grow at its end; these never change.
RELEASED = {
    "national": [
        "m001_registry",
        "m002_outbox",
        "m003_lifecycle",
        "m004_frozen_index",
        "m005_relay_inbox",
        "m006_inbox_epoch",
        "m007_outbox_parking",
        "m008_channel_status",
    ],
    "provincial": [
        "m001_voucher_cache",
        "m002_inbox",
        "m003_acceptance",
        "m004_qr_requests",
        "m005_settlement",
        "m006_settlement_notices",
        "m007_inbox_epoch",
        "m008_reversals_pending",
        "m009_outbox_parking",
        "m010_account_injected_year",
        "m011_channel_status",
        "m012_settlements_by_day",
    ],
}

# Rows for every table of each role, with the columns of the newest schema; a database
# of an older schema gets each row with the columns it has (a column added later has a
# default). In an order that satisfies the foreign keys.
EC1, EC2 = "EC" + "1" * 62, "EC" + "2" * 62
# Both roles keep the same audit log (node.storage.audit).
AUDIT_ROW: dict[str, Any] = {
    "seq": 1,
    "at": 950,
    "who": "ecnet://operator/admin",
    "peer": "ipv4:127.0.0.1:50123",
    "method": "/ecnet.v1.AdminService/ListChannels",
    "subject": "",
    "outcome": "OK",
    "code": 0,
    "prev_digest": "0" * 64,
    "digest": "ab" * 32,
}

NATIONAL_ROWS: dict[str, list[dict[str, Any]]] = {
    "meta": [{"key": "population", "value": "2"}, {"key": "voucher_key", "value": "ab" * 16}],
    "persons": [
        {
            "person_id": pid,
            "user_name": name,
            "id_type": "01",
            "id_no": id_no,
            "gender": "1",
            "birthday": "1990-01-01",
            "nationality": "CHN",
            "phone": "13800000000",
            "face_template": bytes([pid]) * 32,
            "updated_at": 1_000 + pid,
        }
        for pid, name, id_no in (
            (1, "张三", "440106199001010011"),
            (2, "李四", "31011519900101002X"),
        )
    ],
    "insured_regions": [
        {"person_id": 1, "insu_org": "440100", "insu_type": "310"},
        {"person_id": 2, "insu_org": "310000", "insu_type": "310"},
    ],
    "channels": [
        {
            "channel_id": "NHSA-OFFICIAL",
            "name": "国家医保服务平台",
            "kind": "official",
            "status": "approved",
            "public_key": "",
            "created_at": 1,
            "status_reason": "",
            "status_version": 1,
            "status_changed_at": None,
        },
        {
            "channel_id": "WECHAT",
            "name": "微信",
            "kind": "third_party",
            "status": "suspended",
            "public_key": "04ab",
            "created_at": 2,
            "status_reason": "audit",
            "status_version": 3,
            "status_changed_at": 5_000,
            "scopes": "ecnet.v1.QrService/*",
            "key_version": 2,
            "announced_version": 3,
            "sm4_announced": 1,
        },
    ],
    "console_operators": [
        {
            "name": "wang",
            "duty": "auditor",
            "pw_salt": b"s" * 16,
            "pw_hash": b"h" * 32,
            "must_change": 1,
            "totp_sealed": None,
            "failures": 0,
            "locked_until": 0,
            "changed_at": 5,
        }
    ],
    "console_sessions": [
        {
            "id_digest": "d" * 64,
            "name": "wang",
            "csrf": "c" * 43,
            "created_at": 5,
            "expires_at": 6,
        }
    ],
    "call_tally": [
        {
            "hour": 3_600_000,
            "method": "/ecnet.v1.AdminService/ListNodes",
            "code": -4,
            "channel_id": "",
            "terminal_id": "",
            "count": 3,
        }
    ],
    "callers_seen": [{"caller": "WECHAT", "last_at": 7}],
    "channel_applications": [
        {
            "application_id": "CA0000000001",
            "province": "44",
            "name": "某银行",
            "public_key": "04cd",
            "scopes": "ecnet.v1.QrService/*",
            "status": "approved",
            "app_id": "WECHAT",
            "reason": "",
            "applied_at": 3,
            "decided_at": 4,
        }
    ],
    "vouchers": [
        {
            "ec_card_no": EC1,
            "person_id": 1,
            "state": 2,
            "password_hash": b"h" * 32,
            "password_salt": b"s" * 16,
            "failed_attempts": 1,
            "frozen_until": None,
            "version": 3,
            "created_at": 10,
            "activated_at": 11,
            "updated_at": 12,
            "password_iterations": 10_000,
            "frozen_at": None,
            "superseded_by": None,
            "superseded_at": None,
        },
        {
            "ec_card_no": EC2,
            "person_id": 2,
            "state": 3,
            "password_hash": None,
            "password_salt": None,
            "failed_attempts": 5,
            "frozen_until": 99_000,
            "version": 7,
            "created_at": 20,
            "activated_at": 21,
            "updated_at": 22,
            "password_iterations": None,
            "frozen_at": 22,
            "superseded_by": None,
            "superseded_at": None,
        },
    ],
    "authorizations": [
        {
            "auth_code": "A" * 32,
            "code_hash": "A" * 32,
            "ec_card_no": EC1,
            "channel_id": "NHSA-OFFICIAL",
            "created_at": 11,
            "revoked_at": None,
        },
        {
            "auth_code": "B" * 32,
            "code_hash": "B" * 32,
            "ec_card_no": EC1,
            "channel_id": "WECHAT",
            "created_at": 13,
            "revoked_at": 14,
        },
    ],
    "terminals": [
        {
            "terminal_id": "4401" + "0" * 15 + "1",
            "province": "44",
            "org_id": "H44010600001",
            "org_name": "广州市第一人民医院",
            "name": "挂号机",
            "purpose": "registration",
            "version": "1.0",
            "developer": "ecnet",
            "registered_on": "2024-01-01",
            "mac": "00:11:22:33:44:55",
        }
    ],
    "node_directory": [
        {
            "province": "44",
            "address": "127.0.0.1:50044",
            "version": "0.1.0",
            "instance_id": "i-44",
            "state": "up",
            "registered_at": 100,
            "last_heartbeat_at": 200,
            "applied_position": 3,
            "cert_not_after": 1_900_000_000_000,
        }
    ],
    "outbox": [
        {
            "seq": 5,
            "destination": "44",
            "event_id": "ev-1",
            "kind": "voucher.changed",
            "ec_card_no": EC1,
            "version": 3,
            "body": b"\x0a\x04ev-1",
            "created_at": 300,
        }
    ],
    "delivery": [
        {
            "destination": "44",
            "acked_seq": 4,
            "attempts": 2,
            "next_attempt_at": 400,
            "last_error": "unavailable",
            "last_delivered_at": 250,
            "narrow_until": 5,
            "refused_seq": 5,
            "refusals": 1,
        }
    ],
    "delivery_leases": [{"receiver": "44", "holder": "host:123:abcd", "expires_at": 1000}],
    "activation_serials": [
        {
            "serial": "rn-1",
            "kind": "real_name",
            "person_id": 1,
            "channel_id": "NHSA-OFFICIAL",
            "parent": None,
            "identity_tag": "tag",
            "challenge": "c0ffee",
            "password_hash": None,
            "password_salt": None,
            "password_iterations": None,
            "attempts": 0,
            "created_at": 500,
            "expires_at": 800,
            "used_at": None,
        }
    ],
    "liveness_seen": [{"digest": b"d" * 32, "seen_at": 600}],
    "voucher_provinces": [{"ec_card_no": EC1, "province": "44"}],
    "idempotency": [
        {
            "channel_id": "NHSA-OFFICIAL",
            "method": "Activate",
            "request_id": "r-1",
            "fingerprint": "fp",
            "result": "{}",
            "created_at": 700,
        }
    ],
    "inbox_position": [{"origin": "p44", "applied_seq": 9, "epoch": "e44"}],
    "outbox_parked": [
        {
            "seq": 5,
            "destination": "44",
            "event_id": "ev-1",
            "kind": "voucher.changed",
            "error": "malformed",
            "parked_at": 900,
        }
    ],
    "audit_log": [AUDIT_ROW],
}

PROVINCIAL_ROWS: dict[str, list[dict[str, Any]]] = {
    "meta": [{"key": "qr_key", "value": "cd" * 16}],
    "voucher_cache": [
        {
            "ec_card_no": EC1,
            "id_type": "01",
            "id_no": "440106199001010011",
            "user_name": "张三",
            "gender": "1",
            "birthday": "1990-01-01",
            "nationality": "CHN",
            "insured_regions": '[{"insuOrg": "440100", "insuType": "310"}]',
            "state": 2,
            "version": 3,
            "source": "pushed",
            "updated_at": 10,
        }
    ],
    "inbox_position": [{"origin": "national", "applied_seq": 12, "epoch": "e-nat"}],
    "inbox_events": [{"event_id": "ev-1", "origin": "national", "seq": 12, "applied_at": 20}],
    "channel_auths": [
        {
            "auth_code": "A" * 32,
            "code_hash": "A" * 32,
            "ec_card_no": EC1,
            "channel_id": "NHSA-OFFICIAL",
            "channel_name": "国家医保服务平台",
            "authorized_at": 11,
            "revoked": 0,
            "revoked_at": None,
        }
    ],
    "qr_codes": [
        {
            "code": "Q" * 40,
            "ec_card_no": EC1,
            "auth_code": "A" * 32,
            "code_hash": "A" * 32,
            "channel_id": "NHSA-OFFICIAL",
            "insu_org": "440100",
            "voucher_version": 3,
            "issued_at": 30,
            "expires_at": 90,
            "state": "used",
            "used_at": 40,
            "used_by": "4401" + "0" * 15 + "1",
        }
    ],
    "ec_tokens": [
        {
            "token": "T" * 32,
            "ec_card_no": EC1,
            "org_id": "H44010600001",
            "business_type": "01",
            "insu_org": "440100",
            "id_type": "01",
            "id_no": "440106199001010011",
            "user_name": "张三",
            "issued_at": 40,
            "expires_at": 400,
            "settled_at": 50,
        }
    ],
    "terminals": [
        {
            "terminal_id": "4401" + "0" * 15 + "1",
            "org_id": "H44010600001",
            "org_name": "广州市第一人民医院",
            "name": "挂号机",
            "mac": "00:11:22:33:44:55",
            "synced_at": 5,
        }
    ],
    "qr_requests": [
        {
            "channel_id": "NHSA-OFFICIAL",
            "method": "IssueQrCode",
            "request_id": "r-1",
            "fingerprint": "fp",
            "code": "Q" * 40,
            "created_at": 30,
        }
    ],
    "settlements": [
        {
            "settlement_id": "s-1",
            "kind": "local",
            "state": "settled",
            "serving_province": "44",
            "org_id": "H44010600001",
            "request_id": "r-1",
            "request_digest": "dg",
            "ec_token": "T" * 32,
            "ec_card_no": EC1,
            "id_type": "01",
            "id_no": "440106199001010011",
            "user_name": "张三",
            "insu_org": "440100",
            "settled_by": "44",
            "med_type": "outpatient",
            "items": "[]",
            "year": 2026,
            "fee_sumamt": 1000,
            "fund_pay": 600,
            "psn_acct_pay": 300,
            "own_pay_amt": 100,
            "deductible_part": 0,
            "acct_balance": 4700,
            "created_at": 50,
            "settled_at": 51,
            "reversed_at": None,
            "reverse_request_id": "",
        }
    ],
    "personal_accounts": [
        {
            "id_type": "01",
            "id_no": "440106199001010011",
            "insu_org": "440100",
            "balance": 4700,
            "opened_at": 1_767_198_600_000,
            "updated_at": 1_767_198_600_051,
            "injected_year": 2026,
        }
    ],
    "accumulators": [
        {
            "id_type": "01",
            "id_no": "440106199001010011",
            "insu_org": "440100",
            "year": 2026,
            "deductible_paid": 0,
            "fund_paid": 600,
        }
    ],
    "outbox": [
        {
            "seq": 2,
            "destination": "31",
            "event_id": "notice:s-1:settled",
            "kind": "settlement.notice",
            "ec_card_no": EC1,
            "version": 1,
            "body": b"\x0a\x02n1",
            "created_at": 52,
        }
    ],
    "delivery": [
        {
            "destination": "national",
            "acked_seq": 1,
            "attempts": 0,
            "next_attempt_at": 0,
            "last_error": "",
            "last_delivered_at": 40,
            "narrow_until": 0,
            "refused_seq": 0,
            "refusals": 0,
        }
    ],
    "settlement_notices": [
        {
            "settlement_id": "s-9",
            "state": "settled",
            "version": 1,
            "ec_card_no": EC1,
            "id_type": "01",
            "id_no": "440106199001010011",
            "insu_org": "310000",
            "settled_by": "31",
            "med_type": "pharmacy",
            "fee_sumamt": 200,
            "fund_pay": 0,
            "psn_acct_pay": 200,
            "own_pay_amt": 0,
            "at_ms": 60,
            "received_at": 61,
        }
    ],
    "reversals_pending": [{"settlement_id": "s-1", "request_id": "rv-1", "asked_at": 70}],
    "outbox_parked": [
        {
            "seq": 2,
            "destination": "national",
            "event_id": "notice:s-1:settled",
            "kind": "settlement.notice",
            "error": "malformed",
            "parked_at": 80,
        }
    ],
    "channel_status": [
        {
            "channel_id": "WECHAT",
            "status": "suspended",
            "reason": "audit",
            "version": 3,
            "updated_at": 90,
            "public_key": "04ab",
            "scopes": "ecnet.v1.QrService/*",
            "sm4_sealed": b"\x01" + b"s" * 44,
        }
    ],
    "call_tally": [
        {
            "hour": 3_600_000,
            "method": "/ecnet.v1.AdminService/ListNodes",
            "code": -4,
            "channel_id": "",
            "terminal_id": "",
            "count": 3,
        }
    ],
    "callers_seen": [{"caller": "WECHAT", "last_at": 7}],
    "qr_issued": [{"hour": 7_200_000, "channel_id": "WECHAT", "count": 2}],
    "audit_log": [AUDIT_ROW],
}

ROLES: dict[str, tuple[Migrations, type[RoleStore], dict[str, list[dict[str, Any]]]]] = {
    "national": (national.MIGRATIONS, NationalStore, NATIONAL_ROWS),
    "provincial": (provincial.MIGRATIONS, ProvincialStore, PROVINCIAL_ROWS),
}
# Tables that hold no data of their own.
BOOKKEEPING = {"sqlite_sequence", Migrations.migrations_table}


def names(migrations: Migrations) -> list[str]:
    """The names of a list, in order (every one is pending on an empty database)."""
    return [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]


def tables(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if r[0] not in BOOKKEEPING
    ]


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def schema(path: Path) -> list[tuple[str, str, str, str]]:
    """sqlite_master, whitespace in the SQL collapsed, in name order."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return sorted((t, n, tbl, " ".join((sql or "").split())) for t, n, tbl, sql in rows)


def contents(conn: sqlite3.Connection, table: str, cols: list[str]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(r) for r in conn.execute(f"SELECT {', '.join(cols)} FROM {table}")), key=repr
    )


def build_prefix(path: Path, migrations: Migrations, k: int) -> None:
    """A database with the first ``k`` migrations of the list applied, as an older node
    left it (the rest pending)."""
    conn = connect(path)
    try:
        todo = names(migrations)
        db = sqlite_utils.Database(conn)
        if k < len(todo):
            migrations.apply(db, stop_before=todo[k])
        else:
            migrations.apply(db)
        assert [m.name for m in migrations.applied(db)] == todo[:k]
    finally:
        conn.close()


# Columns a migration renamed (table, old name) -> new name: a row gives both names, and
# the older database's column is compared under its new name after the upgrade.
RENAMED = {
    ("authorizations", "auth_code"): "code_hash",
    ("channel_auths", "auth_code"): "code_hash",
    ("qr_codes", "auth_code"): "code_hash",
}


def seed(path: Path, rows: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[list[str], list]]:
    """Insert each table's rows with the columns it has now; returns, per table, those
    columns and the table's contents."""
    conn = connect(path)
    try:
        present = set(tables(conn))
        conn.execute("BEGIN")
        for table, table_rows in rows.items():
            if table not in present:
                continue
            cols = columns(conn, table)
            for row in table_rows:
                have = [c for c in row if c in cols]
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(have)}) "
                    f"VALUES ({', '.join('?' * len(have))})",
                    [row[c] for c in have],
                )
        conn.execute("COMMIT")
        return {t: (columns(conn, t), contents(conn, t, columns(conn, t))) for t in present}
    finally:
        conn.close()


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_list_is_numbered_from_m001_without_gaps(role):
    listed = names(ROLES[role][0])
    numbers = []
    for name in listed:
        match = re.fullmatch(r"m(\d{3})_[a-z0-9_]+", name)
        assert match, f"{role} migration {name!r} is not named mNNN_what"
        numbers.append(int(match[1]))
    assert len(set(listed)) == len(listed), f"{role}: a name is used twice: {listed}"
    assert numbers == list(range(1, len(listed) + 1)), (
        f"{role}: migrations must be numbered 1, 2, … in list order: {listed}"
    )


@pytest.mark.parametrize("role", sorted(ROLES))
def test_released_names_stay_as_they_are(role):
    # Existing databases recorded these names: renaming, removing or reordering one
    # would apply it a second time (or never) there. New migrations go at the end.
    listed = names(ROLES[role][0])
    assert listed[: len(RELEASED[role])] == RELEASED[role]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_table_has_rows_for_the_upgrade_test(role, tmp_path):
    migrations, store_cls, rows = ROLES[role]
    store = store_cls(tmp_path / "fresh.db")
    store.db.open_sync()
    store.db.close_sync()
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        missing = [t for t in tables(conn) if not rows.get(t)]
        unknown = {
            f"{t}.{c}"
            for t, table_rows in rows.items()
            for row in table_rows
            for c in row
            if c not in columns(conn, t) and (t, c) not in RENAMED
        }
    assert not missing, f"add rows for these {role} tables to this test: {missing}"
    assert not unknown, f"these columns are not in the {role} schema: {sorted(unknown)}"


UPGRADES = [(role, k) for role in sorted(ROLES) for k in range(1, len(names(ROLES[role][0])) + 1)]


@pytest.mark.parametrize(
    ("role", "k"),
    UPGRADES,
    ids=[f"{role}-after-{names(ROLES[role][0])[k - 1]}" for role, k in UPGRADES],
)
def test_an_older_database_migrates_and_keeps_its_rows(role, k, tmp_path):
    migrations, store_cls, rows = ROLES[role]
    listed = names(migrations)
    old = tmp_path / "old.db"
    build_prefix(old, migrations, k)
    before = seed(old, rows)
    assert all(contents for _, contents in before.values()), before

    store = store_cls(old)
    applied = store.db.open_sync()
    store.db.close_sync()
    assert applied == listed[k:]

    fresh = store_cls(tmp_path / "fresh.db")
    fresh.db.open_sync()
    fresh.db.close_sync()
    assert schema(old) == schema(tmp_path / "fresh.db")

    conn = connect(old)
    try:
        for table, (cols, kept) in before.items():
            cols = [RENAMED.get((table, c), c) for c in cols]
            assert contents(conn, table, cols) == kept, table
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        recorded = conn.execute(
            f"SELECT name FROM {Migrations.migrations_table} WHERE migration_set = ? "
            "ORDER BY rowid",
            (migrations.name,),
        ).fetchall()
        assert [r[0] for r in recorded] == listed
    finally:
        conn.close()


# -- all SQL in node/storage ----------------------------------------------------------
SQL_CALLS = {"execute", "executemany", "executescript"}


def test_sql_runs_only_in_node_storage():
    # A connection's execute* outside node/storage is SQL outside storage. bench/ reads
    # and prepares databases of stopped or measured nodes directly, on purpose.
    found = []
    for package in ("node", "federation", "cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("node", "storage"):
                continue
            for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in SQL_CALLS
                ):
                    found.append(f"{rel}:{call.lineno}")
    assert not found, f"SQL outside node/storage (move it into a q_* function there): {found}"
