"""Client side of node-to-node calls: a channel plus stubs with ``ec-node`` metadata."""

from __future__ import annotations

import grpc

from ecnet.v1 import admin_service_pb2_grpc, federation_service_pb2_grpc
from federation.link import Link

__all__ = ["PeerClient", "CHANNEL_OPTIONS"]

# Fail fast on a peer that is down instead of waiting for a reconnect backoff to end.
CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30000),
]


class PeerClient:
    """An aio channel to another node, calling as ``node_name``."""

    def __init__(self, address: str, node_name: str, *, linger: float = 0.0) -> None:
        self.address = address
        self.channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self.metadata = (("ec-node", node_name),)
        self.federation = federation_service_pb2_grpc.FederationServiceStub(self.channel)
        self.admin = admin_service_pb2_grpc.AdminServiceStub(self.channel)
        # The routed calls (RouteQuery, RouteSettle, RouteReverse), on one stream.
        self.link = Link(self.channel, self.metadata, address, linger)

    async def close(self) -> None:
        await self.link.close()
        await self.channel.close()
