"""``ecnet``: the command line of the ecnet network.

Every command that talks to a running nation finds its nodes through ``--data DIR``
(default ``$ECNET_DATA``, else ``./nation``); ``--node HOST:PORT`` points at one node.
Failures print one line, with the C.4 code when there is one, and exit non-zero;
under ``--json`` the answer is what grpcurl prints for it and a failure is
``{"code": <C.4 code>, "message": "..."}`` (:mod:`cli.common`). The top-level help
lists the commands in the order of the work: run a nation, find persons, activate a
voucher, display a code, scan it, check the token, settle, then the administration
(the national CA last).

Each command's module is imported when that command runs (``--help`` at the top imports
them all, to list them): a call loads what it uses, ``ecnet settle`` no QR pictures, no
SQLite tooling and no HTTPS client, and starts in about half the time.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import version as package_version
from typing import Annotated

import typer
from typer._click.core import Command, Context
from typer._click.exceptions import ClickException

from cli.common import examples, out, print_error_json

__all__ = ["COMMANDS", "ORDER", "app", "main"]

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


# Each command: the module that defines it and its Typer there (a group's, or one
# command's), imported when the command is asked for.
COMMANDS: dict[str, tuple[str, str]] = {
    "nation": ("cli.nationcmd", "nation_app"),
    "persons": ("cli.persons", "persons_app"),
    "voucher": ("cli.voucher", "voucher_app"),
    "qr": ("cli.qr", "qr_app"),
    "scan": ("cli.scan", "scan_app"),
    "token": ("cli.scan", "token_app"),
    "trans": ("cli.scan", "trans_app"),
    "settle": ("cli.settle", "settle_app"),
    "settlement": ("cli.settle", "settlement_app"),
    "channels": ("cli.channels", "channels_app"),
    "terminals": ("cli.terminals", "terminals_app"),
    "operators": ("cli.operators", "operators_app"),
    "audit": ("cli.operators", "audit_app"),
    "report": ("cli.report", "report_app"),
    "backup": ("cli.backup", "backup_app"),
    "ca": ("cli.ca", "ca_app"),
}

# The commands that are one command, not a group of them.
SINGLE = frozenset({"scan", "trans", "settle"})


class WorkOrderGroup(typer.core.TyperGroup):
    """The top-level group: its commands (:data:`COMMANDS`) listed in :data:`ORDER` (a
    command not in it comes last), each loaded from its module when asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        names = set(super().list_commands(ctx)) | set(COMMANDS)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            typer_app = getattr(importlib.import_module(module), attr)
            # a group stays one even with a single subcommand (``persons list``)
            convert = typer.main.get_command if cmd_name in SINGLE else typer.main.get_group
            command = convert(typer_app)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return super().get_command(ctx, cmd_name)


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
        from cli.rpc import use_operator

        use_operator(as_)


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
