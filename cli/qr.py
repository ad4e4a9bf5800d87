"""``ecnet qr``: a channel displaying the holder's QR code (6.2) at a provincial node.

``issue`` and ``refresh`` call ``QrService`` of the business-place province (found in
the nation's ``nation.json`` by ``--province NN``, or ``--node HOST:PORT``) as the
channel named by ``--channel`` (each call signed with its key from
``DIR/pki/channels/``), with the holder's authorization code of that channel. ``show``
draws a value in the terminal (segno, numeric-mode QR) or writes it as a PNG or SVG
picture that a barcode reader can scan.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import grpc
import segno
import typer

from cli.common import (
    DataOpt,
    JsonOpt,
    ProvincialNodeOpt,
    data_dir,
    examples,
    out,
    print_message,
    province_address,
    reports_errors,
)
from cli.rpc import CliError, NodeHandle
from ecnet.v1 import qr_service_pb2 as pb
from ecnet.v1.qr_service_pb2_grpc import QrServiceStub
from node.domain.qrcode import looks_like_code

__all__ = ["qr_app", "draw"]

OFFICIAL = "NHSA-OFFICIAL"
qr_app = typer.Typer(help="Issue, refresh and show QR codes (6.2).", no_args_is_help=True)

ProvinceOpt = Annotated[
    str, typer.Option("--province", help="the business-place province (NN) issuing the code")
]
ChannelOpt = Annotated[
    str, typer.Option("--channel", help="the channel displaying the code (signs with its key)")
]
AuthOpt = Annotated[
    str, typer.Option("--auth-code", help="the holder's authorization code of that channel")
]
InsuOrgOpt = Annotated[
    str, typer.Option("--insu-org", help="insured region, for a person insured in several")
]
RequestOpt = Annotated[
    str, typer.Option("--request-id", help="idempotency key: a retry answers the same code")
]


Request = TypeVar("Request")
Response = TypeVar("Response")


def _call(
    data: Path | None,
    node: str | None,
    province: str,
    channel: str,
    method: Callable[[QrServiceStub], grpc.UnaryUnaryMultiCallable[Request, Response]],
    request: Request,
) -> Response:
    """``method`` of the province's QrService (e.g. ``lambda s: s.IssueQrCode``), called
    as ``channel``."""
    with NodeHandle(province_address(data, node, province), data_dir(data)) as h:
        return h.call(method(QrServiceStub(h.signed(channel))), request)


def _report(resp: pb.IssueQrCodeResponse | pb.RefreshQrCodeResponse, as_json: bool) -> None:
    if not resp.ecQrCode:  # the province refuses a code it cannot issue (500054 and others)
        raise CliError(f"province answered no code and no error: {resp}", -1)
    if as_json:
        print_message(resp)
        return
    left = round(resp.expiresAt.ToMilliseconds() / 1000 - time.time())
    out.print(f"ecQrCode: {resp.ecQrCode}", highlight=False)
    out.print(f"expires:  {resp.expiresAt.ToJsonString()} (in about {left} s)", highlight=False)
    out.print(f"insuOrg:  {resp.insuOrg}", highlight=False)


@qr_app.command(
    "issue",
    epilog=examples(
        'ecnet qr issue --province 44 --auth-code "$AUTH"',
        'ecnet qr issue --province 44 --auth-code "$AUTH" --insu-org 441300 --json',
        'ecnet qr issue --province 44 --channel WECHAT --auth-code "$WECHAT_AUTH"',
    ),
)
@reports_errors
def issue(
    auth_code: AuthOpt,
    province: ProvinceOpt = "",
    channel: ChannelOpt = OFFICIAL,
    insu_org: InsuOrgOpt = "",
    request_id: RequestOpt = "",
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A new code for the holder (earlier live codes of the authorization die). A person
    insured in several regions needs --insu-org: without it the province refuses
    (500054) and names the regions."""
    request = pb.IssueQrCodeRequest(authCode=auth_code, insuOrg=insu_org, requestId=request_id)
    _report(_call(data, node, province, channel, lambda s: s.IssueQrCode, request), json_)


@qr_app.command(
    "refresh",
    epilog=examples('ecnet qr refresh --province 44 --auth-code "$AUTH" --code "$CODE"'),
)
@reports_errors
def refresh(
    auth_code: AuthOpt,
    province: ProvinceOpt = "",
    channel: ChannelOpt = OFFICIAL,
    code: Annotated[str, typer.Option("--code", help="the code being replaced (it dies)")] = "",
    insu_org: InsuOrgOpt = "",
    request_id: RequestOpt = "",
    data: DataOpt = None,
    node: ProvincialNodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A new code in place of the previous one (same insured region unless --insu-org)."""
    request = pb.RefreshQrCodeRequest(
        authCode=auth_code, ecQrCode=code, insuOrg=insu_org, requestId=request_id
    )
    _report(_call(data, node, province, channel, lambda s: s.RefreshQrCode, request), json_)


def draw(value: str, compact: bool | None = None) -> None:
    """The code in the terminal: ANSI colours on a terminal, half blocks when piped."""
    qr = segno.make_qr(value)
    use_compact = (not sys.stdout.isatty()) if compact is None else compact
    qr.terminal(out=sys.stdout, compact=use_compact, border=2 if use_compact else None)
    sys.stdout.flush()


@qr_app.command(
    "show",
    epilog=examples(
        'ecnet qr show --code "$CODE"',
        'ecnet qr show --code "$CODE" --png qr.png',
        'ecnet qr show --code "$CODE" --svg qr.svg --scale 4',
    ),
)
@reports_errors
def show(
    code: Annotated[str, typer.Option("--code", help="the QR value (28 digits)")],
    png: Annotated[
        Path | None, typer.Option("--png", help="write a PNG picture to this file")
    ] = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="write an SVG picture to this file")
    ] = None,
    scale: Annotated[
        int, typer.Option("--scale", min=1, help="pixels per module of a picture")
    ] = 8,
    compact: Annotated[
        bool | None, typer.Option("--compact/--ansi", help="half blocks or ANSI colours")
    ] = None,
) -> None:
    """Draw a code in the terminal, or write it as --png / --svg."""
    value = code.strip()
    if not looks_like_code(value):
        raise CliError(
            f"{value!r} is not a QR value (28 digits: 424, 19 digits, province, 0000)", -2
        )
    if png is not None and svg is not None:
        raise CliError("give --png or --svg, not both", -2)
    qr = segno.make_qr(value)  # numeric mode, a 21x21 version-1 symbol, never a Micro QR
    target, kind = (png, "png") if png is not None else (svg, "svg")
    if target is None:
        draw(value, compact)
        return
    try:
        qr.save(str(target), kind=kind, scale=scale, border=4)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror}") from None
    out.print(f"wrote {target} ({kind.upper()}, {qr.designator}, {value})", highlight=False)
