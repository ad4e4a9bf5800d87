"""``ecnet terminals register`` and ``revoke``: the management center's terminals
(7.2.1.1, table 1), with their certificates from the nation's CA.

``register`` sends the fields of table 1 to national (``AdminService/RegisterTerminal``),
which allocates the 20-digit number and the date; the CA in ``DIR/pki`` then issues the
terminal's key and certificate (``ecnet://terminal/ORGID/T``) into
``DIR/pki/terminals/T.{crt,key}``, with which the terminal calls its province (``ecnet
scan --terminal T``). ``revoke`` marks the terminal revoked at national (its province
drops it from its copy) and puts its certificate on the CRL (national reads it at once,
the provinces with their next heartbeat): its calls are refused everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    DataOpt,
    JsonOpt,
    examples,
    out,
    print_json,
    print_message,
    reports_errors,
)
from cli.common import data_dir as _data
from cli.nationfile import NationFile
from cli.rpc import CliError, NodeHandle, national_address, terminals_folder
from ecnet.v1 import admin_service_pb2 as pb
from ecnet.v1 import common_pb2
from node.pki import CertificateAuthority, Identity, PkiError

__all__ = ["terminals_app", "terminals_list", "terminals_register", "terminals_revoke"]

terminals_app = typer.Typer(help="Registered acceptance terminals.", no_args_is_help=True)

NodeOpt = Annotated[str | None, typer.Option("--node", help="HOST:PORT of the national node")]


def _insecure(data: Path) -> bool:
    try:
        return NationFile.load(data).insecure
    except FileNotFoundError:
        return False


def _ca(data: Path) -> CertificateAuthority:
    try:
        return CertificateAuthority.open(data)
    except PkiError as exc:
        raise CliError(f"the nation's CA: {exc}", -2) from None


def _row(t: common_pb2.Terminal) -> str:
    return (
        f"terminal {t.terminalId}   province {t.province}   orgId {t.orgId}   "
        f"registeredOn {t.registeredOn}"
    )


@reports_errors
def terminals_register(
    province: Annotated[str, typer.Option("--province", help="where it stands (NN)")],
    org: Annotated[str, typer.Option("--org", help="orgId of the institution it is bound to")],
    org_name: Annotated[str, typer.Option("--org-name", help="终端的使用单位: the institution")],
    name: Annotated[str, typer.Option("--name", help="终端的名称: the terminal's name")],
    purpose: Annotated[str, typer.Option("--purpose", help="终端的用途: what it is used for")],
    version: Annotated[str, typer.Option("--version", help="终端的版本: X.Y")],
    developer: Annotated[str, typer.Option("--developer", help="终端的开发单位")],
    mac: Annotated[str, typer.Option("--mac", help="终端 MAC 地址, e.g. f8:34:41:bd:e1:88")],
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Register a terminal (table 1): national allocates its number; the CA issues its
    certificate into DIR/pki/terminals/<number>.{crt,key}."""
    folder = _data(data)
    ca = None if _insecure(folder) else _ca(folder)  # before anything is registered
    request = pb.RegisterTerminalRequest(
        province=province,
        orgId=org,
        orgName=org_name,
        name=name,
        purpose=purpose,
        version=version,
        developer=developer,
        mac=mac,
    )
    with NodeHandle(national_address(folder, node), folder) as h:
        t = h.call(h.admin.RegisterTerminal, request).terminal
    cert = key = None
    if ca is not None:
        try:
            key, cert = ca.issue(
                Identity.terminal(t.orgId, t.terminalId),
                hosts=(),
                folder=terminals_folder(folder),
                stem=t.terminalId,
            )
        except PkiError as exc:
            raise CliError(
                f"terminal {t.terminalId} is registered, but its certificate was not issued: {exc}",
                -2,
            ) from None
    if json_:
        print_json(
            {
                "terminalId": t.terminalId,
                "province": t.province,
                "orgId": t.orgId,
                "registeredOn": t.registeredOn,
                "certificate": str(cert) if cert else "",
                "key": str(key) if key else "",
            }
        )
        return
    out.print(_row(t), highlight=False)
    if cert is not None:
        out.print(f"certificate {cert}   key {key}", highlight=False, soft_wrap=True)


@reports_errors
def terminals_revoke(
    terminal: Annotated[str, typer.Argument(help="the terminal's 20-digit number")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept with it)")] = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Revoke a terminal: marked revoked at national (its province drops it) and its
    certificate put on the CRL (its calls are refused on every node)."""
    folder = _data(data)
    ca = None if _insecure(folder) else _ca(folder)
    request = pb.RevokeTerminalRequest(terminalId=terminal, reason=reason)
    with NodeHandle(national_address(folder, node), folder) as h:
        answer = h.call(h.admin.RevokeTerminal, request)
    t = answer.terminal
    serials: list[str] = []
    if ca is not None:
        try:
            done = ca.revoke(identity=Identity.terminal(t.orgId, t.terminalId))
        except PkiError:  # the CA issued it no certificate (registered elsewhere)
            done = []
        serials = [f"{r.serial:x}" for r in done]
    if json_:
        print_json(
            {
                "terminalId": t.terminalId,
                "alreadyRevoked": answer.alreadyRevoked,
                "revokedCertificates": serials,
            }
        )
        return
    state = "already revoked" if answer.alreadyRevoked else "revoked"
    out.print(f"{state}: {_row(t)}", highlight=False)
    if serials:
        out.print(f"certificate on the CRL: serial {', '.join(serials)}", highlight=False)


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
