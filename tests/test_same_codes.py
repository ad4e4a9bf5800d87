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
from voucherkit import OFFICIAL, PASSWORD, WECHAT, activate, fails, identity, start_nation

from ecnet.v1 import acceptance_service_pb2 as xpb
from ecnet.v1 import admin_service_pb2 as apb
from ecnet.v1 import qr_service_pb2 as qpb
from ecnet.v1 import qr_service_pb2_grpc, voucher_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as vpb
from node.errors import from_rpc_error

UNKNOWN = "0123456789ABCDEF0123456789ABCDEF"


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
        ch = self.cluster.stubs(self.node(where)).channel
        md = (("ec-channel-id", channel),)
        if where == "national":
            stub = voucher_service_pb2_grpc.VoucherServiceStub(ch)
            return stub.GetVoucherStatus(
                vpb.GetVoucherStatusRequest(authCode=auth_code), metadata=md, timeout=10
            )
        return qr_service_pb2_grpc.QrServiceStub(ch).IssueQrCode(
            qpb.IssueQrCodeRequest(authCode=auth_code), metadata=md, timeout=10
        )


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


# case -> the one code, at national and at a province (from the cache or fetched)
AUTH_CASES = {
    "empty": -2,
    "malformed": 500087,
    "unknown": 500040,
    "another channel's": 500003,
    "superseded": 500002,
    "revoked": 500022,
}


async def test_an_authorization_code_answers_one_code_per_case_everywhere(cluster, tmp_path):
    n = await nation(cluster, tmp_path)
    got: dict[tuple[str, str], int] = {}
    for case in AUTH_CASES:
        channel, code = n.codes[case]
        for where in ("national", "44", "31"):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await n.present(where, channel, code)
            got[case, where] = from_rpc_error(info.value)[0]
    want = {
        (case, where): c for case, c in AUTH_CASES.items() for where in ("national", "44", "31")
    }
    assert got == want


# -- what does not parse ----------------------------------------------------------------
# Bytes that are not a protobuf message: a truncated varint, a string longer than the rest.
GARBAGE = [b"\x08\xff\xff\xff", b"\x0a\x05ab"]

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
    call = cluster.stubs(node).channel.unary_unary(method)  # bytes in, bytes out
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
    call = cluster.stubs(national).channel.stream_stream("/ecnet.v1.FederationService/Link")
    stream = call(metadata=(("ec-node", "p44"),), timeout=10)
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
