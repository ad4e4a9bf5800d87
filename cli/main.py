"""``ecnet``: the command line of the ecnet network.

Every command that talks to a running nation finds its nodes through ``--data DIR``
(default ``$ECNET_DATA``, else ``./nation``); ``--node HOST:PORT`` points at one node.
Failures print one line, with the C.4 code when there is one, and exit non-zero;
under ``--json`` the answer is what grpcurl prints for it and a failure is
``{"code": <C.4 code>, "message": "..."}`` (:mod:`cli.common`). The top-level help
lists the commands in the order of the work: run a nation, find persons, activate a
voucher, display a code, scan it, check the token, settle, then the administration
(the national CA last).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import time
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer._click.core import Context
from typer._click.exceptions import ClickException

from cli import nationdb
from cli.backup import backup_app
from cli.ca import ca_app
from cli.common import (
    DataOpt,
    JsonOpt,
    err,
    examples,
    out,
    print_error_json,
    print_json,
    print_message,
    province_address,
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
from cli.nationfile import NationFile, NodeEntry, pid_alive
from cli.operators import audit_app, console_password, operators_app
from cli.qr import qr_app
from cli.report import report_app
from cli.rpc import CliError, NodeHandle, channel_key, national_address, request_of, use_operator
from cli.scan import scan, token_app, trans
from cli.settle import settle, settlement_app
from cli.terminals import terminals_register, terminals_revoke
from cli.voucher import voucher_app
from ecnet.v1 import admin_service_pb2 as pb
from ecnet.v1 import common_pb2
from node.domain.channelsig import (
    ensure_key,
    key_file,
    load_key,
    load_sm4_key,
    message_body,
    sign_message,
    sm4_key_file,
    write_key,
    write_sm4_key,
)
from node.domain.openplatform import full_method, open_response, seal_request
from node.domain.sm import sm2_generate_keypair, sm2_public_key, sm2_public_key_valid
from node.pki import CertificateAuthority, Identity, PkiError
from node.storage.errors import StorageError
from node.vault import MasterKeyError

__all__ = ["app", "main"]

# The order of the work: a nation, its persons, a voucher, a code, its scan, the token,
# the settlement; then the administration of channels, terminals and certificates.
ORDER = (
    "nation",
    "persons",
    "voucher",
    "qr",
    "scan",
    "token",
    "trans",
    "settle",
    "settlement",
    "channels",
    "terminals",
    "operators",
    "audit",
    "backup",
    "ca",
)


class WorkOrderGroup(typer.core.TyperGroup):
    """The top-level group, listing its commands in :data:`ORDER` (typer would list the
    single commands before the groups); a command not in it comes last."""

    def list_commands(self, ctx: Context) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


app = typer.Typer(
    cls=WorkOrderGroup,
    help="ecnet: the medical-insurance electronic voucher network (XJ-D01-2019).",
    epilog=examples(
        "ecnet nation up",
        "ecnet persons list --insured-province 44",
        "ecnet voucher activate --name 杨凤雪 --id-no 441426199112073706 --password 135792",
        'ecnet qr issue --province 44 --auth-code "$AUTH"',
        "ecnet COMMAND --help",
    ),
    no_args_is_help=True,
)
nation_app = typer.Typer(help="Run a simulated nation on this machine.", no_args_is_help=True)
persons_app = typer.Typer(help="The national base registry.", no_args_is_help=True)
channels_app = typer.Typer(help="Approved channels.", no_args_is_help=True)
terminals_app = typer.Typer(help="Registered acceptance terminals.", no_args_is_help=True)
app.add_typer(nation_app, name="nation")
app.add_typer(persons_app, name="persons")
app.add_typer(voucher_app, name="voucher")
app.add_typer(qr_app, name="qr")
app.command(
    "scan",
    epilog=examples(
        'ecnet scan --province 44 --terminal "$T44" --org "$ORG44" --code "$CODE"',
        'ecnet scan --province 31 --terminal "$T31" --org "$ORG31" --image scan.png --json',
    ),
)(scan)
app.add_typer(token_app, name="token")
app.command(
    "trans",
    epilog=examples(
        'ecnet trans --province 44 --terminal "$T44" --in - < request.json',
        'ecnet trans --url https://127.0.0.1:51044/ec/v1/trans --terminal "$T44" --in '
        '\'{"orgId": "H44…", "transType": "ec.query", "data": {…}}\'',
    ),
)(trans)
app.command(
    "settle",
    epilog=examples(
        'ecnet settle --province 44 --terminal "$T44" --token "$TOKEN" --org "$ORG44" '
        "--items items.json --request-id visit-0001",
        'ecnet settle --province 44 --terminal "$T44" --token "$TOKEN" --org "$ORG44" '
        "--items - --json < items.json",
    ),
)(settle)
app.add_typer(settlement_app, name="settlement")
app.add_typer(channels_app, name="channels")
app.add_typer(terminals_app, name="terminals")
app.add_typer(operators_app, name="operators")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.add_typer(backup_app, name="backup")
app.add_typer(ca_app, name="ca")


def _print_version(value: bool) -> None:
    if value:
        out.print(f"ecnet {package_version('ecnet')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="ECNET_OPERATOR",
            help="call as the operator NAME of DIR/pki/operators (ecnet operators add) "
            "[default: the nation's administrator, DIR/pki/operator.crt]",
        ),
    ] = None,
) -> None:
    """ecnet: the medical-insurance electronic voucher network (XJ-D01-2019)."""
    if as_:
        use_operator(as_)


NodeOpt = Annotated[
    str | None, typer.Option("--node", help="HOST:PORT of one node to talk to directly")
]


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


def _entry(nation: NationFile, province: str) -> NodeEntry:
    entry = nation.nodes.get(f"p{province}")
    if entry is None:
        raise CliError(
            f"province {province} is not part of the nation in {nation.data_dir} "
            f"(it has {', '.join(nation.provinces())})",
            -2,
        )
    return entry


@nation_app.command("stop", epilog=examples("ecnet nation stop --province 44"))
@reports_errors
def nation_stop(
    province: Annotated[str, typer.Option(help="province code of the node to stop")],
    data: DataOpt = None,
) -> None:
    """Stop one provincial node (a fault drill)."""
    nation = NationFile.load(_data(data))
    entry = _entry(nation, province)
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
    entry = _entry(nation, province)
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


# -- registry listings -------------------------------------------------------------
@persons_app.command(
    "list",
    epilog=examples(
        "ecnet persons list --insured-province 44 --limit 5",
        "ecnet persons list --limit 2 --json",
        'ecnet persons list --limit 5 --reveal --reason "complaint 2026-118"',
    ),
)
@reports_errors
def persons_list(
    insured_province: Annotated[
        str | None, typer.Option(help="only persons insured in this province")
    ] = None,
    limit: Annotated[int, typer.Option(help="how many")] = 20,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal",
            help="names, id numbers and phones unmasked (administrator or auditor; audited)",
        ),
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="why they are revealed (required with --reveal)")
    ] = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Persons of the base registry (name, idType, idNo, insured regions), masked
    (杨*雪, 441426********3706) unless revealed with a reason."""
    if limit <= 0:
        raise CliError("--limit must be positive", -2)
    if reveal and not reason.strip():
        raise CliError(
            "--reveal needs --reason: say why the names and id numbers are needed (the node "
            "keeps it in its audit log)",
            -2,
        )
    persons: list[common_pb2.Person] = []
    token = ""
    with NodeHandle(national_address(_data(data), node), _data(data)) as h:
        while len(persons) < limit:
            resp = h.call(
                h.admin.ListPersons,
                pb.ListPersonsRequest(
                    insuredProvince=insured_province or "",
                    pageSize=min(limit - len(persons), 1000),
                    pageToken=token,
                    reveal=reveal,
                    reason=reason if reveal else "",
                ),
            )
            persons.extend(resp.persons)
            token = resp.nextPageToken
            if not token:
                break
    if json_:
        # the pages merged into one answer, as one call of pageSize --limit answers
        print_message(pb.ListPersonsResponse(persons=persons, nextPageToken=token))
        return
    table = Table()
    for col in ("userName", "idType", "idNo", "gender", "birthday", "insured regions (insuOrg)"):
        table.add_column(col)
    for p in persons:
        regions = "; ".join(f"{r.insuOrg} {r.insuOrgName} ({r.insuType})" for r in p.insuredRegions)
        table.add_row(
            p.userName,
            p.idType,
            p.idNo,
            {"1": "男", "2": "女"}.get(p.gender, p.gender),
            p.birthday,
            regions,
        )
    out.print(table)


