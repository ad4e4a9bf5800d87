"""Backups of a node's SQLite database, taken while the node runs, checked, restored
(``ecnet backup``; docs/deployment.md).

* **Taken online** with SQLite's backup API (``sqlite3.Connection.backup``), in one
  step: one read transaction over the source, so the copy is the database as one commit
  left it, WAL included, while the node goes on writing (in WAL mode a reader blocks no
  writer). The copy is written beside its destination and renamed into place, so a
  destination is never half a backup. The copy's ``meta`` gets ``backup_of``: what it is
  a backup of (role, province, source, when, ecnet version), dropped again at restore.
* **No secret is in it but sealed**: a node's master key and signing key are files
  beside the database (``node.vault``, ``node.wire.signing``), never in it, and a backup
  copies the database only. The keys are made once and never change: they are kept
  apart from the backups (a copy of a backup alone opens nothing), and a restore needs
  the master key that sealed the backup, which :func:`restore` checks against the
  backup's check value (``meta.master_key_check``) before it writes anything.
* **Checked**: ``PRAGMA integrity_check``, the role (the migration set recorded in
  ``_sqlite_migrations``), the migrations applied against this program's list, the row
  counts of the role's main tables (:func:`inspect`).
* **Restored** only into a data folder no node holds: the restore takes the node's
  lock (``DATA/node.lock``, :data:`NODE_LOCK`, the one ``node.app`` takes at start) for
  its whole run, so a node cannot start half-way, and a node that runs refuses it. An
  existing database is replaced only when asked (``force``); its stale ``-wal`` and
  ``-shm`` files go with it (a WAL left behind would be replayed into the restored file).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from node.clock import SystemEntropy
from node.config import VERSION
from node.storage.db import count_rows
from node.storage.meta import q_meta_get, q_meta_set
from node.storage.migrations.national import MIGRATIONS as NATIONAL_MIGRATIONS
from node.storage.migrations.provincial import MIGRATIONS as PROVINCIAL_MIGRATIONS
from node.storage.national.store import COUNTED_TABLES as NATIONAL_TABLES
from node.storage.provincial.store import COUNTED_TABLES as PROVINCIAL_TABLES
from node.vault import KEY_CHECK_META, MasterKeyError, NodeKeys, load_master_key

__all__ = [
    "BACKUP_META",
    "NODE_LOCK",
    "BackupError",
    "BackupReport",
    "create",
    "db_file_of",
    "inspect",
    "node_lock",
    "restore",
]

# The lock file a running node holds in its data folder (node.app).
NODE_LOCK = "node.lock"
# The key of ``meta`` a backup carries: what it is a backup of (JSON).
BACKUP_META = "backup_of"
_SETS = {"ecnet-national": "national", "ecnet-provincial": "provincial"}
_MIGRATIONS = {"national": NATIONAL_MIGRATIONS, "provincial": PROVINCIAL_MIGRATIONS}
# The main tables whose rows a check counts: the status call's, and the outbox.
_TABLES = {
    "national": (*NATIONAL_TABLES, "outbox"),
    "provincial": (*PROVINCIAL_TABLES, "outbox"),
}
_PROVINCIAL_FILE = re.compile(r"provincial-(\d\d)\.db")
BUSY_TIMEOUT_S = 30.0


class BackupError(Exception):
    """A backup, check or restore that cannot be done; the message says why in one line."""


@dataclass(frozen=True)
class BackupReport:
    """What :func:`inspect` found in a database file (a backup, or a node's own)."""

    path: Path
    integrity: str  # "ok" (a damaged file is refused with SQLite's first problems)
    role: str  # national | provincial
    province: str  # NN, or "" (national; a provincial file of unknown name)
    applied: tuple[str, ...]  # migrations recorded in the file, in order
    known: tuple[str, ...]  # this program's migrations of the role
    counts: dict[str, int]
    sealed: bool  # has a master key's check value: needs that key
    key_check: str = field(default="", repr=False)
    backup_of: dict[str, str] = field(default_factory=dict)

    @property
    def unknown(self) -> tuple[str, ...]:
        """Migrations of a newer program than this one (the node would refuse them)."""
        return tuple(m for m in self.applied if m not in self.known)

    @property
    def pending(self) -> tuple[str, ...]:
        """Migrations this program's node would apply at its start."""
        return tuple(m for m in self.known if m not in self.applied)

    def as_json(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "integrity": self.integrity,
            "role": self.role,
            "province": self.province,
            "migrations": {
                "applied": len(self.applied),
                "last": self.applied[-1] if self.applied else "",
                "pending": list(self.pending),
                "unknown": list(self.unknown),
            },
            "counts": self.counts,
            "sealed": self.sealed,
            "backupOf": self.backup_of,
        }


def db_file_of(role: str, province: str = "") -> str:
    """The file name a node of ``role`` keeps its database under in its data folder."""
    return "national.db" if role == "national" else f"provincial-{province}.db"


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """``path`` opened without ever creating it (``mode``: ro, rw, rwc)."""
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_S
    )
    conn.row_factory = sqlite3.Row
    return conn


