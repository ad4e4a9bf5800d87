"""Typed views of the generated client stubs a node calls another node with.

grpc_tools writes ``ecnet/v1/*_pb2_grpc.py`` without types: a stub is a class whose
constructor sets one ``grpc.aio`` multi-callable per method of the service. The
protocols here name those attributes with their request and response messages, and
:data:`FederationServiceStub` and :data:`AdminServiceStub` are the generated classes
themselves, typed as making them (a cast, nothing more: the same class is called).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast

import grpc

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import admin_service_pb2_grpc, federation_service_pb2_grpc
from ecnet.v1 import federation_service_pb2 as fed_pb

__all__ = ["AdminServiceStub", "AdminStub", "FederationServiceStub", "FederationStub"]


class FederationStub(Protocol):
    """``ecnet.v1.FederationService`` as a client calls it."""

    Register: grpc.aio.UnaryUnaryMultiCallable[fed_pb.RegisterRequest, fed_pb.RegisterResponse]
    Heartbeat: grpc.aio.UnaryUnaryMultiCallable[fed_pb.HeartbeatRequest, fed_pb.HeartbeatResponse]
    Deregister: grpc.aio.UnaryUnaryMultiCallable[
        fed_pb.DeregisterRequest, fed_pb.DeregisterResponse
    ]
    Identify: grpc.aio.UnaryUnaryMultiCallable[fed_pb.IdentifyRequest, fed_pb.IdentifyResponse]
    DeliverEvents: grpc.aio.UnaryUnaryMultiCallable[
        fed_pb.DeliverEventsRequest, fed_pb.DeliverEventsResponse
    ]
    FetchVoucher: grpc.aio.UnaryUnaryMultiCallable[
        fed_pb.FetchVoucherRequest, fed_pb.FetchVoucherResponse
    ]
    RouteQuery: grpc.aio.UnaryUnaryMultiCallable[
        fed_pb.RouteQueryRequest, fed_pb.RouteQueryResponse
    ]
    RouteSettle: grpc.aio.UnaryUnaryMultiCallable[
        fed_pb.RouteSettleRequest, fed_pb.RouteSettleResponse
    ]
    RouteReverse: grpc.aio.UnaryUnaryMultiCallable[
        fed_pb.RouteReverseRequest, fed_pb.RouteReverseResponse
    ]
    Link: grpc.aio.StreamStreamMultiCallable[fed_pb.LinkFrame, fed_pb.LinkFrame]


class AdminStub(Protocol):
    """``ecnet.v1.AdminService`` as a client calls it."""

    Ping: grpc.aio.UnaryUnaryMultiCallable[admin_pb.PingRequest, admin_pb.PingResponse]
    GetNodeInfo: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.GetNodeInfoRequest, admin_pb.GetNodeInfoResponse
    ]
    ListNodes: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.ListNodesRequest, admin_pb.ListNodesResponse
    ]
    ListPersons: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.ListPersonsRequest, admin_pb.ListPersonsResponse
    ]
    ListChannels: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.ListChannelsRequest, admin_pb.ListChannelsResponse
    ]
    ListTerminals: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.ListTerminalsRequest, admin_pb.ListTerminalsResponse
    ]
    UpdatePerson: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.UpdatePersonRequest, admin_pb.UpdatePersonResponse
    ]
    RetryParked: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.RetryParkedRequest, admin_pb.RetryParkedResponse
    ]
    SetChannelStatus: grpc.aio.UnaryUnaryMultiCallable[
        admin_pb.SetChannelStatusRequest, admin_pb.SetChannelStatusResponse
    ]


FederationServiceStub = cast(
    "Callable[[grpc.aio.Channel], FederationStub]",
    federation_service_pb2_grpc.FederationServiceStub,
)
AdminServiceStub = cast(
    "Callable[[grpc.aio.Channel], AdminStub]", admin_service_pb2_grpc.AdminServiceStub
)
