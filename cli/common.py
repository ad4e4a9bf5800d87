"""What every ``ecnet`` command shares: the consoles, the common options, the one-line
error report, JSON output, and how a command finds the node it talks to."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from cli.nationfile import NationFile, default_data_dir
from cli.rpc import CliError

__all__ = [
    "out",
    "err",
    "DataOpt",
    "JsonOpt",
    "reports_errors",
    "print_json",
    "data_dir",
    "province_address",
]

# Piped output (CI logs, files) gets room for a whole table row.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="nation data folder [default: $ECNET_DATA or ./nation]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
# --node of the commands that talk to a provincial node (beside --province NN).
ProvincialNodeOpt = Annotated[
    str | None, typer.Option("--node", help="HOST:PORT of the provincial node")
]


def data_dir(value: Path | None) -> Path:
    return value if value is not None else default_data_dir()


P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """One clear line and a non-zero exit for every expected failure."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            prefix = f"error {exc.code}: " if exc.code is not None else "error: "
            err.print(f"[red]{prefix}[/red]{exc}", highlight=False, markup=True)
            raise typer.Exit(1) from None
        except FileNotFoundError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def print_json(value: Any) -> None:
    """``value``: anything ``json.dumps`` takes (dicts, lists, strings, numbers)."""
    out.print_json(json.dumps(value, ensure_ascii=False))


def province_address(data: Path | None, node: str | None, province: str) -> str:
    """``--node``, else the address of province NN in the nation's ``nation.json``."""
    if node:
        return node
    if not province:
        raise CliError("give --province NN (or --node HOST:PORT of the provincial node)", -2)
    nation = NationFile.load(data_dir(data))
    entry = nation.nodes.get(f"p{province}")
    if entry is None:
        raise CliError(
            f"province {province} is not part of the nation in {nation.data_dir} "
            f"(its provinces: {', '.join(nation.provinces())})",
            -2,
        )
    return entry.address