def _role_of(conn: sqlite3.Connection, path: Path) -> str:
    try:
        sets = {r[0] for r in conn.execute("SELECT DISTINCT migration_set FROM _sqlite_migrations")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a node's database ({exc})") from None
    roles = {_SETS[s] for s in sets if s in _SETS}
    if len(roles) != 1:
        raise BackupError(f"{path} is not a node's database (migration sets: {sorted(sets)})")
    return roles.pop()


def _province_of(path: Path, backup_of: dict[str, str]) -> str:
    m = _PROVINCIAL_FILE.fullmatch(path.name)
    return backup_of.get("province") or (m.group(1) if m else "")


def inspect(path: Path) -> BackupReport:
    """Check ``path`` (``PRAGMA integrity_check``: a damaged file is a
    :class:`BackupError` naming the first problems) and say what it holds."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist (or is not a file)")
    try:
        with contextlib.closing(_connect(path, "ro")) as conn:
            try:
                problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{path} is not an SQLite database ({exc})") from None
            if problems != ["ok"]:
                # nothing else read from a damaged file is to be trusted
                raise BackupError(f"{path} is damaged (integrity_check: {'; '.join(problems)})")
            role = _role_of(conn, path)
            names = conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id",
                (f"ecnet-{role}",),
            ).fetchall()
            raw = q_meta_get(conn, BACKUP_META)
            backup_of = json.loads(raw) if raw else {}
            present = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            counts = count_rows(conn, tuple(t for t in _TABLES[role] if t in present))
            key_check = q_meta_get(conn, KEY_CHECK_META) or ""
    except sqlite3.OperationalError as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    known = _MIGRATIONS[role].pending(sqlite_utils.Database(memory=True))
    return BackupReport(
        path=path,
        integrity="ok",
        role=role,
        province=_province_of(path, backup_of) if role == "provincial" else "",
        applied=tuple(r[0] for r in names),
        known=tuple(m.name for m in known),
        counts=counts,
        sealed=bool(key_check),
        key_check=key_check,
        backup_of=backup_of,
    )


def _copy(src: sqlite3.Connection, dest: Path) -> None:
    """``src`` into a new file ``dest`` through the backup API, in one step."""
    with contextlib.closing(_connect(dest, "rwc")) as target:
        src.backup(target)  # pages=-1: all of it in one read transaction of src
    dest.chmod(0o600)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sqlite_only(db: Path) -> None:
    """A PostgreSQL URL given where a database file is wanted: said so, with what does
    back up a node on PostgreSQL."""
    if str(db).split(":", 1)[0].lower() in ("postgresql", "postgres"):
        raise BackupError(
            "ecnet backup copies a node's SQLite database; a node on PostgreSQL is backed "
            "up by the server's own tools (pg_dump, or a base backup with WAL archiving: "
            "docs/deployment.md)"
        )


def create(
    db: Path, to: Path, *, force: bool = False, now: dt.datetime | None = None
) -> BackupReport:
    """Back ``db`` up into ``to`` while its node may run; the backup's report."""
    _sqlite_only(db)
    if to.is_dir():
        raise BackupError(f"{to} is a folder: give the backup's file name")
    if to.exists() and not force:
        raise BackupError(f"{to} exists: give another file, or --force to replace it")
    if not db.is_file():
        raise BackupError(f"no database at {db}")
    if to.resolve() == db.resolve():
        raise BackupError("a backup cannot be written over the database it copies")
    try:
        to.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot make {to.parent}: {exc.strerror or exc}") from None
    tmp = to.with_name(f".{to.name}.partial")
    tmp.unlink(missing_ok=True)
    try:
        with contextlib.closing(_connect(db, "rw")) as src:
            role = _role_of(src, db)
            _copy(src, tmp)
        taken = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        about = {
            "role": role,
            "province": _province_of(db, {}) if role == "provincial" else "",
            "source": str(db.resolve()),
            "takenAt": taken.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "version": VERSION,
        }
        with contextlib.closing(_connect(tmp, "rw")) as conn, conn:
            q_meta_set(conn, BACKUP_META, json.dumps(about, sort_keys=True))
        _fsync(tmp)
        os.replace(tmp, to)
        _fsync(to.parent)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot back up {db}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {to}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return inspect(to)


@contextlib.contextmanager
def node_lock(data: Path) -> Iterator[None]:
    """Hold the data folder's node lock (made when missing, the folder mode 0700), or
    refuse: a node runs on it."""
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(data / NODE_LOCK, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise BackupError(f"cannot use the data folder {data}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise BackupError(
                f"a running node holds {data} ({holder}): stop it before restoring"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_key(report: BackupReport, master_key: Path) -> None:
    """The master key at ``master_key`` opens ``report``'s database, or refuse."""
    if not report.sealed:
        return
    if not master_key.exists():
        raise BackupError(
            f"the backup is sealed under its node's master key, which is not at {master_key}: "
            "put the key back there (it is kept apart from the backups) or name it with "
            "--master-key"
        )
    try:
        # the file exists: load_master_key reads it (a missing one it would make)
        keys = NodeKeys(load_master_key(master_key, SystemEntropy()), SystemEntropy())
    except MasterKeyError as exc:
        raise BackupError(str(exc)) from None
    if keys.check_value != report.key_check:
        raise BackupError(
            f"the master key at {master_key} is not the one that sealed this backup: the "
            "node could not open it"
        )


def restore(backup: Path, db: Path, *, master_key: Path, force: bool = False) -> BackupReport:
    """Put ``backup`` in place as the database ``db`` of a stopped node; the report of
    what was restored."""
    _sqlite_only(db)
    report = inspect(backup)
    if report.unknown:
        raise BackupError(
            f"{backup} was made by a newer ecnet (migrations {', '.join(report.unknown)}): "
            "restore it with that version"
        )
    m = _PROVINCIAL_FILE.fullmatch(db.name)
    role, province = ("national", "") if db.name == "national.db" else ("provincial", "")
    if m:
        province = m.group(1)
    elif db.name != "national.db":
        raise BackupError(
            f"--db {db} is not a node's database file: DATA/national.db or DATA/provincial-NN.db"
        )
    if report.role != role or (report.province and report.province != province):
        what = f"province {report.province}" if report.role == "provincial" else "national"
        raise BackupError(f"{backup} is a backup of {what}'s database, not of {db.name}")
    data = db.parent
    with node_lock(data):
        if db.exists() and not force:
            raise BackupError(f"{db} exists: --force replaces it with the backup")
        _check_key(report, master_key)
        tmp = data / f".{db.name}.restoring"
        tmp.unlink(missing_ok=True)
        try:
            with contextlib.closing(_connect(backup, "ro")) as src:
                _copy(src, tmp)
            with contextlib.closing(_connect(tmp, "rw")) as conn, conn:
                conn.execute("DELETE FROM meta WHERE key = ?", (BACKUP_META,))
            _fsync(tmp)
            for stale in (Path(f"{db}-wal"), Path(f"{db}-shm")):
                stale.unlink(missing_ok=True)
            os.replace(tmp, db)
            _fsync(data)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"cannot restore {backup} into {db}: {exc}") from None
        except OSError as exc:
            raise BackupError(f"cannot restore into {db}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
    return report