@channels_app.command("list", epilog=examples("ecnet channels list", "ecnet channels list --json"))
@reports_errors
def channels_list(data: DataOpt = None, node: NodeOpt = None, json_: JsonOpt = False) -> None:
    """The official channel and the approved third-party channels."""
    with NodeHandle(national_address(_data(data), node), _data(data)) as h:
        answer = h.call(h.admin.ListChannels, pb.ListChannelsRequest())
    if json_:
        print_message(answer)
        return
    channels = answer.channels
    table = Table()
    for col in ("channelId", "name", "kind", "status", "reason"):
        table.add_column(col)
    for c in channels:
        table.add_row(
            c.channelId,
            c.name,
            "official" if c.kind == 1 else "third party",
            c.status,
            c.statusReason,
        )
    out.print(table)


def _set_channel_status(
    channel: str, status: str, reason: str, data: Path | None, node: str | None, json_: bool
) -> None:
    with NodeHandle(national_address(_data(data), node), _data(data)) as h:
        resp = h.call(
            h.admin.SetChannelStatus,
            pb.SetChannelStatusRequest(channelId=channel, status=status, reason=reason),
        )
    if json_:
        print_message(resp)
        return
    c = resp.channel
    said = f" ({c.statusReason})" if c.statusReason else ""
    if resp.changed:
        out.print(
            f"channel {c.channelId} ({c.name}) is now {c.status}{said}; every province is told"
        )
    else:
        out.print(f"channel {c.channelId} ({c.name}) was already {c.status}{said}; nothing changed")


