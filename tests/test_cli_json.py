"""One JSON: ``ecnet … --json`` prints what grpcurl prints for the same answer, byte for
byte (checked against the real grpcurl), and a failure under ``--json`` is
``{"code", "message"}``; and what a newcomer looks for in the help: ``--version``, the
commands in the order of the work, examples under every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chankit import signed
from clikit import GRPCURL, ecnet, grpcurl
from typer._click.core import Context
from typer.core import TyperGroup
from typer.main import get_command
from voucherkit import activate, start_nation

from cli.common import _go_float, _go_string, grpcurl_json
from cli.main import ORDER, app
from ecnet.v1 import acceptance_service_pb2, admin_service_pb2, admin_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as vpb

needs_grpcurl = pytest.mark.skipif(GRPCURL is None, reason="grpcurl binary not installed")


def official(method: str, request) -> list[str]:
    """grpcurl's -H flags signing ``request`` as the official channel."""
    md = signed(Path("."), "NHSA-OFFICIAL", "/ecnet.v1." + method, request)
    return [flag for k, v in md for flag in ("-H", f"{k}: {v}")]


@needs_grpcurl
async def test_json_output_is_what_grpcurl_prints(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    national = ["--node", kit.national.address]
    act = await activate(kit, kit.person(0, regions=2))

    # a voucher's status: enums by name, int64 as strings, timestamps, nested lists
    rc, out, err = await ecnet(
        "voucher", "status", "--auth-code", act.authCode, "--json", *national
    )
    assert rc == 0, err
    grc, shown, gerr = await grpcurl(
        *official(
            "VoucherService/GetVoucherStatus", vpb.GetVoucherStatusRequest(authCode=act.authCode)
        ),
        "-d",
        json.dumps({"authCode": act.authCode}),
        kit.national.address,
        "ecnet.v1.VoucherService/GetVoucherStatus",
    )
    assert grc == 0, gerr
    assert out == shown, (out, shown)
    status = json.loads(out)
    assert status["state"] == "VOUCHER_STATE_ACTIVATED" and status["version"] == "1"

    # strings as Go escapes them (<, >, &, U+2028, control characters), Chinese as is
    reason = 'review <A&B> "引号" \\ \u2028 tab\there \x01'
    rc, out, err = await ecnet(
        "channels", "suspend", "WECHAT", "--reason", reason, "--json", *national
    )
    assert rc == 0 and json.loads(out)["channel"]["statusReason"] == reason, err
    rc, out, err = await ecnet("channels", "list", "--json", *national)
    assert rc == 0, err
    grc, shown, gerr = await grpcurl(kit.national.address, "ecnet.v1.AdminService/ListChannels")
    assert grc == 0 and out == shown, (out, shown, gerr)
    assert "\\u003cA\\u0026B\\u003e" in out and "\\u2028" in out and "\\u0001" in out

    # an answer with no field at all: grpcurl's empty object
    rc, out, err = await ecnet("terminals", "list", "--province", "99", "--json", *national)
    assert rc == 0, err
    grc, shown, gerr = await grpcurl(
        "-d",
        '{"province": "99", "pageSize": 100}',
        kit.national.address,
        "ecnet.v1.AdminService/ListTerminals",
    )
    assert grc == 0 and out == shown == "{\n  \n}\n", (out, shown, gerr)

    # a map (sorted keys, int64 values as strings, zeros kept): the node's own answer
    info = await admin_service_pb2_grpc.AdminServiceStub(
        cluster.stubs(kit.national).channel
    ).GetNodeInfo(admin_service_pb2.GetNodeInfoRequest())
    assert "counts" in grpcurl_json(info)
    grc, shown, gerr = await grpcurl(kit.national.address, "ecnet.v1.AdminService/GetNodeInfo")
    assert grc == 0 and grpcurl_json(info) + "\n" == shown, (grpcurl_json(info), shown, gerr)

    # several pages merged into one answer, as a single call of that size answers
    rc, out, err = await ecnet("persons", "list", "--limit", "3", "--json", *national)
    assert rc == 0, err
    grc, shown, gerr = await grpcurl(
        "-d", '{"pageSize": 3}', kit.national.address, "ecnet.v1.AdminService/ListPersons"
    )
    assert grc == 0 and out == shown, (out, shown, gerr)


async def test_failures_under_json_are_a_json_object(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    national = ["--node", kit.national.address]

    # the node's refusal: its C.4 code and message, on stdout, exit 1
    rc, out, err = await ecnet("voucher", "status", "--auth-code", "12", "--json", *national)
    assert rc == 1 and err == "", err
    assert json.loads(out) == {
        "code": 500087,
        "message": "authCode: must be 32 hexadecimal digits (0-9, A-F)",
    }
    # the command's own check, a usage error, a nation that is not there
    rc, out, err = await ecnet("voucher", "status", "--json", *national)
    assert rc == 1 and json.loads(out)["code"] == -2 and "--auth-code" in json.loads(out)["message"]
    rc, out, err = await ecnet("voucher", "status", "--no-such-option", "--json")
    assert rc == 2 and json.loads(out) == {
        "code": -2,
        "message": "No such option: --no-such-option",
    }
    rc, out, err = await ecnet("nation", "status", "--data", str(tmp_path / "none"), "--json")
    assert rc == 1 and json.loads(out)["code"] == -2 and str(tmp_path / "none") in out, out
    # a node that is not there: -3
    rc, out, err = await ecnet("channels", "list", "--node", "127.0.0.1:9", "--json")
    assert rc == 1 and json.loads(out)["code"] == -3, out


async def test_version_order_and_examples():
    rc, out, err = await ecnet("--version")
    from importlib.metadata import version

    assert rc == 0 and out == f"ecnet {version('ecnet')}\n", (out, err)

    rc, out, err = await ecnet("--help", env={"COLUMNS": "120"})
    assert rc == 0, err
    listed = [
        line.split()[1]
        for line in out.splitlines()
        if line.startswith("│ ") and len(line.split()) > 1 and line.split()[1] in ORDER
    ]
    assert listed == [
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
    ], out

    # every command's help ends with examples that run the command itself
    def leaves(command, path):
        if not isinstance(command, TyperGroup):
            yield path, command
            return
        ctx = Context(command)
        for name in command.list_commands(ctx):  # the top level loads each by name
            yield from leaves(command.get_command(ctx, name), [*path, name])

    found = list(leaves(get_command(app), ["ecnet"]))
    assert len(found) >= 20
    for path, command in found:
        epilog = command.epilog or ""
        assert epilog.startswith("Examples:"), path
        assert " ".join(path) in epilog, (path, epilog)
    rc, out, err = await ecnet("qr", "issue", "--help", env={"COLUMNS": "200"})
    assert rc == 0 and "Examples:" in out and "--insu-org 441300 --json" in out, out


def test_grpcurl_json_by_hand():
    # what the grpcurl comparisons above cannot reach: int32 numbers, enums without a
    # name, map fields, floats (none in the contracts), nested empty messages
    info = admin_service_pb2.GetNodeInfoResponse(counts={"persons": 3, "channels": 0})
    assert (
        grpcurl_json(info) == '{\n  "counts": {\n    "channels": "0",\n    "persons": "3"\n  }\n}'
    )
    check = acceptance_service_pb2.CheckTokenResponse(flag=1)
    assert grpcurl_json(check) == '{\n  "flag": 1\n}'
    assert grpcurl_json(acceptance_service_pb2.CheckTokenResponse()) == "{\n  \n}"
    assert _go_string("a<b>&\u2028\x7f\b\n") == '"a\\u003cb\\u003e\\u0026\\u2028\x7f\\u0008\\n"'
    assert [_go_float(x) for x in (1.0, 0.5, 1234567.0, 100000.0, 1e-05, -2.5e-07)] == [
        "1",
        "0.5",
        "1.234567e+06",
        "100000",
        "1e-05",
        "-2.5e-07",
    ]
