"""PostgreSQL under asyncio, as :class:`node.storage.db.Database` runs SQLite.

A node started with ``--db postgresql://…`` keeps its data here instead of in its SQLite
file. The shape of the work is the same as SQLite's, so that every guarantee the
business code relies on holds on both:

* **One writer.** Writes run on one dedicated thread, on the one connection of a pool of
  size one (``psycopg_pool``, which replaces a connection that broke), each function
  passed to :meth:`PgDatabase.write` inside one transaction that commits whole or not at
  all. Transactions of one node never interleave, as under SQLite's ``BEGIN IMMEDIATE``.
  Nor do those of several processes on one database (the replicas of a national
  cluster): each write transaction first takes one transaction-scoped advisory lock
  (``WRITER_LOCK``), held to its commit. So what SQLite's single writer guarantees holds
  across replicas too: a read-modify-write sees the last commit, and the outbox's seqs
  become visible in order (a seq given later never commits before one given earlier,
  which the delivery cursor relies on, ``federation.delivery``). A wait for that lock
  longer than the busy timeout answers -3 as any lock wait does. The price: the
  replicas' writes take turns; their reads, TLS and gRPC work do not.
* **Readers.** A pool of reader threads, each read on a connection of the reader pool in
  autocommit (as SQLite's readers, one snapshot per statement) that refuses to write
  (``default_transaction_read_only``); a read that opens ``BEGIN`` for a consistent
  snapshot gets ``REPEATABLE READ`` (SQLite's read transaction).
* **Durability.** ``synchronous=FULL`` is ``synchronous_commit=on``; NORMAL and the
  unsynced writes (:meth:`PgDatabase.write_unsynced`) commit with
  ``synchronous_commit=off``: a crash of the node loses nothing (the server holds the
  commit), a crash of the database server may lose the last fraction of a second.
* **Busy.** A write that waits for a row lock longer than the busy timeout, and a
  database that cannot be reached mid-stream, answer -3 (try again later); the pools
  connect again once the server is back.
* **Unreachable.** Once a call found the server gone (its connection broken, the pool
  failing to connect, or no connection to be had), the calls wait only
  ``UNREACHABLE_WAIT_S`` for a connection instead of the busy timeout, until a call
  has used one again: while the server is down every call is answered -3 at once, and
  the calls queued behind the one writer do not add up their waits past their callers'
  deadlines. A read on the event loop's thread (:meth:`PgDatabase.read_now`) is not
  tried at all meanwhile: it would hold the loop. The pools' reconnection in the
  background gives up after ``RECONNECT_TIMEOUT_S`` (psycopg_pool's backoff would
  otherwise grow to minutes over a long outage) and the next call starts a new attempt
  at once: the node serves again within a second or two of the server's return,
  however long it was gone.
* **Silent.** A server that vanishes without a word (a pulled cable, a firewall that
  drops, a host that froze) tells its clients nothing, and TCP by itself would retry
  for a quarter of an hour, with the node's one writer stuck in it. So every connection
  gives up on its other end after ``NETWORK_TIMEOUT_S`` without an acknowledgement,
  and probes a quiet line with keepalives (libpq's ``tcp_user_timeout`` and
  ``keepalives*``): a statement sent into the silence fails within those seconds, is
  answered -3, and marks the server gone as above. The server's end is told the same
  (the session's ``tcp_user_timeout`` and ``tcp_keepalives_*``): a backend whose node
  went silent mid-transaction ends within seconds and its locks with it, so the node's
  writes are not refused by its own dead session's writer lock once the line is back.

The SQL is the same as SQLite's: each statement goes through :mod:`node.storage.dialect`
(once per text) and the rows come back as :class:`Row`, by position and by name, as
``sqlite3.Row``. The connection handed to the ``q_*`` functions is :class:`PgConnection`,
which offers the part of ``sqlite3.Connection`` they use (``execute``, ``executemany``;
the cursor's ``fetchone``, ``fetchall``, ``rowcount`` and iteration).

Migrations are the role's list of :mod:`node.storage.migrations`, numbered the same, each
recorded by name in ``_ecnet_migrations`` in the transaction of its change, under an
advisory lock so that two processes opening one database migrate it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple, cast

import psycopg
from psycopg import adapt, postgres
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from node.errors import EcError
from node.storage import dialect
from node.storage.errors import StorageError
from node.storage.threaded import ThreadedDatabase

if TYPE_CHECKING:
    import sqlite3

    from sqlite_utils.migrations import Migrations

__all__ = ["PgDatabase", "PgConnection", "PgSchema", "Row", "redact", "is_url"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# How long opening the database waits for the server before the node gives up.
CONNECT_TIMEOUT_S = 5
# How long a connection waits for the other end's host to acknowledge what it sent, or
# to answer a keepalive probe once the line has been quiet KEEPALIVE_IDLE_S, before it
# takes the other end as gone (the module's docstring, "Silent"). Both ends apply it:
# libpq to the node's side, the session's settings to the server's.
NETWORK_TIMEOUT_S = 2
KEEPALIVE_IDLE_S = 2
KEEPALIVE_INTERVAL_S = 1
KEEPALIVE_COUNT = 2
# libpq's connection parameters for it (the node's end of each connection).
NETWORK_PARAMS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": KEEPALIVE_IDLE_S,
    "keepalives_interval": KEEPALIVE_INTERVAL_S,
    "keepalives_count": KEEPALIVE_COUNT,
    "tcp_user_timeout": NETWORK_TIMEOUT_S * 1000,
}
# How long a call waits for a connection while the server is known not to answer (the
# module's docstring, "Unreachable"): long enough for a local reconnection to land.
UNREACHABLE_WAIT_S = 0.2
# How long a pool's background reconnection retries (backoff 1 s, 2 s, ...) before it
# gives up; the next call then tries again at once.
RECONNECT_TIMEOUT_S = 2.0
# psycopg_pool's count of its failed connection attempts (ConnectionPool.get_stats).
CONNECTION_ERRORS = "connections_errors"
MIGRATIONS_TABLE = "_ecnet_migrations"
# The advisory lock taken while migrating (any number; the same for every node).
MIGRATION_LOCK = 0x6563_6E65
# The advisory lock every write transaction takes first: one writer per database, not
# only per process (the module's docstring, "One writer").
WRITER_LOCK = 0x6563_6E77


def is_url(target: object) -> bool:
    """Whether a ``--db`` target names a PostgreSQL server rather than an SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    host = str(info.get("host", "")) or "localhost"
    port = f":{info['port']}" if info.get("port") else ""
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{host}{port}/{info.get('dbname', '')}"


