"""The same case answers the same C.4 code at every node where it can happen.

The decision is the table in the module docstring of ``node/errors.py``. One nation
(national, province 44 holding the voucher in its cache, province 31 fetching it from
national) is started once per case, and each case is made against every node that can
meet it, through the RPC a caller really uses there.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import grpc
import pytest
from chankit import QR, VOUCHER, signed
from voucherkit import OFFICIAL, PASSWORD, WECHAT, activate, fails, identity, start_nation

from ecnet.v1 import acceptance_service_pb2 as xpb
from ecnet.v1 import admin_service_pb2 as apb
from ecnet.v1 import qr_service_pb2 as qpb
from ecnet.v1 import qr_service_pb2_grpc, settlement_service_pb2_grpc, voucher_service_pb2_grpc
from ecnet.v1 import settlement_service_pb2 as spb
from ecnet.v1 import voucher_service_pb2 as vpb
from node.errors import from_rpc_error

UNKNOWN = "0123456789ABCDEF0123456789ABCDEF"
CHANNEL = (("ec-channel-id", OFFICIAL),)
# Bytes that are not a protobuf message: a truncated varint, a string longer than the rest.
GARBAGE = [b"\x08\xff\xff\xff", b"\x0a\x05ab"]


@dataclass
class Nation:
    kit: object
    cluster: object
    p44: object
    p31: object
    codes: dict[str, tuple[str, str]]  # case -> (channel that presents it, authCode)

    def node(self, where: str):
        return {"national": self.kit.national, "44": self.p44, "31": self.p31}[where]

    def present(self, where: str, channel: str, auth_code: str):
        """The one call where a channel presents an authorization code at that node:
        GetVoucherStatus at national, IssueQrCode at a province."""
        node = self.node(where)
        ch = self.cluster.stubs(node).channel
        root = self.cluster.root
        if where == "national":
            stub = voucher_service_pb2_grpc.VoucherServiceStub(ch)
            request = vpb.GetVoucherStatusRequest(authCode=auth_code)
            md = signed(root, channel, VOUCHER + "GetVoucherStatus", request, node.clock)
            return stub.GetVoucherStatus(request, metadata=md, timeout=10)
        request = qpb.IssueQrCodeRequest(authCode=auth_code)
        md = signed(root, channel, QR + "IssueQrCode", request, node.clock)
        return qr_service_pb2_grpc.QrServiceStub(ch).IssueQrCode(request, metadata=md, timeout=10)


async def _eventually(check, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def nation(cluster, tmp_path) -> Nation:
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p31 = await cluster.start_province("31")
    local = [
        p for p in kit.population if len(p.insured) == 1 and p.insured[0].insu_org.startswith("44")
    ]
    holder, changed = local[0], local[1]
    official = await activate(kit, holder)
    wechat = await kit.channel(WECHAT).Authorize(
        vpb.AuthorizeRequest(**identity(holder), password=PASSWORD)
    )
    await kit.channel(OFFICIAL).RevokeAuthorization(
        vpb.RevokeAuthorizationRequest(authCode=official.authCode, channelId=WECHAT)
    )
    old = await activate(kit, changed)
    await kit.admin().UpdatePerson(
        apb.UpdatePersonRequest(
            idType=changed.id_type, idNo=changed.id_no, newUserName=changed.user_name + "华"
        )
    )

    async def cached():
        revoked = await p44.store.get_by_auth_code(wechat.authCode)
        superseded = await p44.store.get_by_auth_code(old.authCode)
        return (
            revoked is not None
            and revoked.revoked
            and superseded is not None
            and superseded.voucher.state == 4
        )

    await _eventually(cached, "the revocation and the supersession at 44")
    return Nation(
        kit,
        cluster,
        p44,
        p31,
        {
            "unknown": (OFFICIAL, UNKNOWN),
            "another channel's": (WECHAT, official.authCode),
            "revoked": (WECHAT, wechat.authCode),
            "superseded": (OFFICIAL, old.authCode),
            "empty": (OFFICIAL, ""),
            "malformed": (OFFICIAL, "not-a-code"),
        },
    )


# -- the table --------------------------------------------------------------------------
# Each row of the table in node/errors.py: the nodes where the case can happen, how a
# caller makes it there, and the one code. national, 44 (holds the voucher in its
# cache) and 31 (fetches it from national) are started for every row.
EVERYWHERE = ("national", "44", "31")


def _auth(case: str):
    async def make(n: Nation, where: str):
        channel, code = n.codes[case]
        return await n.present(where, channel, code)

    return make


async def _undecodable(n: Nation, where: str):
    # GetNodeInfo: the one method every node serves; IssueQrCode / RealNameCheck: one of
    # the role's own services.
    ch = n.cluster.stubs(n.node(where)).channel
    await ch.unary_unary("/ecnet.v1.AdminService/GetNodeInfo")(GARBAGE[0], timeout=10)


async def _undecodable_own(n: Nation, where: str):
    method = (
        "/ecnet.v1.VoucherService/RealNameCheck"
        if where == "national"
        else "/ecnet.v1.QrService/IssueQrCode"
    )
    ch = n.cluster.stubs(n.node(where)).channel
    await ch.unary_unary(method)(GARBAGE[1], metadata=CHANNEL, timeout=10)  # -2 before any check


def _page_token(token: str):
    async def make(n: Nation, where: str):
        await n.cluster.stubs(n.node(where)).admin.ListPersons(
            apb.ListPersonsRequest(pageToken=token), timeout=10
        )

    return make


async def _identity_missing(n: Nation, where: str):
    # national's RealNameCheck; a province's ListNotices: both name every missing field
    if where == "national":
        stub = voucher_service_pb2_grpc.VoucherServiceStub(n.cluster.stubs(n.kit.national).channel)
        request = vpb.RealNameCheckRequest()
        md = signed(n.cluster.root, OFFICIAL, VOUCHER + "RealNameCheck", request, n.kit.clock)
        await stub.RealNameCheck(request, metadata=md, timeout=10)
    else:
        stub = settlement_service_pb2_grpc.SettlementServiceStub(
            n.cluster.stubs(n.node(where)).channel
        )
        await stub.ListNotices(spb.ListNoticesRequest(), timeout=10)


CASES = {
    "authCode empty": (EVERYWHERE, _auth("empty"), -2),
    "authCode malformed": (EVERYWHERE, _auth("malformed"), 500087),
    "authCode unknown": (EVERYWHERE, _auth("unknown"), 500040),
    "authCode of another channel": (EVERYWHERE, _auth("another channel's"), 500003),
    "authCode of a superseded voucher": (EVERYWHERE, _auth("superseded"), 500002),
    "authCode revoked": (EVERYWHERE, _auth("revoked"), 500022),
    "request undecodable": (EVERYWHERE, _undecodable, -2),
    "request undecodable (own service)": (EVERYWHERE, _undecodable_own, -2),
    "pageToken of 23 digits": (("national",), _page_token("1" * 23), -2),
    "pageToken not digits": (("national",), _page_token("abc"), -2),
    "pageToken negative": (("national",), _page_token("-1"), -2),
    "idType and idNo missing": (EVERYWHERE, _identity_missing, -2),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_one_code_per_case(cluster, tmp_path, case):
    where_all, make, code = CASES[case]
    n = await nation(cluster, tmp_path)
    got = {}
    for where in where_all:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await make(n, where)
        got[where] = from_rpc_error(info.value)[0]
    assert got == dict.fromkeys(where_all, code)


# -- what does not parse, on every service ---------------------------------------------

UNDECODABLE = [
    ("national", "/ecnet.v1.VoucherService/RealNameCheck"),
    ("national", "/ecnet.v1.AdminService/ListPersons"),
    ("national", "/ecnet.v1.FederationService/FetchVoucher"),
    ("44", "/ecnet.v1.QrService/IssueQrCode"),
    ("44", "/ecnet.v1.AcceptanceService/Query"),
    ("44", "/ecnet.v1.SettlementService/Settle"),
    ("44", "/ecnet.v1.AdminService/GetNodeInfo"),
    ("44", "/ecnet.v1.FederationService/DeliverEvents"),
]


@pytest.mark.parametrize(("where", "method"), UNDECODABLE)
async def test_a_request_that_cannot_be_decoded_is_invalid_argument(
    cluster, tmp_path, where, method
):
    national = await cluster.start_national()
    node = national if where == "national" else await cluster.start_province(where)
    # FederationService answers nodes only: a province calls national, national a province
    who = ("p44" if where == "national" else "national") if "Federation" in method else "operator"
    call = cluster.stubs(node, as_=who).channel.unary_unary(method)  # bytes in, bytes out
    for garbage in GARBAGE:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(garbage, metadata=(("ec-channel-id", OFFICIAL),), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        code, message = from_rpc_error(info.value)
        assert code == -2
        assert "could not be decoded" in message and method.rsplit("/", 1)[1] in message
        assert "Error parsing message" not in message


async def test_an_undecodable_trans_is_answered_in_its_envelope(cluster, tmp_path):
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    call = cluster.stubs(p44).channel.unary_unary(
        "/ecnet.v1.AcceptanceService/Trans", response_deserializer=xpb.TransResponse.FromString
    )
    answer = await call(GARBAGE[0], timeout=10)  # Appendix B: status OK, the code inside
    assert answer.code == -2 and "could not be decoded" in answer.message


async def test_a_link_frame_that_cannot_be_decoded_is_invalid_argument(cluster, tmp_path):
    national = await cluster.start_national()
    as_44 = cluster.stubs(national, as_="p44")
    stream = as_44.channel.stream_stream("/ecnet.v1.FederationService/Link")(timeout=10)
    await stream.write(GARBAGE[0])
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stream:
            pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    code, message = from_rpc_error(info.value)
    assert code == -2 and "could not be decoded" in message


BAD_TOKENS = ["1" * 23, "9" * 19, "abc", "-1", "1.5", " 1", "١٢", "²"]


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_a_page_token_that_does_not_parse_is_invalid_argument(cluster, tmp_path, token):
    national = await cluster.start_national()
    admin = cluster.stubs(national).admin
    for call in (
        admin.ListPersons(apb.ListPersonsRequest(pageToken=token), timeout=10),
        admin.ListTerminals(apb.ListTerminalsRequest(pageToken=token), timeout=10),
    ):
        message = await fails(call, -2)
        assert "pageToken" in message
