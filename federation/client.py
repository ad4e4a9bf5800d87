"""Client side of node-to-node calls.

* :class:`PeerClient`: an aio channel to another node, its stubs with the caller's
  ``ec-node`` metadata, and the :class:`~federation.link.Link` that carries its routed
  calls.
* :class:`NationalClient`: what a province asks of national, as the business packages
  need it (each declares the part it uses as a small protocol: ``node.qr.issuer``,
  ``node.acceptance.scan``, ``node.settlement.core``), and the registration state the
  :class:`~federation.registrar.Registrar` keeps.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1.admin_service_pb2_grpc import AdminServiceStub
from ecnet.v1.federation_service_pb2_grpc import FederationServiceStub
from federation.keepalive import KEEPALIVE_MS, client_options
from federation.link import Link

if TYPE_CHECKING:  # the stubs' types of aio stubs (no such classes at run time)
    from ecnet.v1.admin_service_pb2_grpc import AdminServiceAsyncStub
    from ecnet.v1.federation_service_pb2_grpc import FederationServiceAsyncStub

__all__ = ["PeerClient", "NationalClient", "CHANNEL_OPTIONS"]

# Fail fast on a peer that is down instead of waiting for a reconnect backoff to end.
CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


class PeerClient:
    """An aio channel to another node, calling as ``node_name``."""

    def __init__(
        self,
        address: str,
        node_name: str,
        *,
        linger: float = 0.0,
        keepalive_ms: int = KEEPALIVE_MS,
    ) -> None:
        self.address = address
        self.channel = grpc.aio.insecure_channel(
            address, options=CHANNEL_OPTIONS + client_options(keepalive_ms)
        )
        self.metadata: tuple[tuple[str, str], ...] = (("ec-node", node_name),)
        self.federation: FederationServiceAsyncStub = FederationServiceStub(self.channel)
        self.admin: AdminServiceAsyncStub = AdminServiceStub(self.channel)
        # The routed calls (RouteQuery, RouteSettle, RouteReverse), on one stream.
        self.link = Link(self.channel, self.metadata, address, linger)

    async def close(self) -> None:
        await self.link.close()
        await self.channel.close()


class NationalClient:
    """A province's calls to national (the hub), as ``pNN``.

    ``registered`` is set while national has accepted this node's registration
    (:class:`~federation.registrar.Registrar`); a call that needs it (a voucher fetch)
    is refused before it is made when it is clear (:meth:`ready`).
    """

    def __init__(
        self,
        address: str,
        province: str,
        *,
        linger: float = 0.0,
        keepalive_ms: int = KEEPALIVE_MS,
    ) -> None:
        self.peer = PeerClient(address, f"p{province}", linger=linger, keepalive_ms=keepalive_ms)
        self.address = address
        self.registered = asyncio.Event()

    def ready(self) -> bool:
        return self.registered.is_set()

    async def route_query(
        self, request: fed_pb.RouteQueryRequest, timeout: float
    ) -> fed_pb.RouteQueryResponse:
        """A scan of another province's code, to its issuer through national (on the link)."""
        response: fed_pb.RouteQueryResponse = await self.peer.link.RouteQuery(
            request, timeout=timeout
        )
        return response

    async def route_settle(
        self, request: fed_pb.RouteSettleRequest, timeout: float
    ) -> fed_pb.RouteSettleResponse:
        """A remote settlement, to the insured province through national (on the link)."""
        response: fed_pb.RouteSettleResponse = await self.peer.link.RouteSettle(
            request, timeout=timeout
        )
        return response

    async def route_reverse(
        self, request: fed_pb.RouteReverseRequest, timeout: float
    ) -> fed_pb.RouteReverseResponse:
        """The reversal of a remote settlement, to the province that settled it."""
        response: fed_pb.RouteReverseResponse = await self.peer.link.RouteReverse(
            request, timeout=timeout
        )
        return response

    async def fetch_voucher(
        self, request: fed_pb.FetchVoucherRequest, timeout: float
    ) -> fed_pb.FetchVoucherResponse:
        """A voucher this province lacks (6.2.2 b 2)."""
        return await self.peer.federation.FetchVoucher(
            request, timeout=timeout, metadata=self.peer.metadata
        )

    async def list_terminals(
        self, request: admin_pb.ListTerminalsRequest, timeout: float
    ) -> admin_pb.ListTerminalsResponse:
        """A page of national's terminal registry."""
        return await self.peer.admin.ListTerminals(
            request, timeout=timeout, metadata=self.peer.metadata
        )

    async def close(self) -> None:
        await self.peer.close()