class Row(tuple[Any, ...]):
    """A row by position and by column name, as ``sqlite3.Row``."""

    _names: Mapping[str, int]

    def __new__(cls, values: Iterable[Any], names: Mapping[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class _IntegralNumeric(adapt.Loader):
    """``numeric`` (what ``SUM`` of a ``bigint`` column is) as an ``int`` when it has no
    fraction, as SQLite answers a sum of integers."""

    def load(self, data: adapt.Buffer) -> int | float:
        text = bytes(data).decode()
        return int(text) if "." not in text else float(text)


class _BoolAsInt(adapt.Dumper):
    """``True``/``False`` as 1/0: the schema keeps flags in ``INTEGER`` columns."""

    oid = postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class PgConnection:
    """The part of ``sqlite3.Connection`` that the ``q_*`` functions use, on a psycopg
    connection, each statement translated (:mod:`node.storage.dialect`)."""

    def __init__(
        self, conn: psycopg.Connection[Row], keys: Mapping[str, tuple[str, ...]], reader: bool
    ) -> None:
        self._conn = conn
        self._keys = keys
        self._reader = reader

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        if sql.lstrip()[:6].upper() == "PRAGMA":
            # SQLite's settings of its file (secure_delete): nothing to set on a server.
            return self._conn.execute("SELECT 1 WHERE false")
        if self._reader and sql.strip().upper() == "BEGIN":
            sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        return self._conn.execute(dialect.query(sql, self._keys), params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Any:
        cur = self._conn.cursor()
        cur.executemany(dialect.query(sql, self._keys), seq)
        return cur


class PgSchema:
    """What a migration function is given on PostgreSQL (``run_script`` runs its DDL)."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.conn = conn

    def execute(self, sql: str) -> None:
        self.conn.execute(sql.encode())


def unavailable(exc: psycopg.Error, what: str) -> EcError:
    """-3 for a database that cannot be reached or a lock held past the busy timeout."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return EcError(-3, f"the node's database {what} ({first}); try again later")


def _first_line(exc: BaseException) -> str:
    """The reason of a connection's failure in one line: libpq says "connection to server
    at …, port … failed: REASON" (once per address tried) and adds a hint line."""
    text = str(exc).strip()
    if isinstance(exc, PoolTimeout) and exc.__cause__ is not None:
        text = str(exc.__cause__).strip() or text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    reason = lines[0].rsplit("failed: ", 1)[-1].strip()
    for prefix in ("FATAL:", "ERROR:"):
        reason = reason.removeprefix(prefix).strip()
    return reason or lines[0]


class PgDatabase(ThreadedDatabase):
    """An open node database on PostgreSQL: ``await db.read(fn)``, ``await db.write(fn)``,
    the same calls as :class:`node.storage.db.Database`."""

    dialect = "postgresql"

    def __init__(
        self,
        url: str,
        migrations: Migrations,
        readers: int = 2,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        check: bool = True,
    ) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be one of NORMAL, FULL, not {synchronous!r}")
        self.url = url
        self.location = redact(url)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self.check = check
        self._migrations = migrations
        self._readers = readers
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        self._reader_pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="db-reader")
        self._write_conns: ConnectionPool[psycopg.Connection[Row]] | None = None
        self._read_conns: ConnectionPool[psycopg.Connection[Row]] | None = None
        self._keys: dict[str, tuple[str, ...]] = {}
        self.observe_write: Callable[[float], None] | None = None
        # The last call found the server gone (a broken connection, or none to be had);
        # written by the writer and reader threads alike, a hint that may be stale.
        self._unreachable = False
        self._probing = False  # a probe is under way (probe)

    # -- lifecycle -------------------------------------------------------------------
    def _configure(self, reader: bool) -> Callable[[psycopg.Connection[Any]], None]:
        sync = "on" if self.synchronous == "FULL" else "off"

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.adapters.register_loader("numeric", _IntegralNumeric)
            conn.adapters.register_dumper(bool, _BoolAsInt)
            conn.execute(f"SET lock_timeout = {int(self.busy_timeout_ms)}")
            conn.execute(f"SET synchronous_commit = {sync}")
            # The server's end of the connection: a backend whose node went silent ends
            # within seconds, and with it its transaction and the locks it held (the
            # writer lock among them), instead of waiting hours for the node's next word.
            conn.execute(f"SET tcp_keepalives_idle = {KEEPALIVE_IDLE_S}")
            conn.execute(f"SET tcp_keepalives_interval = {KEEPALIVE_INTERVAL_S}")
            conn.execute(f"SET tcp_keepalives_count = {KEEPALIVE_COUNT}")
            conn.execute(f"SET tcp_user_timeout = {NETWORK_TIMEOUT_S * 1000}")
            if reader:
                conn.execute("SET default_transaction_read_only = on")

        return configure

    def _pool(self, size: int, reader: bool) -> ConnectionPool[psycopg.Connection[Row]]:
        return ConnectionPool(
            self.url,
            min_size=1,
            max_size=size,
            open=False,
            num_workers=1,
            timeout=self.busy_timeout_ms / 1000,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            kwargs={
                "autocommit": True,
                "row_factory": _row_factory,
                "connect_timeout": CONNECT_TIMEOUT_S,
                **NETWORK_PARAMS,
            },
            configure=self._configure(reader),
            connection_class=psycopg.Connection[Row],
        )

    def open_sync(self) -> list[str]:
        """Connect, migrate, open the pools. Returns the migrations applied. A server that
        cannot be reached or refuses is a :class:`StorageError` in one line."""
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                row_factory=_row_factory,
                **NETWORK_PARAMS,
            )
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot connect to the database {self.location}: {_first_line(exc)}"
            ) from None
        try:
            applied = migrate(conn, self._migrations)
            self._keys = primary_keys(conn)
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot migrate the database {self.location}: {_first_line(exc)}"
            ) from None
        finally:
            conn.close()
        self._write_conns = self._pool(1, reader=False)
        self._read_conns = self._pool(self._readers + 1, reader=True)
        try:
            self._write_conns.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            self._read_conns.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except PoolTimeout as exc:
            self._close_pools()
            raise StorageError(
                f"cannot connect to the database {self.location}: {_first_line(exc)}"
            ) from None
        return applied

    async def open(self) -> list[str]:
        return await asyncio.get_running_loop().run_in_executor(self._writer, self.open_sync)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def _close_pools(self) -> None:
        for pool in (self._write_conns, self._read_conns):
            if pool is not None:
                pool.close()
        self._write_conns = self._read_conns = None

    def close_sync(self) -> None:
        self._writer.shutdown(wait=True)
        self._reader_pool.shutdown(wait=True)
        self._close_pools()

    # -- work ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connection(
        self, pool: ConnectionPool[psycopg.Connection[Row]]
    ) -> Iterator[psycopg.Connection[Row]]:
        """A connection of ``pool`` (:meth:`_getconn`), as ``pool.connection()`` gives
        it; one that breaks in use marks the server gone, one that does not marks it
        reachable again (a connection had from the pool proves nothing by itself: it
        may have gone silent while idle)."""
        conn = self._getconn(pool)
        try:
            with conn:
                try:
                    yield conn
                finally:
                    self._unreachable = bool(conn.closed)
        finally:
            pool.putconn(conn)

    def read_now(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """:meth:`read` on the calling thread, the event loop's (a read by key, as on
        SQLite). A call here holds the whole loop, so while the server is known gone it
        is answered -3 at once, not tried, and a probe on a reader thread finds out when
        the server is back: the loop waits for a silent server once, not once a call."""
        if self._unreachable:
            self.probe()
            raise EcError(-3, "the node's database cannot be read (unreachable); try again later")
        return self._run_read(fn, args)

    @property
    def reachable(self) -> bool:
        """False from the moment a call found the server gone (a connection broken, or
        none to be had) until one succeeds: a hint, written by every thread."""
        return not self._unreachable

    def probe(self) -> None:
        """One read on a reader thread (none while another is under way): it marks the
        server gone when it fails and reachable when it succeeds."""
        if self._probing:
            return
        self._probing = True

        def probe() -> None:
            try:
                self._run_read(_select_one, ())
            except EcError:
                pass
            finally:
                self._probing = False

        try:
            self._reader_pool.submit(probe)
        except RuntimeError:  # the node is closing: its reader threads are gone
            self._probing = False

    def _getconn(self, pool: ConnectionPool[psycopg.Connection[Row]]) -> psycopg.Connection[Row]:
        """A connection of ``pool``, waited for up to the busy timeout, in slices of
        ``UNREACHABLE_WAIT_S``: a :class:`PoolTimeout` after the first slice once the
        server is known gone (another call found it so, or the pool failed to connect
        meanwhile), and then the server is marked gone."""
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        errors = pool.get_stats().get(CONNECTION_ERRORS, 0)
        while True:
            wait = max(min(UNREACHABLE_WAIT_S, deadline - time.monotonic()), 0.001)
            try:
                return pool.getconn(timeout=wait)
            except PoolTimeout:
                failed = pool.get_stats().get(CONNECTION_ERRORS, 0) != errors
                if self._unreachable or failed or time.monotonic() >= deadline:
                    self._unreachable = True
                    raise

    def _run_read(self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]) -> T:
        pool = self._read_conns
        if pool is None:
            raise StorageError("database is not open")
        try:
            with self._connection(pool) as conn:
                try:
                    return fn(
                        cast("sqlite3.Connection", PgConnection(conn, self._keys, True)), *args
                    )
                finally:
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.rollback()
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise unavailable(cast(psycopg.Error, exc), "cannot be read") from None

    def _run_write(
        self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts], synced: bool = True
    ) -> T:
        pool = self._write_conns
        if pool is None:
            raise StorageError("database is not open")
        start = time.perf_counter()
        try:
            with self._connection(pool) as conn:
                conn.execute("BEGIN")
                try:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                    if not synced and self.synchronous == "FULL":
                        conn.execute("SET LOCAL synchronous_commit = off")
                    result = fn(
                        cast("sqlite3.Connection", PgConnection(conn, self._keys, False)), *args
                    )
                except BaseException:
                    if not conn.closed:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise unavailable(cast(psycopg.Error, exc), "cannot be written") from None
        observe = self.observe_write
        if observe is not None:
            observe(time.perf_counter() - start)
        return result

    def _run_write_unsynced(
        self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]
    ) -> T:
        return self._run_write(fn, args, synced=False)

    async def truncate_wal(self) -> None:
        """Nothing to do: the server manages its write-ahead log."""


