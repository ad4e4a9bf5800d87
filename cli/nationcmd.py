"""``ecnet nation``: run a simulated nation on this machine (up, status, stop, start,
down, retry-parked)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli import nationdb
from cli.common import (
    DataOpt,
    JsonOpt,
    NodeOpt,
    err,
    examples,
    nation_entry,
    out,
    print_json,
    print_message,
    reports_errors,
)
from cli.common import data_dir as _data
from cli.nation import (
    NodeStatus,
    Stop,
    check_ports_free,
    collect_status,
    ensure_pki,
    leave_terminal,
    parse_provinces,
    plan_nation,
    spawn,
    stop_entry,
    stop_on_signals,
    wait_healthy,
)
from cli.nationfile import NationFile, pid_alive
from cli.operators import console_password
from cli.rpc import CliError, NodeHandle, national_address
from ecnet.v1 import admin_service_pb2 as pb
from node.pki import CertificateAuthority, Identity
from node.storage.errors import StorageError
from node.vault import MasterKeyError

nation_app = typer.Typer(help="Run a simulated nation on this machine.", no_args_is_help=True)


# -- nation ------------------------------------------------------------------------
def _status_table(rows: list[NodeStatus]) -> Table:
    insecure = [r["node"] for r in rows if r.get("transport", "").startswith("INSECURE")]
    title = "ecnet nation"
    if insecure:
        title += (
            f" [bold red]INSECURE: {', '.join(insecure)} serve plaintext and believe any "
            "caller (--insecure, development only)[/bold red]"
        )
    table = Table(title=title, title_justify="left")
    columns = (
        "node",
        "role",
        "province",
        "gRPC",
        "HTTPS",
        "pid",
        "health",
        "directory",
        "pending",
        "parked",
        "applied",
        "records",
        "cert expires",
    )
    now = time.time()
    for col in columns:
        table.add_column(
            col, justify="right" if col in ("pending", "parked", "applied") else "left"
        )
    for r in rows:
        health = r["health"]
        colour = {"SERVING": "green", "DOWN": "red"}.get(health, "yellow")
        records = ", ".join(
            f"{k} {v:,}" for k, v in r["counts"].items() if v or k in ("persons", "voucher_cache")
        )
        # Delivery is from national to provinces: the national row has neither figure.
        provincial = r["role"] == "provincial"
        pending = f"{r.get('pendingEvents', 0):,}" if provincial else "-"
        parked_n = r.get("parkedEvents", 0)
        # Parked: refused by the province, set aside (ecnet nation retry-parked).
        parked = (f"[red]{parked_n:,}[/red]" if parked_n else "0") if provincial else "-"
        applied = f"{r.get('appliedPosition', 0):,}" if provincial else "-"
        # National's view, and the province's own when national refuses it.
        directory = r["directory"] or "-"
        if r.get("registration", "").startswith("refused"):
            directory = f"[red]{r['registration']}[/red]"
        table.add_row(
            r["node"],
            r["role"],
            f"{r['province']} {r['provinceName']}".strip(),
            r["address"],
            r.get("https") or "-",
            str(r["pid"] or "-"),
            f"[{colour}]{health}[/{colour}]",
            directory,
            pending,
            parked,
            applied,
            records,
            _cert_expiry(r.get("certNotAfter", ""), now),
        )
    return table


def _cert_expiry(iso: str, now: float) -> str:
    """A node's certificate expiry for the status table: its date, red within 30 days
    (the console's Nation page marks it so too), EXPIRED past it; "-" without one."""
    if not iso:
        return "-"
    end = dt.datetime.fromisoformat(iso).timestamp()
    days = int((end - now) // 86400)
    if end <= now:
        return f"[bold red]EXPIRED {iso[:10]}[/bold red]"
    text = f"{iso[:10]} ({days} d)"
    return f"[red]{text}[/red]" if days < 30 else text


def _say(line: str) -> None:
    """One line on stderr, never folded at the console's width, that cannot stop the
    stopping (a terminal gone: EIO)."""
    with contextlib.suppress(OSError):
        err.print(line, soft_wrap=True, highlight=False)


def _stop_all(nation: NationFile, *, save: bool = True, quiet: bool = False) -> None:
    # Provinces first, so that they can deregister from a national that still answers.
    for entry in sorted(nation.nodes.values(), key=lambda e: e.role == "national"):
        if stop_entry(entry) and not quiet:
            _say(f"stopped {entry.name}")
    # then the nation's own PostgreSQL server, once no node uses it
    if nationdb.stop_server(nation) and not quiet:
        _say("stopped the nation's PostgreSQL server")
    if save:
        nation.save()


@nation_app.command(
    "up",
    epilog=examples(
        "ecnet nation up",
        "ecnet nation up --provinces 44,31 --population 2000 --data /tmp/nation --detach",
        "ecnet nation up --all --base-port 51000",
        "ecnet nation up --db postgres --provinces 44 --detach",
        "ecnet nation up --db postgresql://ecnet@db.example:5432/",
    ),
)
@reports_errors
def nation_up(
    provinces: Annotated[
        str | None, typer.Option(help="comma-separated province codes [default: 11,31,44,51]")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="all 32 provincial nodes (31 provinces and 66)")
    ] = False,
    population: Annotated[
        int, typer.Option(help="persons to seed into an empty registry")
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="seed of the synthetic population")] = 2019,
    data: DataOpt = None,
    base_port: Annotated[
        int, typer.Option(help="national listens on P, province NN on P+NN")
    ] = 50000,
    detach: Annotated[bool, typer.Option(help="return once every node is healthy")] = False,
    heartbeat: Annotated[float, typer.Option(help="seconds between province heartbeats")] = 2.0,
    insecure: Annotated[
        bool,
        typer.Option(
            help="plaintext nodes that take callers' identities on their word "
            "(development only; default: mutual TLS with the certificates in DIR/pki)"
        ),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="the nodes' data on PostgreSQL: `postgres` (a server of the nation's own in "
            "DIR/postgres, stopped by nation down) or postgresql://USER@HOST:PORT/ (yours; "
            "a database per node made in it: ecnet_national, ecnet_p44, …) "
            "[default: SQLite files; a nation started again keeps what it ran on]",
        ),
    ] = None,
    national: Annotated[
        int,
        typer.Option(
            "--national",
            help="national processes on its one database (a cluster; needs --db), the "
            "provinces given them all as --national H1:P1,H2:P2",
        ),
    ] = 1,
) -> None:
    """Seed the registry (once), make the nation's certificates (once) and start
    national and provincial nodes over mutual TLS."""
    data_dir = _data(data)
    codes = parse_provinces(provinces, all_)
    if population < 0:
        raise CliError("--population must not be negative", -2)
    previous: NationFile | None
    try:
        previous = NationFile.load(data_dir)
    except FileNotFoundError:
        previous = None
    running = [e.name for e in previous.nodes.values() if pid_alive(e.pid)] if previous else []
    if running:
        raise CliError(
            f"a nation is already running in {data_dir} ({', '.join(running)}); "
            f"run `ecnet nation down --data {data_dir}` first"
        )
    backend = nationdb.choose(db, previous)
    if national > 1 and backend is None:
        raise CliError(
            f"--national {national}: national's replicas share one PostgreSQL database; "
            "give --db postgres (or --db postgresql://USER@HOST:PORT/)",
            -2,
        )
    nation = plan_nation(data_dir, codes, base_port, national)
    nation.insecure = insecure
    check_ports_free(list(nation.nodes.values()))
    with stop_on_signals():
        procs = _start_nation(nation, population, seed, codes, heartbeat, detach, backend, previous)
        if procs is None:
            return
        try:
            out.print("Ctrl-C stops every node.")
            code = _supervise(nation, procs)
            # nothing left to supervise: nor a server of the nation's own left running
            if nationdb.stop_server(nation):
                _say("stopped the nation's PostgreSQL server")
        except (KeyboardInterrupt, OSError) as exc:
            # OSError: most likely EIO, a write to a terminal that was closed before its
            # SIGHUP came; whatever it is, the nodes must not outlive their supervisor.
            why = ""
            if isinstance(exc, OSError):
                leave_terminal()
                why = f"{exc.strerror or exc}: "
            elif isinstance(exc, Stop):
                why = f"{exc.args[0]}: "
            _say(f"{why}stopping the nation…")
            try:
                current = NationFile.load(data_dir)
            except FileNotFoundError:
                current = nation
            _stop_all(current)
            return
    if code:
        raise typer.Exit(code)


