"""``ecnet backup``: back up a node's SQLite database while it runs, check a backup,
restore one into a stopped node's data folder (``node.storage.backup``;
docs/deployment.md says when and how).

``create`` copies the database only: the node's master key and signing key are files
beside it (or where ``--master-key`` / ``ECNET_MASTER_KEY`` and ``ECNET_SIGN_KEY`` put
them), made once, and kept apart from the backups. ``restore`` checks that the master
key the node will start with is the one that sealed the backup before it writes
anything, and says so when the signing key is missing. Under ``--json`` each command
prints the backup's report as one JSON object; a failure is one line (``error -2:
...``), or ``{"code": -2, "message": ...}`` under ``--json``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec

import typer

from cli.common import UNCODED, JsonOpt, examples, out, print_json, reports_errors
from cli.rpc import CliError
from node.storage.backup import BackupError, BackupReport, create, inspect, restore
from node.vault import MASTER_KEY_ENV

__all__ = ["backup_app"]

backup_app = typer.Typer(
    help="Back up a node's database while it runs; check a backup; restore one.",
    no_args_is_help=True,
)

DbOpt = Annotated[
    Path,
    typer.Option("--db", help="the node's database: DATA/national.db or DATA/provincial-NN.db"),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="replace a file that exists")]


P = ParamSpec("P")


def _run(fn: Callable[P, BackupReport], *args: P.args, **kw: P.kwargs) -> BackupReport:
    """``fn``'s report; its refusal as the command's one line."""
    try:
        return fn(*args, **kw)
    except BackupError as exc:
        raise CliError(str(exc), UNCODED) from None


def _what(report: BackupReport) -> str:
    return "national" if report.role == "national" else f"province {report.province or '?'}"


def _print(report: BackupReport) -> None:
    about = report.backup_of
    out.print(f"[bold]{report.path}[/bold]: {_what(report)}'s database", highlight=False)
    if about:
        out.print(
            f"  taken        {about.get('takenAt', '?')} from {about.get('source', '?')} "
            f"(ecnet {about.get('version', '?')})",
            highlight=False,
        )
    out.print(f"  integrity    [green]{report.integrity}[/green]", highlight=False)
    last = report.applied[-1] if report.applied else "none"
    more = f", {len(report.pending)} to apply at start" if report.pending else ""
    newer = f", {len(report.unknown)} of a newer ecnet" if report.unknown else ""
    out.print(f"  migrations   {len(report.applied)} (last {last}{more}{newer})", highlight=False)
    counts = ", ".join(f"{table} {n}" for table, n in report.counts.items())
    out.print(f"  rows         {counts}", highlight=False)
    sealed = "yes: restoring it needs the node's master key" if report.sealed else "no"
    out.print(f"  sealed       {sealed}", highlight=False)


@backup_app.command(
    "create",
    epilog=examples(
        "ecnet backup create --db nation/p31/provincial-31.db --to backups/p31.db",
        "ecnet backup create --db /srv/ecnet/national/national.db --to /backups/national.db",
    ),
)
@reports_errors
def backup_create(
    db: DbOpt,
    to: Annotated[Path, typer.Option("--to", help="the backup file to write")],
    force: ForceOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Copy the database into one file through SQLite's online backup API: the node
    may run meanwhile; the copy is the database as one commit left it. The master key
    and signing key are not in it: keep them apart, once."""
    report = _run(create, db, to, force=force)
    if json_:
        print_json(report.as_json())
        return
    _print(report)
    out.print(
        f"The backup holds no key: keep the node's master key and signing key "
        f"({db.parent / 'master.key'} and {db.parent / 'sign.key'} unless the node is "
        "started with others) apart from it; a restore needs the master key.",
        highlight=False,
    )


@backup_app.command(
    "check",
    epilog=examples(
        "ecnet backup check backups/p31.db", "ecnet backup check backups/p31.db --json"
    ),
)
@reports_errors
def backup_check(
    file: Annotated[Path, typer.Argument(help="the backup (or any node database) to check")],
    json_: JsonOpt = False,
) -> None:
    """PRAGMA integrity_check, the role, the migrations, the main tables' rows; a damaged
    file is one line naming its first problems, and exit 1."""
    report = _run(inspect, file)
    if json_:
        print_json(report.as_json())
    else:
        _print(report)


@backup_app.command(
    "restore",
    epilog=examples(
        "ecnet backup restore backups/p31.db --db nation/p31/provincial-31.db",
        "ecnet backup restore backups/p31.db --db nation/p31/provincial-31.db --force "
        "--master-key nation/pki/nodes/p31.master",
    ),
)
@reports_errors
def backup_restore(
    file: Annotated[Path, typer.Argument(help="the backup to restore")],
    db: DbOpt,
    master_key: Annotated[
        Path | None,
        typer.Option(
            "--master-key",
            help=f"the master key the node starts with [default: ${MASTER_KEY_ENV}, else "
            "DATA/master.key]",
        ),
    ] = None,
    force: ForceOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Put a backup in place as a stopped node's database. Refused while a node runs on
    the data folder, over an existing database without --force, and when the master
    key is not the one that sealed the backup."""
    env_key = os.environ.get(MASTER_KEY_ENV)
    key = master_key or (Path(env_key) if env_key else db.parent / "master.key")
    report = _run(restore, file, db, master_key=key, force=force)
    env_sign = os.environ.get("ECNET_SIGN_KEY")
    sign_key = Path(env_sign) if env_sign else db.parent / "sign.key"
    if json_:
        print_json({**report.as_json(), "restoredTo": str(db), "signKey": sign_key.exists()})
        return
    out.print(f"restored {file} into {db} ({_what(report)}): start the node", highlight=False)
    if not sign_key.exists():
        out.print(
            f"[yellow]warning:[/yellow] no signing key at {sign_key}: the node makes a new one "
            "at start and national takes it, but the events this backup's outbox holds "
            "were signed with the old key; put it back there to have them accepted",
            highlight=False,
        )
