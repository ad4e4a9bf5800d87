"""SQLite under asyncio: one writer thread, a small pool of reader threads.

Every node owns one SQLite file in WAL mode. Writes run on a single dedicated thread
inside ``BEGIN IMMEDIATE`` transactions, so there is exactly one writer and a function
passed to :meth:`Database.write` either commits whole or leaves nothing behind. Reads
run on a separate small pool, each thread holding its own connection, so the event
loop never blocks on disk and readers never wait for the writer (WAL).

Two exceptions, for speed: a province's unsynced writes (scans, QR codes) may run on
the event loop's thread on a connection of their own when SQLite's write lock is free
(``WriteBatcher(inline=True)`` in :mod:`node.storage.batch`, where the reasons and the
limits are written down; SQLite's lock still admits one writing transaction at a time
across both); and a read of a few rows by key may run on the loop's thread
(:meth:`Database.read_now`).

The modules of :mod:`node.storage` are the only ones that hold SQL; they hand plain
functions ``fn(conn, ...)`` to ``read`` and ``write``. Each role's migrations, applied
by :meth:`Database.open_sync`, are in :mod:`node.storage.migrations`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar, TypeVarTuple

import sqlite_utils
from sqlite_utils.migrations import Migrations

from node.errors import EcError
from node.storage.errors import StorageError
from node.storage.threaded import ThreadedDatabase
from node.vault import NodeKeys

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CACHE_MIB",
    "Database",
    "NodeDatabase",
    "open_database",
    "RoleStore",
    "StorageError",
    "connect",
    "count_rows",
    "run_script",
]

# How long a connection waits for SQLite's write lock held by someone else (another
# process on the file, a backup, a long transaction) before the call gives up with -3.
# Shorter than the deadlines callers give (the CLI's and the provinces' 10 s), so the
# caller hears "busy, try again" rather than its own deadline expiring, and a writer
# thread is not stuck for longer than that.
BUSY_TIMEOUT_MS = 5000

# SQLite's page cache of each connection, in MiB (SQLite's own default is 2 MiB). Pages
# are taken as they are read, so a small database uses little of it. On a registry of
# ten million persons a routed scan or a settlement reads index pages spread over
# gigabytes; with 2 MiB nearly every lookup below the top levels of a B-tree went back
# to the OS (make bench-scale, docs/scale.md).
CACHE_MIB = 64

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class OtherSchema(Protocol):
    """What a migration function is given on a database other than SQLite (on
    PostgreSQL, ``node.storage.postgres.PgSchema``): one DDL statement at a time."""

    def execute(self, sql: str) -> None: ...


# The values of PRAGMA synchronous a node may run its writer with.
SYNCHRONOUS = ("NORMAL", "FULL")


def connect(
    path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, cache_mib: int = CACHE_MIB
) -> sqlite3.Connection:
    """A connection with the pragmas every ecnet connection uses."""
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed transaction survives a crash of the process
    # (kill -9); only a power loss may drop the last few commits. The writer's
    # connection is set to FULL by default (Database(synchronous=...)).
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
    return conn


def busy(exc: sqlite3.OperationalError, busy_timeout_ms: int) -> EcError | None:
    """-3 for SQLite's "database is locked" (its write lock held past the busy timeout
    by another connection or process); None for any other error, which stays a bug."""
    text = str(exc)
    if "database is locked" not in text and "database table is locked" not in text:
        return None
    return EcError(
        -3,
        f"the node's database stayed busy for {busy_timeout_ms / 1000:g} s (locked by "
        "another connection or process); try again later",
    )


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check``: a :class:`StorageError` in one line naming the first problem
    when the file's pages or structure are damaged."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    if rows != ["ok"]:
        first = str(rows[0]).replace("\n", " ").strip()
        raise StorageError(
            f"database {path} is damaged (PRAGMA quick_check: {first}); the node will not "
            "serve it: restore it from a backup or a province's resync"
        )


def _check_readable(path: Path) -> None:
    if path.exists():
        if path.is_dir():
            raise StorageError(f"database path {path} is a directory, not a file")
        try:
            with path.open("rb") as fh:
                header = fh.read(16)
        except OSError as exc:
            raise StorageError(f"cannot read database file {path}: {exc.strerror}") from exc
        if header and header != b"SQLite format 3\x00":
            raise StorageError(f"{path} is not an SQLite database (unexpected file header)")


def run_script(
    db: sqlite_utils.Database | sqlite3.Connection | OtherSchema,
    script: str,
    *,
    postgresql: str | None = None,
) -> None:
    """Run several statements inside the caller's transaction.

    ``sqlite3.executescript`` would commit first, splitting a migration from the record
    of it having been applied; this runs the statements one by one instead. On
    PostgreSQL the script is translated (:func:`node.storage.dialect.script`), or
    ``postgresql`` is run instead where the two must differ.
    """
    if not isinstance(db, (sqlite_utils.Database, sqlite3.Connection)):
        from node.storage import dialect

        for pg_statement in dialect.script(postgresql if postgresql is not None else script):
            db.execute(pg_statement)
        return
    statement = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:60]}")


def migrate(conn: sqlite3.Connection, migrations: Migrations) -> list[str]:
    """Apply pending migrations, each recorded in the same transaction as its change."""
    db = sqlite_utils.Database(conn)
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


class NodeDatabase(Protocol):
    """What the stores and the business code use of a node's database, whichever the
    backend: :class:`Database` (SQLite, the default) or
    :class:`node.storage.postgres.PgDatabase` (``--db postgresql://…``). The functions
    handed to ``read`` and ``write`` take a connection with the calls of
    ``sqlite3.Connection`` the ``q_*`` functions use."""

    dialect: str
    synchronous: str
    busy_timeout_ms: int
    observe_write: Callable[[float], None] | None

    @property
    def location(self) -> str: ...
    def open_sync(self) -> list[str]: ...
    async def open(self) -> list[str]: ...
    async def close(self) -> None: ...
    def close_sync(self) -> None: ...
    async def read(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T: ...
    async def write(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T: ...
    async def write_unsynced(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T: ...
    def read_now(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T: ...
    @property
    def reachable(self) -> bool: ...
    def probe(self) -> None: ...
    async def truncate_wal(self) -> None: ...
    def write_sync(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T: ...
    def read_sync(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T: ...


def open_database(
    target: Path | str,
    migrations: Migrations,
    readers: int = 2,
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    check: bool = True,
    cache_mib: int = CACHE_MIB,
) -> NodeDatabase:
    """The database at ``target``: a ``postgresql://`` URL or an SQLite file (not opened
    yet: ``open`` / ``open_sync``). psycopg is imported only for a URL. ``cache_mib``:
    SQLite's page cache of each connection (PostgreSQL's is the server's)."""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from node.storage.postgres import PgDatabase

        return PgDatabase(target, migrations, readers, synchronous, busy_timeout_ms, check)
    return Database(target, migrations, readers, synchronous, busy_timeout_ms, check, cache_mib)