@channels_app.command(
    "suspend", epilog=examples('ecnet channels suspend WECHAT --reason "under review"')
)
@reports_errors
def channels_suspend(
    channel: Annotated[str, typer.Argument(help="the channel id, e.g. WECHAT")],
    reason: Annotated[
        str, typer.Option(help="why (kept, and shown to the channel's callers)")
    ] = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Suspend a third-party channel: national refuses it at once, each province once told."""
    _set_channel_status(channel, "suspended", reason, data, node, json_)


@channels_app.command(
    "approve",
    epilog=examples(
        "ecnet channels approve CA0000000001 --app-id SOME-BANK",
        'ecnet channels approve WECHAT --reason "review passed"',
    ),
)
@reports_errors
def channels_approve(
    what: Annotated[
        str,
        typer.Argument(help="an application (CA…) with --app-id, or a suspended channel's id"),
    ],
    app_id: Annotated[
        str, typer.Option("--app-id", help="the appId national gives the applicant")
    ] = "",
    scopes: Annotated[
        str, typer.Option(help="the methods it may call, comma-separated (default: as asked)")
    ] = "",
    reason: Annotated[str, typer.Option(help="why (kept)")] = "",
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="the applicant's signing key, kept as DIR/pki/channels/APPID.sign.key so "
            "that ecnet commands sign as it (a simulated channel)",
        ),
    ] = None,
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Approve a channel's application (with --app-id): the channel gets its appId and
    scopes, every province is told, the CA issues its client certificate
    (DIR/pki/channels/APPID.crt); or approve a suspended channel again."""
    if not app_id:
        _set_channel_status(what, "approved", reason, data, node, json_)
        return
    folder = _data(data)
    with NodeHandle(national_address(folder, node), folder) as h:
        resp = h.call(
            h.admin.ApproveChannelApplication,
            pb.ApproveChannelApplicationRequest(
                applicationId=what,
                appId=app_id,
                scopes=[x.strip() for x in scopes.split(",") if x.strip()],
            ),
        )
    cert = _channel_certificate(folder, resp.channel.channelId)
    if key_file is not None:
        try:
            pair = load_key(key_file)
        except ValueError as exc:
            raise CliError(str(exc), -2) from None
        kept = folder / "pki" / "channels" / f"{resp.channel.channelId}.sign.key"
        if not kept.exists():
            write_key(kept, pair)
    _keep_sm4_key(folder, resp.channel.channelId, resp.sm4Key)
    if json_:
        print_message(resp)
        return
    c = resp.channel
    out.print(
        f"application {what} approved: channel {c.channelId} ({c.name}), scopes "
        f"{', '.join(c.scopes)}; every province is told",
        highlight=False,
    )
    out.print(f"SM4 key of its encrypted fields (given once): {resp.sm4Key}", highlight=False)
    out.print(cert, highlight=False, soft_wrap=True)


def _keep_sm4_key(folder: Path, app_id: str, sm4_hex: str) -> None:
    """Keep a channel's SM4 key (national's answer) beside its signing key,
    ``DIR/pki/channels/<APPID>.sm4.key``, when that key is in the nation's folder: the
    ecnet commands that seal envelopes as the channel read it there."""
    if not key_file(folder / "pki", app_id).exists():
        return
    try:
        write_sm4_key(sm4_key_file(folder / "pki", app_id), bytes.fromhex(sm4_hex))
    except (ValueError, OSError) as exc:
        err.print(f"channel {app_id}'s SM4 key was not kept: {exc}", highlight=False)


def _channel_certificate(folder: Path, app_id: str) -> str:
    """The channel's client certificate from the nation's CA, when this folder has it."""
    try:
        ca = CertificateAuthority.open(folder)
    except PkiError:
        return (
            f"no CA in {folder / 'pki'}: issue its certificate (ecnet://channel/{app_id}) "
            "with `ecnet ca sign`"
        )
    _, cert = ca.ensure(
        Identity.channel(app_id), hosts=(), folder=ca.folder / "channels", stem=app_id
    )
    return f"client certificate (ecnet://channel/{app_id}): {cert}"


@channels_app.command(
    "apply",
    epilog=examples(
        "ecnet channels apply --province 44 --name 某银行 --key-file bank.sign.key "
        "--scopes ecnet.v1.QrService/IssueQrCode,ecnet.v1.QrService/RefreshQrCode"
    ),
)
@reports_errors
def channels_apply(
    province: Annotated[str, typer.Option(help="the province applied through (NN)")],
    name: Annotated[str, typer.Option(help="the channel's display name")],
    scopes: Annotated[str, typer.Option(help="the methods it asks to call, comma-separated")],
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="its SM2 signing key (made there when missing)"),
    ] = None,
    public_key: Annotated[
        str, typer.Option("--public-key", help="or its SM2 public key, 130 hex digits")
    ] = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A channel applies through a province, which passes it on to national."""
    if not public_key:
        if key_file is None:
            raise CliError("give --key-file (made when missing) or --public-key", -2)
        public_key = ensure_key(key_file).public_key.hex()
    folder = _data(data)
    with NodeHandle(province_address(data, node, province), folder) as h:
        resp = h.call(
            h.admin.ApplyChannel,
            pb.ApplyChannelRequest(
                name=name,
                publicKey=public_key,
                scopes=[x.strip() for x in scopes.split(",") if x.strip()],
            ),
        )
    if json_:
        print_message(resp)
        return
    a = resp.application
    out.print(
        f"application {a.applicationId} ({a.name}) made through province {a.province}: "
        f"{a.status}, national decides (ecnet channels approve|reject {a.applicationId})",
        highlight=False,
    )


@channels_app.command("applications", epilog=examples("ecnet channels applications --json"))
@reports_errors
def channels_applications(
    data: DataOpt = None, node: NodeOpt = None, json_: JsonOpt = False
) -> None:
    """The channels' applications, and what national decided."""
    with NodeHandle(national_address(_data(data), node), _data(data)) as h:
        resp = h.call(h.admin.ListChannelApplications, pb.ListChannelApplicationsRequest())
    if json_:
        print_message(resp)
        return
    table = Table()
    for col in ("application", "province", "name", "status", "appId", "scopes", "reason"):
        table.add_column(col)
    for a in resp.applications:
        table.add_row(
            a.applicationId, a.province, a.name, a.status, a.appId, ",".join(a.scopes), a.reason
        )
    out.print(table)


