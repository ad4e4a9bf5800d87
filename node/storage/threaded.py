"""The calls both storage backends (:mod:`node.storage.db`'s SQLite and
:mod:`node.storage.postgres`) answer alike: each write on the node's one writer thread,
each read on a reader thread, in the backend's own ``_run_*`` functions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple

__all__ = ["ThreadedDatabase"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class ThreadedDatabase:
    """The calls both backends answer the same way: each write on the one writer thread
    (``_writer``), each read on a reader thread (``_reader_pool``); a backend gives
    ``_run_read``, ``_run_write`` and ``_run_write_unsynced``."""

    _writer: ThreadPoolExecutor
    _reader_pool: ThreadPoolExecutor

    def _run_read(self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]) -> T:
        raise NotImplementedError

    def _run_write(self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]) -> T:
        raise NotImplementedError

    def _run_write_unsynced(
        self, fn: Callable[[sqlite3.Connection, *Ts], T], args: tuple[*Ts]
    ) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` on a reader thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_pool, self._run_read, fn, args
        )

    async def write(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` in one ``BEGIN IMMEDIATE`` transaction on the writer."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._run_write, fn, args
        )

    async def write_unsynced(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """:meth:`write` without the sync to disk at its commit (``synchronous=NORMAL``),
        for bookkeeping whose loss in a power failure costs nothing but a repeat: a
        heartbeat, a delivery cursor (the events are sent again and applied once), a
        QR code (the holder displays a new one). Still atomic, and still safe from a
        crash of the process; the next synced commit syncs it too."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._run_write_unsynced, fn, args
        )

    @property
    def reachable(self) -> bool:
        """Whether the last use found the database there (a file is always there; a
        server may be gone: :class:`node.storage.postgres.PgDatabase`)."""
        return True

    def probe(self) -> None:
        """Find out whether an unreachable database is back (a read on a reader thread,
        which :attr:`reachable` then tells); nothing to find out for a file."""

    def read_now(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """:meth:`read` on the calling thread (the event loop's), on a connection of its
        own: for a read of a few rows by key, where the hand-off to a reader thread and
        back costs more CPU than the read. WAL readers wait for no one, so the loop
        blocks only for the read itself."""
        return self._run_read(fn, args)

    def write_sync(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """The same as :meth:`write`, for use outside an event loop (seeding, tools)."""
        return self._writer.submit(self._run_write, fn, args).result()

    def read_sync(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        return self._reader_pool.submit(self._run_read, fn, args).result()