def _select_one(conn: sqlite3.Connection) -> None:
    conn.execute("SELECT 1").fetchone()


def primary_keys(conn: psycopg.Connection[Row]) -> dict[str, tuple[str, ...]]:
    """Each table's primary key columns, in order (for ``INSERT OR REPLACE``)."""
    keys: dict[str, list[str]] = {}
    for table, column in conn.execute(
        "SELECT c.relname, a.attname FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
        "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
        "WHERE i.indisprimary ORDER BY c.relname, k.ord"
    ):
        keys.setdefault(table, []).append(column)
    return {t: tuple(cols) for t, cols in keys.items()}


def applied_migrations(conn: psycopg.Connection[Row], migrations: Migrations) -> list[str]:
    exists = conn.execute("SELECT to_regclass(%s)", (MIGRATIONS_TABLE,)).fetchone()
    if exists is None or exists[0] is None:
        return []
    return [
        r[0]
        for r in conn.execute(
            f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = %s "
            "ORDER BY applied_at, name",
            (migrations.name,),
        )
    ]


def migrate(conn: psycopg.Connection[Row], migrations: Migrations) -> list[str]:
    """Apply the pending migrations of ``migrations``, each in one transaction with its
    record, under an advisory lock. A database that recorded a migration this list
    does not have (a newer node's) is refused."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (migration_set TEXT NOT NULL, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (migration_set, name))"
    )
    names = [m.name for m in migrations._migrations]
    applied: list[str] = []
    for migration in migrations._migrations:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            other = conn.execute(
                f"SELECT migration_set FROM {MIGRATIONS_TABLE} WHERE migration_set <> %s LIMIT 1",
                (migrations.name,),
            ).fetchone()
            if other is not None:
                raise StorageError(
                    f"the database holds another node's data ({other[0]}); each node needs "
                    "a database of its own"
                )
            done = set(applied_migrations(conn, migrations))
            unknown = done - set(names)
            if unknown:
                raise StorageError(
                    f"the database's schema is newer than this node's (it has {min(unknown)}); "
                    "run a newer ecnet"
                )
            if migration.name in done:
                continue
            migration.fn(cast("Any", PgSchema(conn)))
            conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (migration_set, name, applied_at) "
                "VALUES (%s, %s, %s)",
                (migrations.name, migration.name, str(datetime.now(UTC))),
            )
            applied.append(migration.name)
    return applied
