"""Channel control (node.voucher.channels): national's management center suspends a
third-party channel; national refuses it at once, every province once the change is
delivered (a province that was down too, after it is back), and approval lifts it."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import grpc
import pytest
from chankit import QR, signed
from clikit import ecnet, readme_session, write_nation
from scankit import eventually, insured_in, start_scan_nation
from voucherkit import OFFICIAL, WECHAT, activate, fails

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import qr_service_pb2 as qr_pb
from ecnet.v1 import qr_service_pb2_grpc
from node.errors import EcError, from_rpc_error


async def _display(sk, province: str, auth: str, channel: str = WECHAT) -> str:
    """IssueQrCode at ``province`` for ``channel``: the code, or ``"<C.4 code>: message"``."""
    stub = qr_service_pb2_grpc.QrServiceStub(sk.cluster.stubs(sk.provinces[province]).channel)
    node = sk.provinces[province]
    request = qr_pb.IssueQrCodeRequest(authCode=auth)
    md = signed(sk.cluster.root, channel, QR + "IssueQrCode", request, node.clock)
    try:
        resp = await stub.IssueQrCode(request, metadata=md, timeout=10)
    except grpc.aio.AioRpcError as exc:  # with the node's ErrorInfo
        code, message = from_rpc_error(exc)
        return f"{code}: {message}"
    return resp.ecQrCode


async def _set(
    sk, channel: str, status: str, reason: str = ""
) -> admin_pb.SetChannelStatusResponse:
    return await sk.kit.admin().SetChannelStatus(
        admin_pb.SetChannelStatusRequest(channelId=channel, status=status, reason=reason),
        timeout=10,
    )


async def test_a_suspended_channel_is_refused_at_national_and_in_every_province(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    people = insured_in(sk.kit, "44")
    auth = await sk.activated(people[0], "44", channel=WECHAT)  # activated through WeChat
    official = await sk.activated(people[1], "44", channel=OFFICIAL)
    assert (await _display(sk, "44", auth)).startswith("424")

    # 31 is down while the channel is suspended
    p31 = sk.provinces["31"]
    await p31.stop()
    cluster.nodes.remove(p31)

    done = await _set(sk, WECHAT, "suspended", "under review by the management center")
    assert done.changed and done.channel.status == "suspended"
    assert done.channel.statusReason == "under review by the management center"
    assert done.channel.HasField("statusChangedAt")
    again = await _set(sk, WECHAT, "suspended", "under review by the management center")
    assert not again.changed  # nothing new: nothing sent
    listed = {
        c.channelId: c
        for c in (
            await sk.kit.admin().ListChannels(admin_pb.ListChannelsRequest(), timeout=10)
        ).channels
    }
    assert listed[WECHAT].status == "suspended" and listed[OFFICIAL].status == "approved"

    # national refuses the channel at once (a new activation through it)
    message = await fails(activate(sk.kit, people[2], WECHAT, business_province="44"), -4)
    assert "suspended" in message

    # province 44 once told: no more codes for WeChat; the official channel is not touched
    async def refused_at_44():
        return (await _display(sk, "44", auth)).startswith("-4:")

    await eventually(refused_at_44, what="44 refusing the suspended channel")
    refusal = await _display(sk, "44", auth)
    assert "suspended" in refusal and "under review" in refusal
    assert (await _display(sk, "44", official, OFFICIAL)).startswith("424")

    # 31 comes back and is told too
    sk.provinces["31"] = await cluster.start_province("31")

    async def refused_at_31():
        return (await _display(sk, "31", auth)).startswith("-4:")

    await eventually(refused_at_31, what="31 refusing the suspended channel after its restart")

    # approved again: both provinces display its codes again
    assert (await _set(sk, WECHAT, "approved", "review passed")).changed
    for code in ("44", "31"):

        async def displays(code=code):
            return (await _display(sk, code, auth)).startswith("424")

        await eventually(displays, what=f"{code} displaying WeChat's codes again")


async def test_channel_control_refuses_bad_requests(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",))
    admin = sk.kit.admin()
    await fails(
        admin.SetChannelStatus(
            admin_pb.SetChannelStatusRequest(channelId=OFFICIAL, status="suspended"), timeout=10
        ),
        -2,
    )
    await fails(
        admin.SetChannelStatus(
            admin_pb.SetChannelStatusRequest(channelId="NO-SUCH", status="suspended"), timeout=10
        ),
        500012,
    )
    await fails(
        admin.SetChannelStatus(
            admin_pb.SetChannelStatusRequest(channelId=WECHAT, status="paused"), timeout=10
        ),
        -2,
    )
    await fails(
        admin.SetChannelStatus(
            admin_pb.SetChannelStatusRequest(
                channelId=WECHAT, status="suspended", reason="x" * 201
            ),
            timeout=10,
        ),
        -2,
    )
    # a province does not control channels: national does
    p44 = sk.cluster.stubs(sk.provinces["44"]).admin
    await fails(
        p44.SetChannelStatus(
            admin_pb.SetChannelStatusRequest(channelId=WECHAT, status="suspended"), timeout=10
        ),
        -5,
    )


async def test_channels_suspend_and_approve_from_the_cli(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",))
    data = write_nation(tmp_path / "nation", sk.kit.national, sk.provinces["44"])
    rc, out, err = await ecnet(
        "channels", "suspend", WECHAT, "--reason", "complaints", "--data", str(data)
    )
    assert rc == 0, err
    assert f"channel {WECHAT}" in out and "now suspended (complaints)" in out
    rc, out, _ = await ecnet(
        "channels", "suspend", WECHAT, "--reason", "complaints", "--data", str(data)
    )
    assert rc == 0 and "already suspended" in out
    rc, out, _ = await ecnet("channels", "list", "--json", "--data", str(data))
    listed = {c["channelId"]: c for c in json.loads(out)["channels"]}
    assert (
        listed[WECHAT]["status"] == "suspended" and listed[WECHAT]["statusReason"] == "complaints"
    )
    rc, _, err = await ecnet("channels", "suspend", OFFICIAL, "--data", str(data))
    assert rc != 0 and "-2" in err and "official" in err
    rc, out, _ = await ecnet("channels", "approve", WECHAT, "--data", str(data))
    assert rc == 0 and "now approved" in out


def test_channel_events_are_checked_on_arrival():
    from node.wire.events import channel_event, inbound_from_proto

    ok = channel_event(WECHAT, "suspended", "why", 3, 1_700_000_000_000)
    ok.sequence = 7
    got = inbound_from_proto(ok)
    assert got.channel is not None and (
        got.channel.status,
        got.channel.reason,
        got.channel.version,
    ) == ("suspended", "why", 3)
    for broken in (
        dict(payloadJson="not json"),
        dict(payloadJson='{"channelId": "WECHAT", "status": "paused", "reason": ""}'),
        dict(payloadJson='{"channelId": "ALIPAY", "status": "suspended", "reason": ""}'),
        dict(eventId="channel:WECHAT:4"),
    ):
        event = channel_event(WECHAT, "suspended", "why", 3, 1_700_000_000_000)
        event.sequence = 7
        for field, value in broken.items():
            setattr(event, field, value)
        with pytest.raises(EcError) as info:
            inbound_from_proto(event)
        assert info.value.code == -2


@pytest.mark.skipif(
    shutil.which("grpcurl", path=str(Path(sys.executable).parent)) is None
    or shutil.which("bash") is None,
    reason="needs grpcurl and bash",
)
async def test_the_readme_channel_session_runs_as_written(cluster, tmp_path):
    rc, text, errors = await readme_session(
        cluster, tmp_path, "Control a channel", provinces=("44",)
    )
    assert rc == 0, errors + text
    assert re.search(r"ecQrCode: 424\d{19}440000", text), text
    assert "channel WECHAT (微信) is now suspended (under review); every province is told" in text
    assert (
        "error -4: channel WECHAT is suspended by the national management center: under review"
        in errors
    )
    assert '"changed": true' in text and '"statusReason": "review passed"' in text
    assert re.search(r"WECHAT .*approved .*review passed", text), text
