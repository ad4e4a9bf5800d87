"""Group commit for small write transactions (settlements; scans and QR codes through
``ProvincialStore.unsynced``), and the hand-off to the writer thread that a write can
skip.

A scan writes once (claim + token, or cache + token). Handing each write to the
database's writer thread on its own costs a thread hand-off and a commit per scan, more
than the SQL itself. :class:`WriteBatcher` coalesces them: writes that arrive while a
batch is being written wait for the next one, and each batch is one ``BEGIN
IMMEDIATE`` transaction on the node's single writer (``Database.write``). A write that
raises is undone alone (the batch is replayed with a savepoint per write) and its
caller gets the exception; the others commit. Under no load a batch holds one write,
so latency never grows; under load the batch grows with it.

Every guarantee of a single write still holds: the writes of a batch run one after
the other in one transaction on the one writer thread, so a claim (``UPDATE … WHERE
state = 'live'``) sees the claims before it, in the batch or committed.

``inline=True`` (scans): a hand-off to the writer thread costs more CPU than a
scan's SQL (measured on a 2-core VM: about 70 µs of thread wake-ups and GIL hand-over
per hand-off, against 55–80 µs for a claim and its commit), and the hand-off is paid
per batch, which under a routed load holds one write. So the batcher first runs the
write right away, on the event loop's thread, in its own ``BEGIN IMMEDIATE``
transaction on a connection of its own whose busy timeout is zero. SQLite's write lock
is free unless the writer thread is inside a transaction; then the ``BEGIN`` fails at
once (``SQLITE_BUSY``) and the write joins the writer thread's next batch as above.
SQLite's lock keeps one writer at a time across both connections, so every guarantee
above still holds (a claim sees every claim committed before it, exactly one of
concurrent claims of a code succeeds), and a write that raises is rolled back alone.
The transaction never spans an ``await``: it holds the lock for the length of its SQL,
never while the loop waits, so the writer thread's own writes wait at most that long
(SQLite's busy handler retries them).

That connection does not checkpoint on commit (a checkpoint syncs the disk, which must
not block the loop). Every ``CHECKPOINT_EVERY`` commits a passive checkpoint runs
inside a transaction of the writer thread, on a connection of its own; while it runs,
scans' writes go to the writer thread's queue (so none is appended to the WAL
meanwhile, the checkpoint copies all of it, and the next write starts the WAL over).

Durability: ``synced=True`` (the default) commits as the database's writer does
(``synchronous=FULL`` unless the node is set otherwise), on both paths; an inline sync
then blocks the loop for the length of an fsync. Scans use ``synced=False``: their
commits (a claim and its token, or a cache update and its token) survive a crash of
the process but not a power loss. What such a loss forgets costs a repeat and moves
no money: a forgotten claim leaves the code live until it expires (a minute), a
forgotten token makes the settlement answer 500067 and the holder scans again.
Settlements, which move money, are synced (``node.settlement``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, TypeVarTuple

from node.storage.db import Database, NodeDatabase, connect

__all__ = ["WriteBatcher", "MAX_BATCH", "CHECKPOINT_EVERY"]

log = logging.getLogger("ecnet.acceptance")

# Writes per transaction at most: bounds the time the writer holds the lock.
MAX_BATCH = 64
# Inline mode: commits between two checkpoints (a scan's commit writes 3 to 5 pages, so
# about SQLite's own 1000 pages between automatic checkpoints).
CHECKPOINT_EVERY = 250

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# A write of a batch: ``fn(conn, *args)``. The writes queued together have any shape.
_Write = tuple[Callable[..., Any], tuple[Any, ...]]
_Item = tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]


class _Busy(enum.Enum):
    """The type of :data:`_BUSY` (an enum member, so a check of it narrows the type)."""

    BUSY = object()


_BUSY: Final = _Busy.BUSY


def _run_batch(conn: sqlite3.Connection, items: list[_Write]) -> list[tuple[bool, Any]]:
    """Every write of the batch; on the rare exception (a bug, a constraint), the batch
    is undone and run again with a savepoint per write, so only the failing one is lost."""
    conn.execute("SAVEPOINT batch")
    try:
        results = [(True, fn(conn, *args)) for fn, args in items]
    except Exception:
        conn.execute("ROLLBACK TO batch")
        results = []
        for fn, args in items:
            conn.execute("SAVEPOINT one")
            try:
                results.append((True, fn(conn, *args)))
            except Exception as exc:
                conn.execute("ROLLBACK TO one")
                results.append((False, exc))
            conn.execute("RELEASE one")
    conn.execute("RELEASE batch")
    return results


def _checkpoint_done(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("WAL checkpoint failed", extra={"fields": {"error": str(task.exception())}})


def _checkpoint_tx(conn: sqlite3.Connection, path: str) -> None:
    """Run inside a writer-thread transaction, which holds the write lock: no frame is
    appended meanwhile, so the checkpoint copies the whole WAL and the next write
    starts it over."""
    ckpt = connect(path)
    try:
        ckpt.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        ckpt.close()


class WriteBatcher:
    def __init__(self, db: NodeDatabase, *, inline: bool = False, synced: bool = True) -> None:
        self.db = db
        # False: commits are not synced to disk (see "Durability" above), on either path.
        self._synced = synced
        self._pending: list[_Item] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        # Inline mode: the loop thread's own connection (opened on first use). SQLite only:
        # on PostgreSQL every write goes to the writer thread's batches.
        self._sqlite = db if isinstance(db, Database) else None
        self._inline = inline and self._sqlite is not None
        self._conn: sqlite3.Connection | None = None
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """``fn(conn, *args)`` in its own transaction right away (inline mode, the lock
        free) or in the writer thread's next batch; its result, or its exception raised."""
        if self._inline and (self._checkpoint is None or self._checkpoint.done()):
            result = self._write_now(fn, args)
            if result is not _BUSY:
                return result
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, args, future))
        if not self._draining:
            self._draining = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    # -- inline ----------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        assert self._sqlite is not None  # inline mode is SQLite's
        conn = connect(self._sqlite.path, self.db.busy_timeout_ms, self._sqlite.cache_mib)
        conn.execute("PRAGMA busy_timeout=0")  # a held lock sends the write to the writer thread
        conn.execute("PRAGMA wal_autocheckpoint=0")  # see _after_commit
        conn.execute(f"PRAGMA synchronous={self.db.synchronous if self._synced else 'NORMAL'}")
        self._conn = conn
        return conn

    def _write_now(
        self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]
    ) -> T | Literal[_Busy.BUSY]:
        conn = self._conn or self._open()
        start = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                return _BUSY
            raise
        try:
            result = fn(conn, *args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        observe = self.db.observe_write
        if observe is not None:
            observe(time.perf_counter() - start)
        self._after_commit()
        return result

    def _after_commit(self) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or (
            self._checkpoint is not None and not self._checkpoint.done()
        ):
            return
        self._commits = 0
        self._checkpoint = asyncio.get_running_loop().create_task(
            self.db.write(_checkpoint_tx, self.db.location)
        )
        self._checkpoint.add_done_callback(_checkpoint_done)

    async def close(self) -> None:
        """Back to the writer thread only (calls still in flight may write), and the
        inline connection closed."""
        self._inline = False
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the writer thread -----------------------------------------------------------
    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    write = self.db.write if self._synced else self.db.write_unsynced
                    results = await write(_run_batch, [(fn, args) for fn, args, _ in batch])
                except BaseException as exc:  # the transaction itself failed: every write in it
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(
                                exc if isinstance(exc, Exception) else RuntimeError(str(exc))
                            )
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, _, future), (ok, value) in zip(batch, results, strict=True):
                    if future.done():  # the caller was cancelled; its write stands
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._draining = False
