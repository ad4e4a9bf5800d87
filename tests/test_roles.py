"""Each role serves its own services: a call sent to the wrong node is answered -5
(table C.4) with where to go, the Appendix B envelope still answers as an envelope,
health reports only what the node serves, and reflection lists every service on
every node (so grpcurl can describe a call and be told where to send it)."""

from __future__ import annotations

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from voucherkit import fails

from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import (
    acceptance_service_pb2_grpc,
    qr_service_pb2_grpc,
    settlement_service_pb2_grpc,
    voucher_service_pb2_grpc,
)
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import qr_service_pb2 as qr_pb
from ecnet.v1 import settlement_service_pb2 as set_pb
from ecnet.v1 import voucher_service_pb2 as v_pb
from node.app import SERVICE_NAMES

SERVING = 1  # grpc.health.v1.HealthCheckResponse.SERVING


async def test_national_sends_province_calls_to_the_provinces(cluster):
    national = await cluster.start_national()
    channel = cluster.stubs(national).channel
    qr = qr_service_pb2_grpc.QrServiceStub(channel)
    message = await fails(qr.IssueQrCode(qr_pb.IssueQrCodeRequest(authCode="A" * 32)), -5)
    assert "provincial nodes" in message and "business place" in message
    settle = settlement_service_pb2_grpc.SettlementServiceStub(channel)
    message = await fails(settle.GetSettlement(set_pb.GetSettlementRequest(settlementId="1")), -5)
    assert "province of the institution" in message
    acceptance = acceptance_service_pb2_grpc.AcceptanceServiceStub(channel)
    message = await fails(acceptance.CheckToken(acc_pb.CheckTokenRequest(ecToken="x")), -5)
    assert "province of the terminal" in message

    # The envelope's failures travel in the envelope, with gRPC status OK.
    answer = await acceptance.Trans(acc_pb.TransRequest(orgId="H1", transType="ec.query"))
    assert (answer.orgId, answer.code) == ("H1", -5)
    assert "province of the terminal" in answer.message
    assert answer.HasField("data") and not answer.data.fields


async def test_a_province_sends_national_calls_to_national(cluster):
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    stubs = cluster.stubs(p44)
    voucher = voucher_service_pb2_grpc.VoucherServiceStub(stubs.channel)
    message = await fails(voucher.Activate(v_pb.ActivateRequest()), -5)
    assert "national node" in message and "province 44" in message
    message = await fails(stubs.admin.ListChannels(admin_pb.ListChannelsRequest()), -5)
    assert "national node" in message
    as_31 = cluster.stubs(p44, as_="p31").federation  # FederationService answers nodes only
    message = await fails(as_31.FetchVoucher(fed_pb.FetchVoucherRequest(province="44")), -5)
    assert "the hub" in message
    # What every node serves still answers.
    info = await stubs.admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
    assert info.province == "44" and info.role == fed_pb.NODE_ROLE_PROVINCIAL


async def test_health_and_reflection_per_role(cluster):
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    stubs = cluster.stubs(p44)
    served = {
        "ecnet.v1.QrService",
        "ecnet.v1.AcceptanceService",
        "ecnet.v1.SettlementService",
        "ecnet.v1.FederationService",
        "ecnet.v1.AdminService",
    }
    assert await stubs.health_status() == SERVING
    for name in SERVICE_NAMES:
        if name in served:
            assert await stubs.health_status(name) == SERVING
        else:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stubs.health_status(name)
            assert info.value.code() == grpc.StatusCode.NOT_FOUND

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    async for resp in reflection.ServerReflectionInfo(requests()):
        listed = {s.name for s in resp.list_services_response.service}
    assert set(SERVICE_NAMES) <= listed