def _start_nation(
    nation: NationFile,
    population: int,
    seed: int,
    codes: list[str],
    heartbeat: float,
    detach: bool,
    backend: str | None = None,
    previous: NationFile | None = None,
) -> dict[str, subprocess.Popen[bytes]] | None:
    """Start the PostgreSQL server (``backend``), seed, start every node, print the
    status table; the node processes (None with --detach: nothing to supervise)."""
    made = nationdb.prepare(nation, backend, previous)
    if nation.postgres is not None:
        nation.save()  # nation down finds the server from here on
        err.print(
            nationdb.server_line(nation) + (f"; databases made: {', '.join(made)}" if made else ""),
            soft_wrap=True,
            highlight=False,
        )
    try:
        return _seed_and_start(nation, population, seed, codes, heartbeat, detach)
    except BaseException:
        if nation.postgres is not None:  # nodes stopped already: the server too
            _stop_all(nation, quiet=True)
        raise


def _seed_and_start(
    nation: NationFile,
    population: int,
    seed: int,
    codes: list[str],
    heartbeat: float,
    detach: bool,
) -> dict[str, subprocess.Popen[bytes]] | None:
    from cli.seed import seed_national  # deferred: faker costs every other command 0.2 s

    data_dir = nation.data_dir
    national = nation.national
    Path(national.data).mkdir(parents=True, exist_ok=True)
    with Progress(
        TextColumn("seeding registry"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("seed", total=population)
        try:
            report = seed_national(
                Path(national.data) / "national.db",
                population,
                seed,
                codes,
                progress=lambda n: bar.update(task, completed=n),
                master_key=national.master_key,
                pki=CertificateAuthority.folder_of(data_dir),
                db=national.db or None,
            )
        except MasterKeyError as exc:
            raise CliError(f"national: {exc}", -2) from None
        except StorageError as exc:
            raise CliError(f"national: {exc}", -3) from None
    if report.skipped_persons:
        # One line however long the path (soft_wrap: no folding at the console's width).
        err.print(
            f"registry in {national.data} already holds {report.existing_persons:,} persons; "
            f"keeping it, not --population {population:,} (that seeds an empty registry: "
            f"`ecnet nation down`, delete {data_dir}, to seed again)",
            soft_wrap=True,
            highlight=False,
        )
    else:
        err.print(
            f"seeded {report.persons:,} persons in {report.seconds:.1f}s ({report.rate:,.0f}/s)"
        )

    made = ensure_pki(nation, report.registered)
    if made:
        err.print(
            f"certificates in {data_dir / 'pki'}: {', '.join(made)} (national CA)",
            soft_wrap=True,
            highlight=False,
        )
    if nation.insecure:
        err.print(
            "[bold red]INSECURE:[/bold red] the nodes serve plaintext and believe any "
            "caller's claimed identity (--insecure: development only)",
            soft_wrap=True,
            highlight=False,
        )

    console = None if nation.insecure else _console_admin(nation)
    started = time.monotonic()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["national"] = spawn(nation, national, heartbeat)
        nation.save()
        wait_healthy(data_dir, [national], procs)
        replicas = nation.nationals()[1:]  # on the database national has migrated
        for entry in replicas:
            procs[entry.name] = spawn(nation, entry, heartbeat)
        nation.save()
        wait_healthy(data_dir, replicas, procs)
        for entry in nation.nodes.values():
            if entry.role == "provincial":
                procs[entry.name] = spawn(nation, entry, heartbeat)
        nation.save()
        wait_healthy(data_dir, list(nation.nodes.values()), procs)
    except (CliError, KeyboardInterrupt):
        _stop_all(nation)
        raise
    elapsed = time.monotonic() - started
    out.print(_status_table(collect_status(nation)))
    out.print(f"{len(nation.nodes)} nodes healthy in {elapsed:.1f}s; data in {data_dir}")
    if nation.postgres is not None:
        out.print(nationdb.server_line(nation), highlight=False, soft_wrap=True)
    if national.https and not nation.insecure:
        out.print(
            f"management console: https://{national.https}/console/ (trust {nation.pki}/ca.crt)"
            + (f"; admin's first password in {console}" if console else ""),
            highlight=False,
            soft_wrap=True,
        )
    if detach:
        out.print(f"stop them with: ecnet nation down --data {data_dir}")
        return None
    return procs


CONSOLE_ADMIN = "console-admin.txt"


def _console_admin(nation: NationFile) -> Path | None:
    """The console's operator ``admin``, made once (its certificate and a one-time
    password with a TOTP secret at national): its first password and TOTP provisioning
    URI written to DIR/console-admin.txt (mode 0600). None when it existed already."""
    folder = nation.pki / "operators"
    crt = folder / "admin.crt"
    if not crt.exists():
        CertificateAuthority.open(nation.data_dir).issue(
            Identity.operator("admin", duty="admin"), hosts=(), folder=folder, stem="admin"
        )
    national = nation.national  # nation.json is not written yet: its files, from the plan
    files = (Path(national.data) / "national.db", national.master_key, national.db or None)
    given = console_password(nation.data_dir, "admin", "admin", only_new=True, files=files)
    if given is None:
        return None
    path = nation.data_dir / CONSOLE_ADMIN
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            f"console: https://{nation.national.https}/console/\n"
            f"name: admin\n"
            f"password (one-time: the first login sets another): {given.password}\n"
            f"totp: {given.totp_uri}\n"
        )
    return path


def _exit_code(proc: subprocess.Popen[bytes]) -> int | None:
    """``proc``'s exit code, waiting a little for one that is still exiting: its
    /proc/PID/cmdline empties before it ends, so pid_alive no longer counts it while
    poll() has no code yet (the supervisor then took a graceful stop for a failure)."""
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None


def _supervise(nation: NationFile, procs: dict[str, subprocess.Popen[bytes]]) -> int:
    """Watch the nation until nothing is left of it; the exit code of ``nation up``.

    A node that fails (exits non-zero) is reported. Once no node runs any more, one line
    says why: stopped from elsewhere (``ecnet nation down``: every node exited gracefully)
    is 0, nodes that failed is 1. ``nation.json`` gone (the folder deleted) stops the
    nodes still running, without writing the file again, and is 1.
    """
    reported: set[str] = set()
    while True:
        time.sleep(1)
        try:
            current = NationFile.load(nation.data_dir)
        except FileNotFoundError:
            _say(f"{nation.path} is gone: stopping every node of the nation")
            _stop_all(nation, save=False, quiet=True)
            return 1
        for e in current.nodes.values():
            proc = procs.get(e.name)
            if (
                proc is not None
                and proc.poll() is not None
                and proc.returncode != 0
                and e.pid == proc.pid
                and e.name not in reported
            ):
                reported.add(e.name)
                err.print(f"[yellow]{e.name} exited (code {proc.returncode})[/yellow]")
        if any(pid_alive(e.pid) for e in current.nodes.values()):
            continue
        codes = [_exit_code(p) for p in procs.values()]
        if all(e.pid is None for e in current.nodes.values()) or all(c == 0 for c in codes):
            _say(
                f"the nation in {nation.data_dir} was stopped (ecnet nation down); "
                "nothing left to supervise"
            )
            return 0
        _say(f"every node has exited (see node.log in {nation.data_dir}/*/); giving up")
        return 1


@nation_app.command("status", epilog=examples("ecnet nation status", "ecnet nation status --json"))
@reports_errors
def nation_status(data: DataOpt = None, json_: JsonOpt = False) -> None:
    """Role, province, address, health and record counts of each node."""
    nation = NationFile.load(_data(data))
    rows = collect_status(nation)
    if json_:
        print_json(rows)
    else:
        out.print(_status_table(rows))
        if nation.postgres is not None:
            out.print(nationdb.server_line(nation), highlight=False, soft_wrap=True)


@nation_app.command(
    "down", epilog=examples("ecnet nation down", "ecnet nation down --data /tmp/nation")
)
@reports_errors
def nation_down(data: DataOpt = None) -> None:
    """Stop every node of the nation (the data stays)."""
    nation = NationFile.load(_data(data))
    _stop_all(nation)
    out.print("nation stopped")


@nation_app.command("stop", epilog=examples("ecnet nation stop --province 44"))
@reports_errors
def nation_stop(
    province: Annotated[str, typer.Option(help="province code of the node to stop")],
    data: DataOpt = None,
) -> None:
    """Stop one provincial node (a fault drill)."""
    nation = NationFile.load(_data(data))
    entry = nation_entry(nation, province)
    if not stop_entry(entry):
        raise CliError(f"{entry.name} is not running")
    nation.save()
    out.print(f"stopped {entry.name}")


@nation_app.command("start", epilog=examples("ecnet nation start --province 44"))
@reports_errors
def nation_start(
    province: Annotated[str, typer.Option(help="province code of the node to start")],
    data: DataOpt = None,
    heartbeat: Annotated[float, typer.Option(help="seconds between heartbeats")] = 2.0,
) -> None:
    """Start one provincial node again."""
    nation = NationFile.load(_data(data))
    entry = nation_entry(nation, province)
    if pid_alive(entry.pid):
        raise CliError(f"{entry.name} is already running (pid {entry.pid})")
    check_ports_free([entry])
    proc = spawn(nation, entry, heartbeat)
    nation.save()
    wait_healthy(nation.data_dir, [entry], {entry.name: proc})
    out.print(f"started {entry.name} on {entry.address} (pid {entry.pid})")


@nation_app.command(
    "retry-parked",
    epilog=examples(
        "ecnet nation retry-parked --province 44",
        "ecnet nation retry-parked --province 44 --json",
    ),
)
@reports_errors
def nation_retry_parked(
    province: Annotated[str, typer.Option(help="province code whose parked events to send again")],
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Send again the events a province refused and national parked (after fixing or
    upgrading that province)."""
    with NodeHandle(national_address(_data(data), node), _data(data)) as h:
        answer = h.call(h.admin.RetryParked, pb.RetryParkedRequest(destination=province))
    events = answer.events
    if json_:
        print_message(answer)
        return
    if not events:
        out.print(f"no parked events for province {province}")
        return
    for e in events:
        out.print(f"queued again: {e.eventId} ({e.kind}), refused with: {e.error}", markup=False)
    out.print(
        f"{len(events)} parked event{'s' if len(events) != 1 else ''} queued again "
        f"for province {province}"
    )
