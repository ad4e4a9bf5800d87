"""``ecnet report``: the management center's reports at the command line, the same
figures as the console's Reports page (both add them up with ``node.reports``).

``report daily`` asks national for the figures of the days given (``GetFigures``:
national's own and every province's) and prints them per day and province, or per day
and channel; ``--csv`` writes the console's CSV file (amounts in fen). It calls as the
nation's administrator, or the operator of ``ecnet --as NAME``; a province operator
sees its province only. An institution's day is ``ecnet settlement statement`` (at its
province), which the console's statement (through national) agrees with.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    UNCODED,
    DataOpt,
    JsonOpt,
    err,
    examples,
    out,
    print_json,
    reports_errors,
)
from cli.common import data_dir as _data
from cli.rpc import CliError, NodeHandle, national_address
from cli.settle import yuan
from ecnet.v1 import admin_service_pb2 as pb
from node.reports import ChannelLine, Line, cst_day, csv_text, daily, daily_by_channel

__all__ = ["report_app"]

report_app = typer.Typer(
    help="The management center's reports: daily figures per province or channel.",
    no_args_is_help=True,
)

NodeOpt = Annotated[
    str | None, typer.Option("--node", help="HOST:PORT of national [default: the nation's]")
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="first day, YYYY-MM-DD (China Standard Time)")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="last day, included [default: --from]")]


def _today() -> str:
    return cst_day(int(time.time() * 1000))


def figures(
    data: Path, node: str | None, first: str, last: str, province: str = ""
) -> pb.GetFiguresResponse:
    with NodeHandle(national_address(data, node), data) as h:
        return h.call(
            h.admin.GetFigures,
            pb.GetFiguresRequest(fromDate=first, toDate=last, province=province),
        )


@report_app.command(
    "daily",
    epilog=examples(
        "ecnet report daily",
        "ecnet report daily --from 2026-12-01 --to 2026-12-07 --by channel",
        "ecnet report daily --province 44 --csv > p44.csv",
    ),
)
@reports_errors
def report_daily(
    first: FromOpt = None,
    last: ToOpt = None,
    by: Annotated[str, typer.Option("--by", help="province or channel")] = "province",
    province: Annotated[
        str, typer.Option("--province", help="only province NN (counted there or insured there)")
    ] = "",
    csv: Annotated[bool, typer.Option("--csv", help="CSV (amounts in fen)")] = False,
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Daily activations, authorizations, QR codes, scans and settlements (counts and
    fund / personal-account / own-pay sums) per province, or per channel with its calls,
    refusals and rate-limit refusals."""
    if by not in ("province", "channel"):
        raise CliError(f"--by {by!r}: give province or channel", UNCODED)
    first = first or _today()
    answer = figures(_data(data), node, first, last or first, province)
    for m in answer.missing:
        err.print(f"[yellow]province {m.province}: not counted[/yellow] ({m.reason})")
    lines: list[Line] | list[ChannelLine]
    lines = daily(answer.rows) if by == "province" else daily_by_channel(answer.rows)
    if csv:
        sys.stdout.write(csv_text(lines, Line if by == "province" else ChannelLine))
        return
    if json_:
        print_json(
            {"lines": [asdict(x) for x in lines], "missing": [m.province for m in answer.missing]}
        )
        return
    table = Table()
    if by == "province":
        for col in (
            "date",
            "province",
            "activations",
            "authorizations",
            "QR codes",
            "scans",
            "settlements",
            "fee (yuan)",
            "fund",
            "personal acct",
            "own pay",
            "reversals",
        ):
            table.add_column(col, justify="left" if col in ("date", "province") else "right")
        for x in lines:
            assert isinstance(x, Line)
            table.add_row(
                x.date,
                x.province or "—",
                str(x.activations),
                str(x.authorizations),
                str(x.qr_codes),
                str(x.scans),
                str(x.settlements),
                yuan(x.fee_fen),
                yuan(x.fund_fen),
                yuan(x.psn_acct_fen),
                yuan(x.own_pay_fen),
                str(x.reversals),
            )
    else:
        for col in (
            "date",
            "channel",
            "activations",
            "authorizations",
            "QR codes",
            "calls",
            "refused",
            "rate-limited",
        ):
            table.add_column(col, justify="left" if col in ("date", "channel") else "right")
        for x in lines:
            assert isinstance(x, ChannelLine)
            table.add_row(
                x.date,
                x.channel,
                str(x.activations),
                str(x.authorizations),
                str(x.qr_codes),
                str(x.calls),
                str(x.refused),
                str(x.rate_limited),
            )
    out.print(table)
