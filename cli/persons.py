"""``ecnet persons``: the national base registry."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    DataOpt,
    JsonOpt,
    NodeOpt,
    examples,
    out,
    print_message,
    reports_errors,
)
from cli.common import data_dir as _data
from cli.rpc import CliError, NodeHandle, national_address
from ecnet.v1 import admin_service_pb2 as pb
from ecnet.v1 import common_pb2

persons_app = typer.Typer(help="The national base registry.", no_args_is_help=True)


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