class Database(ThreadedDatabase):
    """An open node database: ``await db.read(fn)``, ``await db.write(fn)``."""

    dialect = "sqlite"

    def __init__(
        self,
        path: Path | str,
        migrations: Migrations,
        readers: int = 2,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        check: bool = True,
        cache_mib: int = CACHE_MIB,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.cache_mib = cache_mib
        # PRAGMA quick_check at open (a damaged file is refused before it is served).
        self.check = check
        # Of the writer's connection: FULL syncs the WAL to disk at every commit, so a
        # commit survives a power loss too (NORMAL: a crash of the process only).
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}"
            )
        self.synchronous = synchronous.upper()
        self._migrations = migrations
        self._readers = readers
        self._writer_conn: sqlite3.Connection | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        self._reader_pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="db-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Told the seconds of each write transaction committed (BEGIN to COMMIT, on the
        # thread that ran it): node.metrics's ecnet_db_write_seconds.
        self.observe_write: Callable[[float], None] | None = None

    @property
    def location(self) -> str:
        """The file, for messages."""
        return str(self.path)

    # -- lifecycle -------------------------------------------------------------------
    def open_sync(self) -> list[str]:
        """Open (creating if needed) and migrate. Returns the migrations applied."""
        _check_readable(self.path)
        try:
            conn = connect(self.path, self.busy_timeout_ms, self.cache_mib)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if self.check:
                quick_check(conn, self.path)
            applied = migrate(conn, self._migrations)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        self._writer_conn = conn
        return applied

    async def open(self) -> list[str]:
        return await asyncio.get_running_loop().run_in_executor(self._writer, self.open_sync)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def _close_writer(self) -> None:
        if self._writer_conn is not None:
            self._writer_conn.close()
            self._writer_conn = None

    # -- work ------------------------------------------------------------------------
    def _reader_conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self.busy_timeout_ms, self.cache_mib)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]) -> T:
        try:
            return fn(self._reader_conn(), *args)
        except sqlite3.OperationalError as exc:
            raise busy(exc, self.busy_timeout_ms) or exc from None

    def _run_write(self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]) -> T:
        conn = self._writer_conn
        if conn is None:
            raise StorageError("database is not open")
        start = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise busy(exc, self.busy_timeout_ms) or exc from None
        try:
            result = fn(conn, *args)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            err = busy(exc, self.busy_timeout_ms)
            if err is None:
                raise
            conn.execute("ROLLBACK")
            raise err from None
        observe = self.observe_write
        if observe is not None:
            observe(time.perf_counter() - start)
        return result

    def _run_write_unsynced(
        self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]
    ) -> T:
        conn = self._writer_conn
        if conn is None or self.synchronous == "NORMAL":
            return self._run_write(fn, args)
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            return self._run_write(fn, args)
        finally:
            conn.execute(f"PRAGMA synchronous={self.synchronous}")

    async def truncate_wal(self) -> None:
        """Checkpoint the whole WAL into the database and truncate it (after secrets were
        converted, so that no frame of the old rows stays in the WAL file)."""

        def run() -> None:
            if self._writer_conn is not None:
                self._writer_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        await asyncio.get_running_loop().run_in_executor(self._writer, run)

    def close_sync(self) -> None:
        self._writer.submit(self._close_writer).result()
        self._writer.shutdown(wait=True)
        self._reader_pool.shutdown(wait=True)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()


def count_rows(conn: sqlite3.Connection, tables: tuple[str, ...]) -> dict[str, int]:
    """Row counts for a status call. The tables are never deleted from, and count(*)
    over a million rows costs about 10 ms: fine for status, never on a hot path."""
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


class RoleStore:
    """Base of the per-role stores: their database, migrations and counted tables."""

    MIGRATIONS: Migrations
    COUNTED_TABLES: tuple[str, ...] = ()

    def __init__(
        self,
        target: Path | str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        check: bool = True,
        cache_mib: int = CACHE_MIB,
    ) -> None:
        """``target``: the SQLite file, or a ``postgresql://`` URL (``--db``)."""
        self.db = open_database(
            target,
            self.MIGRATIONS,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            check=check,
            cache_mib=cache_mib,
        )
        self._keys: NodeKeys | None = None

    @property
    def keys(self) -> NodeKeys:
        """The node's keys (``node.vault``), given by the role's ``unlock``."""
        if self._keys is None:
            raise StorageError("the database is not unlocked with the node's master key")
        return self._keys

    async def open(self) -> list[str]:
        return await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def counts(self) -> dict[str, int]:
        return await self.db.read(count_rows, self.COUNTED_TABLES)
