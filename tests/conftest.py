"""Real nodes, in-process, on ephemeral ports, driven through gRPC."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecnet.v1 import admin_service_pb2_grpc, federation_service_pb2_grpc
from node.app import Node
from node.clock import Clock
from node.config import NodeConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stubs:
    """Stubs to one node over an aio channel, optionally with caller metadata."""

    def __init__(self, address: str, metadata: tuple = ()) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.metadata = metadata
        self.admin = admin_service_pb2_grpc.AdminServiceStub(self.channel)
        self.federation = federation_service_pb2_grpc.FederationServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def health_status(self, service: str = "") -> int:
        resp = await self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        return resp.status


class Cluster:
    """A national node and any number of provinces, each with its own data folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[Node] = []
        self.channels: list[Stubs] = []
        self.national: Node | None = None

    def config(
        self, role: str, province: str = "", listen: str = "127.0.0.1:0", **kw
    ) -> NodeConfig:
        name = "national" if role == "national" else f"p{province}"
        return NodeConfig(
            role=role,
            province=province,
            listen=listen,
            national=self.national.address
            if self.national and role == "provincial"
            else kw.pop("national", ""),
            data_dir=kw.pop("data_dir", self.root / name),
            heartbeat_interval=kw.pop("heartbeat_interval", 0.2),
            grace=0.5,
            **kw,
        )

    async def start(self, config: NodeConfig, clock: Clock | None = None) -> Node:
        node = Node(config, clock=clock)
        await node.start()
        self.nodes.append(node)
        if config.role == "national":
            self.national = node
        return node

    async def start_national(self, clock: Clock | None = None, **kw) -> Node:
        return await self.start(self.config("national", **kw), clock)

    async def start_province(self, province: str, **kw) -> Node:
        return await self.start(self.config("provincial", province, **kw))

    def stubs(self, node: Node, metadata: tuple = ()) -> Stubs:
        s = Stubs(node.address, metadata)
        self.channels.append(s)
        return s

    async def close(self) -> None:
        for s in self.channels:
            await s.channel.close()
        # Provinces before national, as an operator would.
        for node in sorted(self.nodes, key=lambda n: n.config.role == "national"):
            await node.stop(grace=0)


@pytest.fixture
async def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        await c.close()