@channels_app.command(
    "reject", epilog=examples('ecnet channels reject CA0000000001 --reason "no licence"')
)
@reports_errors
def channels_reject(
    application: Annotated[str, typer.Argument(help="the application, e.g. CA0000000001")],
    reason: Annotated[str, typer.Option(help="why")],
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Reject a channel's application."""
    with NodeHandle(national_address(_data(data), node), _data(data)) as h:
        resp = h.call(
            h.admin.RejectChannelApplication,
            pb.RejectChannelApplicationRequest(applicationId=application, reason=reason),
        )
    if json_:
        print_message(resp)
        return
    out.print(f"application {application} rejected: {reason}", highlight=False)


@channels_app.command(
    "rotate-key",
    epilog=examples(
        "ecnet channels rotate-key WECHAT", "ecnet channels rotate-key WECHAT --public-key 04…"
    ),
)
@reports_errors
def channels_rotate_key(
    app_id: Annotated[str, typer.Argument(help="the channel, e.g. WECHAT")],
    public_key: Annotated[
        str,
        typer.Option(
            "--public-key",
            help="its new SM2 public key (default: a new key made in DIR/pki/channels)",
        ),
    ] = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A channel's new signing key: its calls signed with the old one are refused from now
    on. Without --public-key, a new key replaces DIR/pki/channels/APPID.sign.key (the old
    one kept as .sign.key.old)."""
    folder = _data(data)
    fresh = None
    if not public_key:
        fresh = sm2_generate_keypair()
        public_key = fresh.public_key.hex()
    with NodeHandle(national_address(folder, node), folder) as h:
        resp = h.call(
            h.admin.RotateChannelKey,
            pb.RotateChannelKeyRequest(appId=app_id, publicKey=public_key),
        )
    if fresh is not None:
        path = key_file(folder / "pki", app_id)
        if path.exists():
            path.replace(path.with_name(path.name + ".old"))
        write_key(path, fresh)
    _keep_sm4_key(folder, app_id, resp.sm4Key)
    if json_:
        print_message(resp)
        return
    out.print(
        f"channel {app_id} signs with key version {resp.keyVersion} now; the old key is "
        f"refused (every province once told); new SM4 key: {resp.sm4Key}",
        highlight=False,
    )


@channels_app.command(
    "sign-headers",
    epilog=examples(
        "ecnet channels sign-headers --channel NHSA-OFFICIAL "
        '--method ecnet.v1.VoucherService/RealNameCheck --json-body \'{"idNo": "…"}\'',
    ),
)
@reports_errors
def channels_sign_headers(
    channel: Annotated[str, typer.Option("--channel", help="the channel signing, e.g. WECHAT")],
    method: Annotated[
        str, typer.Option("--method", help="the method, e.g. ecnet.v1.QrService/IssueQrCode")
    ],
    json_body: Annotated[
        str, typer.Option("--json-body", help="the request as grpcurl's -d sends it")
    ] = "{}",
    data: DataOpt = None,
) -> None:
    """grpcurl's -H flags that sign one call as the channel (with its key from the
    nation's folder): `grpcurl $(ecnet channels sign-headers …) -d BODY …`."""
    request = request_of(method, json_body)
    md = sign_message(channel, channel_key(_data(data), channel), method, request)
    print(" ".join(f"-H {k}:{v}" for k, v in md))


def _sm4_key_of(folder: Path, app_id: str) -> bytes:
    path = sm4_key_file(folder / "pki", app_id)
    if not path.exists():
        raise CliError(
            f"no SM4 key of channel {app_id} in {path.parent}: `ecnet nation up` keeps those "
            "of the seeded channels; `ecnet channels approve` and `rotate-key` that of a "
            "channel whose signing key is there",
            -2,
        )
    try:
        return load_sm4_key(path)
    except ValueError as exc:
        raise CliError(str(exc), -2) from None


@channels_app.command(
    "envelope",
    epilog=examples(
        'ecnet channels envelope WECHAT QrService/IssueQrCode \'{"authCode": "…"}\' | '
        "curl --cacert nation/pki/ca.crt -d @- https://127.0.0.1:PORT/ec/v1/channel/"
        "ecnet.v1.QrService/IssueQrCode",
    ),
)
@reports_errors
def channels_envelope(
    app_id: Annotated[str, typer.Argument(help="the channel sealing, e.g. WECHAT")],
    method: Annotated[
        str,
        typer.Argument(help="QrService/IssueQrCode, or the full ecnet.v1.QrService/IssueQrCode"),
    ],
    json_body: Annotated[str, typer.Argument(help="the request as grpcurl's -d sends it")] = "{}",
    data: DataOpt = None,
) -> None:
    """The open platform's envelope of one call as the channel (signed with its SM2 key,
    encrypted under its SM4 key, both from the nation's folder), JSON on stdout: the body
    of a POST to a node's channel door."""
    try:
        name = full_method(method)
    except ValueError as exc:
        raise CliError(str(exc), -2) from None
    folder = _data(data)
    body = message_body(request_of(name, json_body))
    try:
        envelope = seal_request(
            app_id, channel_key(folder, app_id), _sm4_key_of(folder, app_id), name, body
        )
    except ValueError as exc:
        raise CliError(str(exc), -2) from None
    sys.stdout.write(json.dumps(envelope, ensure_ascii=False) + "\n")


def _node_public_key(folder: Path, node: str, key_hex: str) -> bytes:
    """The node's SM2 public key: --key, else as a channel gets it, from the node's door
    (``GET /ec/v1/channel/key`` over TLS checked against the nation's CA), else from its
    signing key in the nation's folder."""
    if key_hex:
        try:
            key = bytes.fromhex(key_hex.strip())
        except ValueError:
            key = b""
        if not sm2_public_key_valid(key):
            raise CliError("--key is not an SM2 public key (130 hexadecimal digits, 04||x||y)", -2)
        return key
    try:
        nation = NationFile.load(folder)
    except (OSError, ValueError):
        nation = None
    entry = nation.nodes.get(node) if nation is not None else None
    if entry is None or nation is None:
        raise CliError(
            f"no node {node!r} in the nation at {folder}: give its public key with --key HEX",
            -2,
        )
    if entry.https:
        return _door_key(entry.https, node, None if nation.insecure else _ca_file(folder))
    path = Path(entry.sign_key)
    try:
        return sm2_public_key(bytes.fromhex(path.read_text().strip()))
    except (OSError, ValueError):
        raise CliError(
            f"node {node}'s signing key {path} cannot be read: give its public key with --key HEX",
            -2,
        ) from None


def _ca_file(folder: Path) -> Path:
    """The nation's CA certificate: ``DIR/pki/ca.crt``, else ``ECNET_CA``."""
    own = folder / "pki" / "ca.crt"
    return own if own.exists() or not os.environ.get("ECNET_CA") else Path(os.environ["ECNET_CA"])


def _door_key(address: str, node: str, ca: Path | None) -> bytes:
    """The public key a node's door says it signs with (its TLS certificate checked)."""
    import httpx  # deferred: every ecnet command imports this module; one needs httpx

    scheme = "http" if ca is None else "https"
    try:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca)) if ca is not None else False
        )
        answer = httpx.get(f"{scheme}://{address}/ec/v1/channel/key", verify=verify, timeout=10)
        said = answer.json()
        key = bytes.fromhex(said["publicKey"])
    except (OSError, ssl.SSLError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise CliError(
            f"cannot read node {node}'s key from its door {address} ({exc}): give it with "
            "--key HEX",
            -3,
        ) from None
    if said.get("node") != node or not sm2_public_key_valid(key):
        raise CliError(f"the door at {address} is not node {node}'s", -4)
    return key


@channels_app.command(
    "open",
    epilog=examples(
        'curl … -d "$(ecnet channels envelope WECHAT QrService/IssueQrCode …)" | '
        "ecnet channels open WECHAT --node p44",
    ),
)
@reports_errors
def channels_open(
    app_id: Annotated[str, typer.Argument(help="the channel the answer is for, e.g. WECHAT")],
    node: Annotated[str, typer.Option("--node", help="the node that answered: national or pNN")],
    key: Annotated[
        str,
        typer.Option(
            "--key",
            help="the node's SM2 public key, 130 hex digits (default: from its signing key "
            "in the nation's folder)",
        ),
    ] = "",
    data: DataOpt = None,
) -> None:
    """A node's answer to a channel door call, read on stdin: its signature checked with
    the node's key, its data decrypted with the channel's SM4 key; prints {code, message,
    data} as JSON."""
    folder = _data(data)
    public_key = _node_public_key(folder, node, key)
    try:
        answer = json.loads(sys.stdin.read())
    except ValueError as exc:
        raise CliError(f"stdin is not JSON: {exc}", -2) from None
    sm4 = _sm4_key_of(folder, app_id)
    try:
        code, message, body = open_response(answer, public_key, sm4)
    except ValueError as exc:
        raise CliError(str(exc), 500036) from None
    if isinstance(answer, dict) and answer.get("node") not in (None, node):
        raise CliError(f"the answer is from node {answer.get('node')!r}, not {node}", 500036)
    payload = {"code": code, "message": message, "data": body}
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


@terminals_app.command(
    "list",
    epilog=examples(
        "ecnet terminals list --province 44",
        "ecnet terminals list --province 31 --limit 1 --json",
    ),
)
@reports_errors
def terminals_list(
    province: Annotated[str | None, typer.Option(help="only terminals of this province")] = None,
    limit: Annotated[int, typer.Option(help="how many")] = 100,
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Registered terminals (20-digit numbers) and the institutions (orgId) they are bound to."""
    with NodeHandle(national_address(_data(data), node), _data(data)) as h:
        answer = h.call(
            h.admin.ListTerminals, pb.ListTerminalsRequest(province=province or "", pageSize=limit)
        )
    if json_:
        print_message(answer)
        return
    terminals = answer.terminals
    table = Table()
    for col in ("terminalId", "province", "orgId", "orgName", "name", "version", "mac"):
        table.add_column(col)
    for t in terminals:
        table.add_row(t.terminalId, t.province, t.orgId, t.orgName, t.name, t.version, t.mac)
    out.print(table)


terminals_app.command(
    "register",
    epilog=examples(
        "ecnet terminals register --province 44 --org H44010012345 --org-name 某某医院 "
        "--name 挂号自助终端 --purpose 用于患者自助进行挂号等操作 --version 1.2 "
        "--developer 某某开发有限公司 --mac f8:34:41:bd:e1:88",
    ),
)(terminals_register)
terminals_app.command(
    "revoke",
    epilog=examples('ecnet terminals revoke "$T" --reason "stolen"'),
)(terminals_revoke)


def main() -> None:
    """``ecnet``. Under ``--json`` a usage error (a missing or malformed option) is the
    JSON object of every other failure too, with click's exit code (2)."""
    if "--json" not in sys.argv[1:]:
        app()
        return
    try:
        code = app(standalone_mode=False)
    except ClickException as exc:  # typer's own copy of click
        print_error_json(-2, exc.format_message())
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
