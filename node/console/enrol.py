"""Giving an operator a console password from the nation's folder (``ecnet operators
add``, ``ecnet nation up``): written into national's database with the national node's
master key, as ``ecnet nation up`` seeds it, whether the node runs or not (SQLite lets
another process write between the node's transactions). Each change is appended to
national's audit log."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from node.clock import SystemClock, SystemEntropy
from node.console.passwords import (
    hash_password,
    new_totp_secret,
    one_time_password,
    seal_totp,
    totp_uri,
)
from node.pki import Identity
from node.storage.audit import AuditEntry, q_audit_append
from node.storage.console import q_operator, q_operator_put, q_operator_remove
from node.storage.db import NodeDatabase, open_database
from node.storage.migrations.national import MIGRATIONS
from node.storage.secrets import q_protect_national
from node.vault import MasterKeyError, NodeKeys, load_master_key

__all__ = ["Enrolment", "enrol", "has_operator", "withdraw", "ADMIN_DUTY"]

ADMIN_DUTY = "admin"
# The method name of the console's records in the audit log.
CONSOLE = "/ecnet.console/"


@dataclass(frozen=True)
class Enrolment:
    name: str
    duty: str
    password: str  # one-time: the first login sets another
    totp_uri: str  # administrators only; "" for the others


def _key_of(db_path: Path, master_key: Path) -> Path:
    """National's master key: ``master_key`` (where ``nation up`` keeps it), else the
    node's own default beside its database. Never made here: a key made for a database
    that has one would open none of its secrets."""
    for path in (master_key, db_path.parent / "master.key"):
        if path.exists():
            return path
    raise MasterKeyError(
        f"national's master key is neither {master_key} nor {db_path.parent / 'master.key'}"
    )


def _open(db_path: Path, master_key: Path, url: str | None = None) -> tuple[NodeDatabase, NodeKeys]:
    """National's database: the SQLite file ``db_path``, or ``url`` when national keeps
    its data on PostgreSQL (``ecnet-node --db``; ``db_path``'s folder is its data folder)."""
    entropy = SystemEntropy()
    keys = NodeKeys(load_master_key(_key_of(db_path, master_key), entropy), entropy)
    db = open_database(url or db_path, MIGRATIONS, readers=1)
    db.open_sync()
    db.write_sync(q_protect_national, keys, db.location)  # refuses another master key
    return db, keys


def has_operator(db_path: Path, master_key: Path, name: str, url: str | None = None) -> bool:
    db, _ = _open(db_path, master_key, url)
    try:
        return db.read_sync(q_operator, name) is not None
    finally:
        db.close_sync()


def enrol(
    db_path: Path,
    master_key: Path,
    name: str,
    duty: str,
    by: str = "ecnet cli",
    url: str | None = None,
) -> Enrolment:
    """Give operator ``name`` (role ``duty``) a one-time console password (and, an
    administrator, a new TOTP secret); its sessions end."""
    identity = Identity.operator(name, duty=duty)  # refuses a bad name or role
    password = one_time_password()
    salt, digest = hash_password(password)
    secret = new_totp_secret() if duty == ADMIN_DUTY else ""
    db, keys = _open(db_path, master_key, url)
    now = SystemClock().now_ms()

    def put(conn: sqlite3.Connection) -> None:
        sealed = seal_totp(keys, name, secret) if secret else None
        q_operator_put(conn, name, duty, salt, digest, sealed, now)
        q_audit_append(
            conn,
            AuditEntry(
                by, "local", CONSOLE + "SetOneTimePassword", f"operator={identity.uri}", "OK", 0
            ),
            now,
        )

    try:
        db.write_sync(put)
    finally:
        db.close_sync()
    return Enrolment(name, duty, password, totp_uri(name, secret) if secret else "")


def withdraw(
    db_path: Path, master_key: Path, name: str, by: str = "ecnet cli", url: str | None = None
) -> bool:
    """Remove operator ``name``'s console password and sessions; whether it had one."""
    db, _ = _open(db_path, master_key, url)
    now = SystemClock().now_ms()

    def remove(conn: sqlite3.Connection) -> bool:
        had = q_operator_remove(conn, name)
        if had:
            q_audit_append(
                conn,
                AuditEntry(by, "local", CONSOLE + "RemoveOperator", f"operator={name}", "OK", 0),
                now,
            )
        return had

    try:
        return db.write_sync(remove)
    finally:
        db.close_sync()
