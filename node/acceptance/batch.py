"""Group commit for the write transactions of scans.

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
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

__all__ = ["WriteBatcher", "MAX_BATCH"]

# Writes per transaction at most: bounds the time the writer holds the lock.
MAX_BATCH = 64

_Item = tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future]


def _run_batch(conn: sqlite3.Connection, items: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list:
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


class WriteBatcher:
    def __init__(self, db) -> None:  # db: node.storage.db.Database
        self.db = db
        self._pending: list[_Item] = []
        self._draining = False
        self._task: asyncio.Task | None = None  # held: the loop keeps only weak references

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(conn, *args)`` in the next batch; its result, or its exception raised."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((fn, args, future))
        if not self._draining:
            self._draining = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    results = await self.db.write(_run_batch, [(fn, args) for fn, args, _ in batch])
                except BaseException as exc:  # the transaction itself failed: every write in it
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
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
