"""``ecnet voucher``: the activation and authorization flows of a channel (6.1), driven
through the national node's VoucherService.

Every command calls as the channel named by ``--channel`` (the ``ec-channel-id``
metadata); the holder's management commands (``authorizations``, ``revoke``) call as
the official channel. ``activate`` runs every step: real-name check, real-person check,
password (through the national page session on a third-party channel), activation.

The real-person check needs a liveness sample. A real channel's camera captures the
face; this simulated one needs the person's enrolled face template, which it asks the
node for through ``VoucherService/GetSimulatedFaceTemplate`` — a method marked as the
simulation, answered only while the node's verifier is the simulation — and then makes
the sample with :func:`node.voucher.biometric.make_liveness_sample` (``liveness-sample`` prints
one for grpcurl). Nothing reads the node's database or recomputes templates from the
population seed: a template recomputed from today's id number would be wrong for a
person whose id number changed.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Annotated, TypedDict, TypeVar

import grpc
import typer
from google.protobuf.message import Message
from rich.table import Table

from cli.common import DataOpt, JsonOpt, examples, out, print_message, reports_errors
from cli.nationfile import default_data_dir
from cli.rpc import CliError, NodeHandle, national_address
from ecnet.v1 import admin_service_pb2, common_pb2
from ecnet.v1 import voucher_service_pb2 as pb
from ecnet.v1.voucher_service_pb2_grpc import VoucherServiceStub
from node.voucher.biometric import make_liveness_sample

__all__ = ["voucher_app"]

OFFICIAL = "NHSA-OFFICIAL"
voucher_app = typer.Typer(
    help="Activate vouchers and manage channel authorizations (6.1).", no_args_is_help=True
)

NodeOpt = Annotated[str | None, typer.Option("--node", help="HOST:PORT of the national node")]
NameOpt = Annotated[str, typer.Option("--name", help="userName as registered")]
IdTypeOpt = Annotated[str, typer.Option("--id-type", help="idType, table C.2")]
IdNoOpt = Annotated[str, typer.Option("--id-no", help="idNo")]
ProvinceOpt = Annotated[
    str, typer.Option("--business-province", help="province of the business place (NN)")
]
PasswordOpt = Annotated[
    str, typer.Option("--password", prompt=True, hide_input=True, help="six-digit voucher password")
]
ViaOpt = Annotated[str, typer.Option("--via", help="the official channel making the call")]

Request = TypeVar("Request")
Response = TypeVar("Response")


class Voucher:
    """VoucherService of the national node, called as one channel."""

    def __init__(self, handle: NodeHandle, channel_id: str) -> None:
        self.handle = handle
        self.channel_id = channel_id
        self.stub = VoucherServiceStub(handle.signed(channel_id))

    def call(
        self, method: grpc.UnaryUnaryMultiCallable[Request, Response], request: Request
    ) -> Response:
        """``method`` of :attr:`stub`, called (and signed) as the channel."""
        return self.handle.call(method, request)


def _connect(data: Path | None, node: str | None) -> NodeHandle:
    folder = data if data is not None else default_data_dir()
    return NodeHandle(national_address(folder, node), folder)


def _show(answer: Message, as_json: bool, lines: list[str]) -> None:
    """The RPC's answer as grpcurl prints it (``--json``), else ``lines``."""
    if as_json:
        print_message(answer)
    else:
        for line in lines:
            out.print(line, highlight=False)


def _state(state: int) -> str:
    return common_pb2.VoucherState.Name(state).removeprefix("VOUCHER_STATE_").lower()


def _sample(v: Voucher, name: str, id_type: str, id_no: str, challenge: str) -> bytes:
    """The simulated camera: the enrolled template (simulation RPC) answering ``challenge``."""
    face = v.call(
        v.stub.GetSimulatedFaceTemplate,
        pb.GetSimulatedFaceTemplateRequest(userName=name, idType=id_type, idNo=id_no),
    )
    return make_liveness_sample(face.faceTemplate, challenge, int(time.time() * 1000))


def _is_official(h: NodeHandle, channel_id: str) -> bool:
    channels = h.call(h.admin.ListChannels, admin_service_pb2.ListChannelsRequest()).channels
    return any(
        c.channelId == channel_id and c.kind == common_pb2.CHANNEL_KIND_OFFICIAL for c in channels
    )


