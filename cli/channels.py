"""``ecnet channels``: approved channels, their applications, keys and signed envelopes."""

from __future__ import annotations

import json
import os
import ssl
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    DataOpt,
    JsonOpt,
    NodeOpt,
    err,
    examples,
    out,
    print_message,
    province_address,
    reports_errors,
)
from cli.common import data_dir as _data
from cli.nationfile import NationFile
from cli.rpc import CliError, NodeHandle, channel_key, national_address, request_of
from ecnet.v1 import admin_service_pb2 as pb
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

channels_app = typer.Typer(help="Approved channels.", no_args_is_help=True)


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
