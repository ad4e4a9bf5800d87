"""Client side of node-to-node calls.

* :class:`PeerClient`: an aio channel to another node (mutual TLS, checking that the
  peer's certificate names the peer dialled: ``node.tls.Dialer``), its stubs, and the
  :class:`~federation.link.Link` that carries its routed calls.
* :class:`NationalClient`: what a province asks of national, as the business packages
  need it (each declares the part it uses as a small protocol: ``node.qr.issuer``,
  ``node.acceptance.scan``, ``node.settlement.core``), and the registration state the
  :class:`~federation.registrar.Registrar` keeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1.admin_service_pb2_grpc import AdminServiceStub
from ecnet.v1.federation_service_pb2_grpc import FederationServiceStub
from federation.keepalive import KEEPALIVE_MS, client_options
from federation.link import Link
from node.config import national_target
from node.errors import EcError, from_rpc_error
from node.pki import Identity
from node.tls import Dialer

if TYPE_CHECKING:  # the stubs' types of aio stubs (no such classes at run time)
    from ecnet.v1.admin_service_pb2_grpc import AdminServiceAsyncStub
    from ecnet.v1.federation_service_pb2_grpc import FederationServiceAsyncStub

__all__ = ["PeerClient", "NationalClient", "CHANNEL_OPTIONS", "peer_identity"]

# Fail fast on a peer that is down instead of waiting for a reconnect backoff to end.
CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


def peer_identity(name: str) -> Identity:
    """The identity of the node named ``national`` or ``pNN``."""
    return Identity.national() if name == "national" else Identity.of_province(name[1:])


class PeerClient:
    """An aio channel to the node ``peer`` (``national`` or ``pNN``) at ``address``."""

    def __init__(
        self,
        address: str,
        peer: str,
        dialer: Dialer,
        *,
        linger: float = 0.0,
        keepalive_ms: int = KEEPALIVE_MS,
    ) -> None:
        self.address = address
        self.peer = peer
        self.dialer = dialer
        self.version = dialer.version()  # of the node's certificate the channel shows
        # National may be a cluster: a list of replicas, dialed as one balanced target.
        target, balancing = national_target(address) if peer == "national" else (address, [])
        self.channel = dialer.channel(
            target, peer_identity(peer), CHANNEL_OPTIONS + client_options(keepalive_ms) + balancing
        )
        self.metadata = dialer.metadata
        self.federation: FederationServiceAsyncStub = FederationServiceStub(self.channel)
        self.admin: AdminServiceAsyncStub = AdminServiceStub(self.channel)
        # The routed calls (RouteQuery, RouteSettle, RouteReverse), on one stream.
        self.link = Link(self.channel, self.metadata, address, linger)

    def stale(self) -> bool:
        """The node's certificate was renewed since this channel was made."""
        return self.dialer.version() != self.version

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
        dialer: Dialer,
        *,
        linger: float = 0.0,
        keepalive_ms: int = KEEPALIVE_MS,
    ) -> None:
        self._make: Callable[[], PeerClient] = lambda: PeerClient(
            address, "national", dialer, linger=linger, keepalive_ms=keepalive_ms
        )
        self._peer = self._make()
        self._retired: list[PeerClient] = []
        self.address = address
        self.registered = asyncio.Event()

    @property
    def peer(self) -> PeerClient:
        """The channel to national; made again once this node's certificate was renewed
        (the old one's calls in flight finish on it; it is closed with this client)."""
        if self._peer.stale():
            self._retired.append(self._peer)
            self._peer = self._make()
        return self._peer

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

    async def apply_channel(
        self, request: admin_pb.ApplyChannelRequest, timeout: float = 10.0
    ) -> admin_pb.ApplyChannelResponse:
        """A channel's application made through this province, passed on to national."""
        try:
            return await self.peer.admin.ApplyChannel(
                request, timeout=timeout, metadata=self.peer.metadata
            )
        except grpc.aio.AioRpcError as exc:
            code, message = from_rpc_error(exc)
            raise EcError(code, f"national: {message}") from None

    async def close(self) -> None:
        await self._peer.close()
        while self._retired:
            await self._retired.pop().close()
