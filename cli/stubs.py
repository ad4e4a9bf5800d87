"""The gRPC stubs the CLI calls, with the types of their requests and answers.

``make proto`` (grpc_tools.protoc ``--grpc_python_out``) writes the service stubs of
ecnet/v1/*_pb2_grpc.py without type information: each method is an untyped attribute
set in ``__init__``. The Protocols below say what the CLI relies on: each method it
calls, with its request and response messages (typed by ecnet/v1/*_pb2.pyi). The
factories are the one place the untyped generated constructors are called; once the
generated code has stubs of its own (mypy-protobuf's ``--mypy_grpc_out``), mypy reports
their ``type: ignore`` as unused, and the Protocols can give way to the generated
classes.
"""

from __future__ import annotations

from typing import Protocol

import grpc
from grpc_health.v1 import health_pb2

from ecnet.v1 import acceptance_service_pb2 as _acc
from ecnet.v1 import (
    acceptance_service_pb2_grpc,
    admin_service_pb2_grpc,
    qr_service_pb2_grpc,
    settlement_service_pb2_grpc,
    voucher_service_pb2_grpc,
)
from ecnet.v1 import admin_service_pb2 as _adm
from ecnet.v1 import qr_service_pb2 as _qr
from ecnet.v1 import settlement_service_pb2 as _set
from ecnet.v1 import voucher_service_pb2 as _vou

__all__ = [
    "AcceptanceStub",
    "AdminStub",
    "QrStub",
    "SettlementStub",
    "VoucherStub",
    "acceptance_stub",
    "admin_stub",
    "health_check",
    "qr_stub",
    "settlement_stub",
    "voucher_stub",
]

# A unary method of a stub: called with its request message, it answers its response.
Unary = grpc.UnaryUnaryMultiCallable


class AdminStub(Protocol):
    """AdminService, as ``ecnet nation|persons|channels|terminals`` call it."""

    GetNodeInfo: Unary[_adm.GetNodeInfoRequest, _adm.GetNodeInfoResponse]
    ListNodes: Unary[_adm.ListNodesRequest, _adm.ListNodesResponse]
    ListPersons: Unary[_adm.ListPersonsRequest, _adm.ListPersonsResponse]
    ListChannels: Unary[_adm.ListChannelsRequest, _adm.ListChannelsResponse]
    ListTerminals: Unary[_adm.ListTerminalsRequest, _adm.ListTerminalsResponse]
    RetryParked: Unary[_adm.RetryParkedRequest, _adm.RetryParkedResponse]
    SetChannelStatus: Unary[_adm.SetChannelStatusRequest, _adm.SetChannelStatusResponse]


class VoucherStub(Protocol):
    """VoucherService, as ``ecnet voucher`` calls it."""

    RealNameCheck: Unary[_vou.RealNameCheckRequest, _vou.RealNameCheckResponse]
    RealPersonCheck: Unary[_vou.RealPersonCheckRequest, _vou.RealPersonCheckResponse]
    OpenPasswordPage: Unary[_vou.OpenPasswordPageRequest, _vou.OpenPasswordPageResponse]
    SetPassword: Unary[_vou.SetPasswordRequest, _vou.SetPasswordResponse]
    Activate: Unary[_vou.ActivateRequest, _vou.ActivateResponse]
    Authorize: Unary[_vou.AuthorizeRequest, _vou.AuthorizeResponse]
    ListAuthorizations: Unary[_vou.ListAuthorizationsRequest, _vou.ListAuthorizationsResponse]
    RevokeAuthorization: Unary[_vou.RevokeAuthorizationRequest, _vou.RevokeAuthorizationResponse]
    GetVoucherStatus: Unary[_vou.GetVoucherStatusRequest, _vou.GetVoucherStatusResponse]
    GetSimulatedFaceTemplate: Unary[
        _vou.GetSimulatedFaceTemplateRequest, _vou.GetSimulatedFaceTemplateResponse
    ]


class QrStub(Protocol):
    """QrService, as ``ecnet qr`` calls it."""

    IssueQrCode: Unary[_qr.IssueQrCodeRequest, _qr.IssueQrCodeResponse]
    RefreshQrCode: Unary[_qr.RefreshQrCodeRequest, _qr.RefreshQrCodeResponse]


class SettlementStub(Protocol):
    """SettlementService, as ``ecnet settle`` and ``ecnet settlement`` call it."""

    Settle: Unary[_set.SettleRequest, _set.SettleResponse]
    Reverse: Unary[_set.ReverseRequest, _set.ReverseResponse]
    GetSettlement: Unary[_set.GetSettlementRequest, _set.GetSettlementResponse]
    ListNotices: Unary[_set.ListNoticesRequest, _set.ListNoticesResponse]


class AcceptanceStub(Protocol):
    """AcceptanceService, as ``ecnet scan|token check|trans`` and ``nation_ec_trans`` call it."""

    Query: Unary[_acc.QueryRequest, _acc.QueryResponse]
    CheckToken: Unary[_acc.CheckTokenRequest, _acc.CheckTokenResponse]
    Trans: Unary[_acc.TransRequest, _acc.TransResponse]


# no-untyped-call: the generated stub classes have no type information (see above).
def admin_stub(channel: grpc.Channel) -> AdminStub:
    return admin_service_pb2_grpc.AdminServiceStub(channel)  # type: ignore[no-untyped-call]


def voucher_stub(channel: grpc.Channel) -> VoucherStub:
    return voucher_service_pb2_grpc.VoucherServiceStub(channel)  # type: ignore[no-untyped-call]


def qr_stub(channel: grpc.Channel) -> QrStub:
    return qr_service_pb2_grpc.QrServiceStub(channel)  # type: ignore[no-untyped-call]


def settlement_stub(channel: grpc.Channel) -> SettlementStub:
    return settlement_service_pb2_grpc.SettlementServiceStub(channel)  # type: ignore[no-untyped-call]


def acceptance_stub(channel: grpc.Channel) -> AcceptanceStub:
    return acceptance_service_pb2_grpc.AcceptanceServiceStub(channel)  # type: ignore[no-untyped-call]


def health_check(
    channel: grpc.Channel,
) -> Unary[health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse]:
    """grpc.health.v1.Health/Check on ``channel``. grpc_health's ``HealthStub`` sets its
    methods in ``__init__``, and its stubs (types-grpcio-health-checking) declare only the
    constructor; this is the same call made through the typed ``Channel.unary_unary``."""
    return channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
