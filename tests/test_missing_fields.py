"""A request lacking several required fields is refused once, naming every one of them
(node.errors.Problems), at a real node, for at least one RPC of each service."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from chankit import QR, VOUCHER, known, signed
from voucherkit import OFFICIAL, fails, start_nation

from ecnet.v1 import acceptance_service_pb2 as xpb
from ecnet.v1 import (
    acceptance_service_pb2_grpc,
    qr_service_pb2_grpc,
    settlement_service_pb2_grpc,
    voucher_service_pb2_grpc,
)
from ecnet.v1 import admin_service_pb2 as apb
from ecnet.v1 import federation_service_pb2 as fpb
from ecnet.v1 import qr_service_pb2 as qpb
from ecnet.v1 import settlement_service_pb2 as spb
from ecnet.v1 import voucher_service_pb2 as vpb
from node.errors import node_answer


def CHANNEL(method: str, request) -> tuple:  # noqa: N802
    """Signed as the official channel (the channel's call is checked before its fields)."""
    return signed(Path("."), OFFICIAL, method, request)


def _call(stub, name: str, request):
    """``name`` of VoucherService or QrService, signed as the official channel."""
    prefix = QR if name in ("IssueQrCode", "RefreshQrCode") else VOUCHER
    return getattr(stub, name)(request, metadata=CHANNEL(prefix + name, request), timeout=10)


def named(message: str, *fields: str) -> None:
    """Every field is named in the one answer."""
    for field in fields:
        assert field in message, f"{field} not named in: {message}"


@pytest.fixture
async def nodes(cluster, tmp_path):
    national = (await start_nation(cluster, tmp_path, population=20)).national
    p44 = await cluster.start_province("44")
    await known(p44)
    return cluster.stubs(national).channel, cluster.stubs(p44).channel


async def test_voucher_service(nodes):
    national, _ = nodes
    stub = voucher_service_pb2_grpc.VoucherServiceStub(national)
    message = await fails(_call(stub, "RealNameCheck", vpb.RealNameCheckRequest()), -2)
    assert message.startswith("missing: userName, idType, idNo")
    # missing and invalid together: the name is missing, the id type is not of table C.2
    message = await fails(
        _call(stub, "Authorize", vpb.AuthorizeRequest(idType="77", idNo="1")),
        -2,
    )
    named(message, "password", "userName", "idType: '77' is not a code of table C.2")
    message = await fails(_call(stub, "RealPersonCheck", vpb.RealPersonCheckRequest()), -2)
    named(message, "realNameSerial", "livenessSample")
    message = await fails(
        _call(stub, "RevokeAuthorization", vpb.RevokeAuthorizationRequest()),
        -2,
    )
    named(message, "authCode", "channelId")


async def test_admin_service(nodes, cluster):
    national, _ = nodes
    admin = cluster.stubs(cluster.national).admin
    named(
        await fails(admin.SetChannelStatus(apb.SetChannelStatusRequest(), timeout=10), -2),
        "channelId",
        "status",
    )
    named(
        await fails(admin.UpdatePerson(apb.UpdatePersonRequest(), timeout=10), -2),
        "idType",
        "idNo",
    )


async def test_federation_service(nodes, cluster):
    federation = cluster.stubs(cluster.national, as_="p44").federation  # nodes only
    named(
        await fails(federation.Register(fpb.RegisterRequest(), timeout=10), -2),
        "province",
        "address",
        "instanceId",
    )
    named(
        await fails(federation.FetchVoucher(fpb.FetchVoucherRequest(), timeout=10), -2),
        "authCode",
        "channelId",
        "province",
    )


async def test_qr_service(nodes):
    _, p44 = nodes
    stub = qr_service_pb2_grpc.QrServiceStub(p44)
    named(
        await fails(
            _call(stub, "IssueQrCode", qpb.IssueQrCodeRequest(requestId="r" * 200)),
            -2,
        ),
        "missing: authCode",
        "requestId: must be at most",
    )


async def test_acceptance_service(nodes):
    _, p44 = nodes
    stub = acceptance_service_pb2_grpc.AcceptanceServiceStub(p44)
    named(
        await fails(stub.CheckToken(xpb.CheckTokenRequest(), timeout=10), -2),
        "ecToken",
        "idType",
        "idNo",
        "userName",
    )
    # orgId has a code of its own (500098); the answer still names every other field
    message = await fails(stub.Query(xpb.QueryRequest(businessType="01101"), timeout=10), 500098)
    named(message, "orgId", "operatorId", "operatorName", "ecQrCode")
    assert "businessType" not in message
    # the Appendix B envelope: the same answer, in its code and message
    answer = await stub.Trans(xpb.TransRequest(transType="ec.query"), timeout=10)
    assert answer.code == 500098
    named(answer.message, "orgId", "businessType", "operatorId", "operatorName", "ecQrCode")
    answer = await stub.Trans(xpb.TransRequest(), timeout=10)
    assert answer.code == 500098
    named(answer.message, "orgId", "transType")


async def test_settlement_service(nodes):
    _, p44 = nodes
    stub = settlement_service_pb2_grpc.SettlementServiceStub(p44)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Settle(spb.SettleRequest(), timeout=10)
    code, message = node_answer(info.value)
    assert code == 500098  # orgId's own code, the first of the table's own codes
    assert message.startswith("missing: orgId")
    named(message, "requestId", "ecToken", "medType", "items")
    named(await fails(stub.ListNotices(spb.ListNoticesRequest(), timeout=10), -2), "idType", "idNo")