@voucher_app.command(
    "activate",
    epilog=examples(
        "ecnet voucher activate --name 杨凤雪 --id-no 441426199112073706 --password 135792",
        "ecnet voucher activate --name 王雪琴 --id-no 445281195507043041 --channel WECHAT "
        "--business-province 44 --json",
    ),
)
@reports_errors
def activate(
    name: NameOpt,
    id_no: IdNoOpt,
    password: PasswordOpt,
    id_type: IdTypeOpt = "01",
    channel: Annotated[str, typer.Option("--channel", help="the channel activating")] = OFFICIAL,
    business_province: ProvinceOpt = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Real-name check, real-person check (simulated camera), password, activation."""
    with _connect(data, node) as h:
        v = Voucher(h, channel)
        rn = v.call(
            v.stub.RealNameCheck,
            pb.RealNameCheckRequest(userName=name, idType=id_type, idNo=id_no),
        )
        rp = v.call(
            v.stub.RealPersonCheck,
            pb.RealPersonCheckRequest(
                realNameSerial=rn.realNameSerial,
                livenessSample=_sample(v, name, id_type, id_no, rn.livenessChallenge),
            ),
        )
        if _is_official(h, channel):
            pw = v.call(
                v.stub.SetPassword,
                pb.SetPasswordRequest(
                    realPersonSerial=rp.realPersonSerial,
                    password=password,
                    passwordConfirm=password,
                ),
            )
        else:
            page = v.call(
                v.stub.OpenPasswordPage,
                pb.OpenPasswordPageRequest(realPersonSerial=rp.realPersonSerial),
            )
            pw = v.call(
                v.stub.SetPassword,
                pb.SetPasswordRequest(
                    pageSession=page.pageSession, password=password, passwordConfirm=password
                ),
            )
        done = v.call(
            v.stub.Activate,
            pb.ActivateRequest(
                realPersonSerial=rp.realPersonSerial,
                passwordSerial=pw.passwordSerial,
                businessProvince=business_province,
            ),
        )
    _show(
        done,
        json_,
        [
            f"activated voucher {done.ecCardNo}",
            f"authCode for {channel}: {done.authCode}",
            "insured: " + "; ".join(f"{r.insuOrg} {r.insuOrgName}" for r in done.insuredRegions),
        ],
    )


@voucher_app.command(
    "authorize",
    epilog=examples(
        "ecnet voucher authorize --channel ALIPAY --name 杨凤雪 --id-no 441426199112073706 "
        "--password 135792",
    ),
)
@reports_errors
def authorize(
    channel: Annotated[str, typer.Option("--channel", help="the channel to authorize")],
    name: NameOpt,
    id_no: IdNoOpt,
    password: PasswordOpt,
    id_type: IdTypeOpt = "01",
    business_province: ProvinceOpt = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Authorize an activated voucher on a channel, confirmed with the password (6.1.4)."""
    with _connect(data, node) as h:
        v = Voucher(h, channel)
        done = v.call(
            v.stub.Authorize,
            pb.AuthorizeRequest(
                userName=name,
                idType=id_type,
                idNo=id_no,
                password=password,
                businessProvince=business_province,
            ),
        )
    _show(
        done,
        json_,
        [f"authorized {channel} for voucher {done.ecCardNo}", f"authCode: {done.authCode}"],
    )


class AuthorizationRow(TypedDict):
    """An authorization as the table of ``authorizations`` shows it."""

    channelId: str
    channelName: str
    revoked: bool
    authorizedAt: str
    revokedAt: str


def _authorization(a: common_pb2.Authorization) -> AuthorizationRow:
    return {
        "channelId": a.channelId,
        "channelName": a.channelName,
        "revoked": a.revoked,
        "authorizedAt": a.authorizedAt.ToJsonString(),
        "revokedAt": a.revokedAt.ToJsonString() if a.revoked else "",
    }


@voucher_app.command(
    "authorizations",
    epilog=examples(
        'ecnet voucher authorizations --auth-code "$OFFICIAL_CODE"',
        'ecnet voucher authorizations --auth-code "$OFFICIAL_CODE" --json',
    ),
)
@reports_errors
def authorizations(
    auth_code: Annotated[
        str, typer.Option("--auth-code", help="the holder's official-channel authCode")
    ],
    via: ViaOpt = OFFICIAL,
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The holder's channel authorizations, revoked ones too (4.7); codes are not shown."""
    with _connect(data, node) as h:
        v = Voucher(h, via)
        answer = v.call(v.stub.ListAuthorizations, pb.ListAuthorizationsRequest(authCode=auth_code))
    if json_:
        print_message(answer)
        return
    table = Table()
    for col in ("channelId", "channelName", "authorizedAt", "revokedAt"):
        table.add_column(col)
    for a in map(_authorization, answer.authorizations):
        table.add_row(a["channelId"], a["channelName"], a["authorizedAt"], a["revokedAt"] or "-")
    out.print(table)


@voucher_app.command(
    "revoke",
    epilog=examples(
        'ecnet voucher revoke --auth-code "$OFFICIAL_CODE" --channel ALIPAY',
    ),
)
@reports_errors
def revoke(
    auth_code: Annotated[
        str, typer.Option("--auth-code", help="the holder's official-channel authCode")
    ],
    channel: Annotated[
        str, typer.Option("--channel", help="the channel whose authorization to revoke")
    ],
    via: ViaOpt = OFFICIAL,
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Revoke the holder's authorization of a third-party channel; its code dies everywhere."""
    with _connect(data, node) as h:
        v = Voucher(h, via)
        answer = v.call(
            v.stub.RevokeAuthorization,
            pb.RevokeAuthorizationRequest(authCode=auth_code, channelId=channel),
        )
    a = answer.authorization
    _show(answer, json_, [f"revoked the authorization of {a.channelId} ({a.channelName})"])


@voucher_app.command(
    "status",
    epilog=examples(
        'ecnet voucher status --auth-code "$AUTH" --json',
        "ecnet voucher status --name 杨凤雪 --id-no 441426199112073706",
    ),
)
@reports_errors
def status(
    channel: Annotated[str, typer.Option("--channel", help="the channel asking")] = OFFICIAL,
    auth_code: Annotated[str, typer.Option("--auth-code", help="the channel's authCode")] = "",
    name: NameOpt = "",
    id_type: IdTypeOpt = "01",
    id_no: IdNoOpt = "",
    data: DataOpt = None,
    node: NodeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The voucher as the channel sees it: by --auth-code, or by --name/--id-no."""
    if not auth_code and not id_no:
        raise CliError("give --auth-code, or --name and --id-no", -2)
    request = pb.GetVoucherStatusRequest(authCode=auth_code)
    if not auth_code:
        request = pb.GetVoucherStatusRequest(userName=name, idType=id_type, idNo=id_no)
    with _connect(data, node) as h:
        v = Voucher(h, channel)
        s = v.call(v.stub.GetVoucherStatus, request)
    lines = [
        f"state: {_state(s.state)}"
        + (f" (until {s.frozenUntil.ToJsonString()})" if s.HasField("frozenUntil") else "")
    ]
    if s.ecCardNo:
        lines += [
            f"voucher: {s.ecCardNo} (version {s.version})",
            "insured: " + "; ".join(f"{r.insuOrg} {r.insuOrgName}" for r in s.insuredRegions),
            "authorized: " + ", ".join(a.channelId for a in s.authorizations if not a.revoked),
        ]
    _show(s, json_, lines)


@voucher_app.command(
    "liveness-sample",
    epilog=examples(
        'ecnet voucher liveness-sample --id-no 441426199112073706 --challenge "$CHALLENGE"',
    ),
)
@reports_errors
def liveness_sample(
    id_no: IdNoOpt,
    challenge: Annotated[
        str, typer.Option("--challenge", help="livenessChallenge of the RealNameCheck answer")
    ],
    id_type: IdTypeOpt = "01",
    name: NameOpt = "",
    channel: Annotated[str, typer.Option("--channel", help="the channel capturing")] = OFFICIAL,
    data: DataOpt = None,
    node: NodeOpt = None,
) -> None:
    """SIMULATION: a liveness sample of the person answering the challenge, as base64 for
    grpcurl's bytes field (valid for a minute)."""
    with _connect(data, node) as h:
        sample = _sample(Voucher(h, channel), name, id_type, id_no, challenge)
    out.print(base64.b64encode(sample).decode(), highlight=False)
