"""Signed channel calls (4.3, 4.6; node.domain.channelsig, node.interceptor.ChannelCheck),
against real nodes: who a channel is comes from its SM2 signature only. Each attack is
made and refused with its C.4 code: unsigned, the ec-channel-id header alone, another
key, an altered body, a stale timestamp, a replayed nonce, a method outside the
channel's scopes, a suspended channel, a rotated key; and a channel applies through a
province, national approves or rejects it, and it encrypts a field under the SM4 key
the approval gave it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

import grpc
import pytest
from chankit import QR, VOUCHER, known, private_key, signed
from clikit import readme_session
from voucherkit import OFFICIAL, WECHAT, activate, fails, identity, start_nation

from ecnet.v1 import admin_service_pb2 as apb
from ecnet.v1 import qr_service_pb2 as qpb
from ecnet.v1 import qr_service_pb2_grpc, voucher_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as vpb
from node.clock import SystemClock
from node.domain.channelsig import (
    canonical,
    sign_message,
    signature_base,
    sm4_seal,
)
from node.domain.sm import sm2_generate_keypair
from node.errors import from_rpc_error
from node.pki import Identity

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = "0123456789ABCDEF0123456789ABCDEF"


def test_canonical_form_is_the_open_platforms():
    """Drop signData, encData, extra and empty values; keys by ASCII; nested objects as
    JSON with sorted keys; k=v joined with &."""
    fields = {
        "b": "2",
        "a": "1",
        "signData": "x",
        "encData": "y",
        "extra": {"k": 1},
        "empty": "",
        "none": None,
        "list": [],
        "Z": "upper first",
        "nested": {"y": 2, "x": "1"},
    }
    assert canonical(fields) == 'Z=upper first&a=1&b=2&nested={"x":"1","y":2}'
    base = signature_base("/ecnet.v1.QrService/IssueQrCode", {"authCode": "AB"}, "WECHAT", 5, "n")
    assert base == (
        "appId=WECHAT&authCode=AB&method=ecnet.v1.QrService/IssueQrCode&nonce=n&timestamp=5"
    )


class Nation:
    def __init__(self, kit, p44) -> None:
        self.kit, self.p44 = kit, p44
        self.cluster = kit.cluster
        self.voucher = voucher_service_pb2_grpc.VoucherServiceStub(
            self.cluster.stubs(kit.national).channel
        )
        self.qr = qr_service_pb2_grpc.QrServiceStub(self.cluster.stubs(p44).channel)

    def status(self, auth_code: str, md: tuple):
        return self.voucher.GetVoucherStatus(
            vpb.GetVoucherStatusRequest(authCode=auth_code), metadata=md, timeout=10
        )

    def sign_status(self, app_id: str, auth_code: str, **kw) -> tuple:
        request = vpb.GetVoucherStatusRequest(authCode=auth_code)
        return signed(
            self.cluster.root, app_id, VOUCHER + "GetVoucherStatus", request, self.kit.clock, **kw
        )

    def issue(self, app_id: str, auth_code: str, md: tuple | None = None):
        request = qpb.IssueQrCodeRequest(authCode=auth_code)
        if md is None:
            md = signed(self.cluster.root, app_id, QR + "IssueQrCode", request, self.p44.clock)
        return self.qr.IssueQrCode(request, metadata=md, timeout=10)


@pytest.fixture
async def nation(cluster, tmp_path) -> Nation:
    kit = await start_nation(cluster, tmp_path, population=40)
    p44 = await cluster.start_province("44")
    await known(p44, OFFICIAL)
    await known(p44, WECHAT)
    return Nation(kit, p44)


async def test_a_signed_call_passes_and_every_forgery_is_refused(nation):
    n = nation
    act = await activate(n.kit, n.kit.person(0))
    code = act.authCode
    ok = await n.status(code, n.sign_status(OFFICIAL, code))
    assert ok.state == 2  # activated: the official channel's signed call answers

    # unsigned, and the header alone: no channel at all (500036)
    message = await fails(n.status(code, ()), 500036)
    assert "must be signed" in message
    message = await fails(n.status(code, (("ec-channel-id", OFFICIAL),)), 500036)
    assert "ec-channel-id header alone" in message
    await fails(n.issue(OFFICIAL, code, (("ec-channel-id", OFFICIAL),)), 500036)

    # signed with another key than the channel's (a thief's key)
    thief = sm2_generate_keypair().private_key
    request = vpb.GetVoucherStatusRequest(authCode=code)
    md = sign_message(
        OFFICIAL, thief, VOUCHER + "GetVoucherStatus", request, now_ms=n.kit.clock.now_ms()
    )
    assert "does not verify" in await fails(n.status(code, md), 500036)

    # a body altered after signing: signed for another code
    md = n.sign_status(OFFICIAL, UNKNOWN)
    await fails(n.status(code, md), 500036)
    # the signature of one method replayed on another: the method is signed too
    qr_md = signed(
        n.cluster.root, OFFICIAL, QR + "IssueQrCode", qpb.IssueQrCodeRequest(authCode=code)
    )
    await fails(
        n.voucher.GetVoucherStatus(
            vpb.GetVoucherStatusRequest(authCode=code), metadata=qr_md, timeout=10
        ),
        500036,
    )

    # a timestamp 6 minutes old (or ahead), well signed: refused (-4)
    official_key = private_key(n.cluster.root, OFFICIAL)
    for shift in (-6, +6):
        at = n.kit.clock.now_ms() + shift * 60 * 1000
        md = sign_message(OFFICIAL, official_key, VOUCHER + "GetVoucherStatus", request, now_ms=at)
        assert "good for 5 minutes" in await fails(n.status(code, md), -4)

    # a call replayed as it was sent: the nonce was seen (-4)
    md = n.sign_status(OFFICIAL, code)
    await n.status(code, md)
    assert "used before" in await fails(n.status(code, md), -4)
    # the same at a province
    md = signed(
        n.cluster.root, OFFICIAL, QR + "IssueQrCode", qpb.IssueQrCodeRequest(authCode=UNKNOWN)
    )
    await fails(n.issue(OFFICIAL, UNKNOWN, md), 500040)  # the signature held: unknown code
    await fails(n.issue(OFFICIAL, UNKNOWN, md), -4)

    # a channel national does not know
    await fails(n.status(code, n.sign_status("NO-SUCH", code)), 500012)


async def test_the_channel_comes_from_the_signature_not_the_header(nation):
    """WeChat signs, and claims to be the official channel in the header: it is WeChat
    (the official code is another channel's: 500003 at national's status call)."""
    n = nation
    act = await activate(n.kit, n.kit.person(1))
    md = n.sign_status(WECHAT, act.authCode) + (("ec-channel-id", OFFICIAL),)
    await fails(n.status(act.authCode, md), 500003)


async def test_suspension_and_rotation_reach_national_and_the_provinces(nation):
    n = nation
    admin = n.kit.admin()
    act = await activate(n.kit, n.kit.person(2), channel_id=WECHAT)
    code = act.authCode
    await n.status(code, n.sign_status(WECHAT, code))

    await admin.SetChannelStatus(
        apb.SetChannelStatusRequest(channelId=WECHAT, status="suspended", reason="review"),
        timeout=10,
    )
    message = await fails(n.status(code, n.sign_status(WECHAT, code)), -4)
    assert "suspended" in message and "review" in message

    async def refused_at_p44(expected: int) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                await n.issue(WECHAT, code)
                got = 0
            except grpc.aio.AioRpcError as exc:
                got = from_rpc_error(exc)[0]
            if got == expected:
                return
            assert time.monotonic() < deadline, f"p44 answers {got}, not {expected}"
            await asyncio.sleep(0.05)

    await refused_at_p44(-4)
    await admin.SetChannelStatus(
        apb.SetChannelStatusRequest(channelId=WECHAT, status="approved"), timeout=10
    )
    await n.status(code, n.sign_status(WECHAT, code))

    # rotation: the new key registered, the old one refused from then on
    old = private_key(n.cluster.root, WECHAT)
    new = sm2_generate_keypair()
    rotated = await admin.RotateChannelKey(
        apb.RotateChannelKeyRequest(appId=WECHAT, publicKey=new.public_key.hex()), timeout=10
    )
    assert rotated.keyVersion == 2 and len(rotated.sm4Key) == 32
    request = vpb.GetVoucherStatusRequest(authCode=code)
    now = n.kit.clock.now_ms()
    old_md = sign_message(WECHAT, old, VOUCHER + "GetVoucherStatus", request, now_ms=now)
    new_md = sign_message(
        WECHAT, new.private_key, VOUCHER + "GetVoucherStatus", request, now_ms=now
    )
    await fails(n.status(code, old_md), 500036)
    assert (await n.status(code, new_md)).state == 2

    qreq = qpb.IssueQrCodeRequest(authCode=code)
    deadline = time.monotonic() + 15
    while True:  # p44 refuses the old key once told
        md = sign_message(WECHAT, old, QR + "IssueQrCode", qreq)
        try:
            await n.qr.IssueQrCode(qreq, metadata=md, timeout=10)
        except grpc.aio.AioRpcError as exc:
            if from_rpc_error(exc)[0] == 500036:
                break
        assert time.monotonic() < deadline, "p44 still takes the old key"
        await asyncio.sleep(0.05)
    md = sign_message(WECHAT, new.private_key, QR + "IssueQrCode", qreq)
    assert (await n.qr.IssueQrCode(qreq, metadata=md, timeout=10)).ecQrCode


async def test_a_channel_applies_through_a_province_and_national_decides(nation):
    n = nation
    key = sm2_generate_keypair()
    p44_admin = n.cluster.stubs(n.p44).admin
    applied = await p44_admin.ApplyChannel(
        apb.ApplyChannelRequest(
            name="某银行",
            publicKey=key.public_key.hex(),
            scopes=["ecnet.v1.QrService/*", "ecnet.v1.VoucherService/RealNameCheck"],
            province="31",  # a province passes on what is made through it: 44
        ),
        timeout=10,
    )
    a = applied.application
    assert (a.status, a.province) == ("pending", "44"), a
    # bad applications: not a key, a scope that is no method of a channel
    await fails(
        p44_admin.ApplyChannel(
            apb.ApplyChannelRequest(name="x", publicKey="04ab", scopes=["ecnet.v1.QrService/*"]),
            timeout=10,
        ),
        -2,
    )
    await fails(
        p44_admin.ApplyChannel(
            apb.ApplyChannelRequest(
                name="x",
                publicKey=key.public_key.hex(),
                scopes=["ecnet.v1.AdminService/UpdatePerson"],
            ),
            timeout=10,
        ),
        -2,
    )
    # a province cannot decide; a channel cannot either
    await fails(
        n.cluster.stubs(n.kit.national, as_="p44").admin.ApproveChannelApplication(
            apb.ApproveChannelApplicationRequest(applicationId=a.applicationId, appId="BANK"),
            timeout=10,
        ),
        -4,
    )
    admin = n.kit.admin()
    approved = await admin.ApproveChannelApplication(
        apb.ApproveChannelApplicationRequest(applicationId=a.applicationId, appId="BANK"),
        timeout=10,
    )
    assert approved.channel.channelId == "BANK" and approved.application.status == "approved"
    assert list(approved.channel.scopes) == list(a.scopes)
    await fails(  # decided already
        admin.ApproveChannelApplication(
            apb.ApproveChannelApplicationRequest(applicationId=a.applicationId, appId="BANK2"),
            timeout=10,
        ),
        -2,
    )
    other = (
        await p44_admin.ApplyChannel(
            apb.ApplyChannelRequest(
                name="另一家", publicKey=key.public_key.hex(), scopes=["ecnet.v1.QrService/*"]
            ),
            timeout=10,
        )
    ).application
    await fails(  # the appId is taken
        admin.ApproveChannelApplication(
            apb.ApproveChannelApplicationRequest(applicationId=other.applicationId, appId="BANK"),
            timeout=10,
        ),
        -2,
    )
    rejected = await admin.RejectChannelApplication(
        apb.RejectChannelApplicationRequest(applicationId=other.applicationId, reason="no licence"),
        timeout=10,
    )
    assert rejected.application.status == "rejected"
    listed = await admin.ListChannelApplications(apb.ListChannelApplicationsRequest(), timeout=10)
    assert [x.status for x in listed.applications] == ["approved", "rejected"]

    # BANK signs with its key: RealNameCheck is in its scopes, Authorize is not (-4)
    p = n.kit.person(3)
    now = n.kit.clock.now_ms()
    req = vpb.RealNameCheckRequest(**identity(p))
    md = sign_message("BANK", key.private_key, VOUCHER + "RealNameCheck", req, now_ms=now)
    assert (await n.voucher.RealNameCheck(req, metadata=md, timeout=10)).realNameSerial
    auth = vpb.AuthorizeRequest(**identity(p), password="135792")
    md = sign_message("BANK", key.private_key, VOUCHER + "Authorize", auth, now_ms=now)
    message = await fails(n.voucher.Authorize(auth, metadata=md, timeout=10), -4)
    assert "outside the scopes" in message

    # the id number SM4-encrypted under the key the approval gave (ec-enc-type: SM4)
    sm4 = bytes.fromhex(approved.sm4Key)
    p4 = n.kit.person(4)
    sealed = vpb.RealNameCheckRequest(**identity(p4, idNo=sm4_seal(sm4, p4.id_no)))
    md = sign_message(
        "BANK", key.private_key, VOUCHER + "RealNameCheck", sealed, now_ms=now, enc_type="SM4"
    )
    assert (await n.voucher.RealNameCheck(sealed, metadata=md, timeout=10)).realNameSerial
    wrong = vpb.RealNameCheckRequest(**identity(p4, idNo=sm4_seal(b"k" * 16, p4.id_no)))
    md = sign_message(
        "BANK", key.private_key, VOUCHER + "RealNameCheck", wrong, now_ms=now, enc_type="SM4"
    )
    await fails(n.voucher.RealNameCheck(wrong, metadata=md, timeout=10), 500072)

    # the channel's certificate names it: it cannot sign as another channel
    n.cluster.pki.files(Identity.channel("BANK"))
    bank = n.cluster.stubs(n.kit.national, as_=Identity.channel("BANK"))
    as_official = signed(
        n.cluster.root,
        OFFICIAL,
        VOUCHER + "RealNameCheck",
        vpb.RealNameCheckRequest(**identity(p)),
        n.kit.clock,
    )
    stub = voucher_service_pb2_grpc.VoucherServiceStub(bank.channel)
    message = await fails(
        stub.RealNameCheck(
            vpb.RealNameCheckRequest(**identity(p)), metadata=as_official, timeout=10
        ),
        -4,
    )
    assert "cannot call as NHSA-OFFICIAL" in message


async def test_the_readme_session_runs_as_written(cluster, tmp_path):
    rc, out, err = await readme_session(cluster, tmp_path, "Signed channel calls", ("44",))
    assert rc == 0, err
    assert "application CA0000000001 (某银行) made through province 44: pending" in out
    assert "approved: channel SOME-BANK" in out and '"realNameSerial"' in out
    assert "the ec-channel-id header alone names no channel" in err
    assert "channel SOME-BANK signs with key version 2 now" in out


async def test_the_readme_python_snippet_signs_a_call(cluster, tmp_path):
    """The developer's snippet, run as written against a province (its paths and address
    pointed at this test's nation), issues a code for a WeChat authorization."""
    kit = await start_nation(cluster, tmp_path, population=40, clock=SystemClock())
    p44 = await cluster.start_province("44")
    await known(p44, WECHAT)
    act = await activate(kit, kit.person(5), channel_id=WECHAT)
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Signed channel calls\n", 1)[1].split("\n## ", 1)[0]
    snippet = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    files = n_pki_files()
    nation = tmp_path / "nation" / "pki"
    (nation / "channels").mkdir(parents=True)
    for name, path in files.items():
        (nation / name).write_bytes(path.read_bytes())
    (nation / "channels" / "WECHAT.sign.key").write_text(private_key(tmp_path, WECHAT).hex() + "\n")
    snippet = snippet.replace("127.0.0.1:50044", p44.address).replace(
        "AUTH_CODE", repr(act.authCode)
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        snippet,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "ecQrCode" in out.decode()


def n_pki_files() -> dict[str, Path]:
    env = os.environ
    return {
        "ca.crt": Path(env["ECNET_CA"]),
        "operator.crt": Path(env["ECNET_CERT"]),
        "operator.key": Path(env["ECNET_KEY"]),
    }
