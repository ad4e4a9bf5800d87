"""Keepalive between nodes: a node's server accepts the pings its peers' clients send.

A client that pings more often than a server's policy allows gets GOAWAY
``too_many_pings`` after its third ping, and every call on the connection ends with it
(a link of routed calls, a delivery stream). The intervals here are 1 s instead of 30 s
so that three pings fit in a test; the options are the ones the nodes use."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from federation.keepalive import client_options, server_options

FAST = 1000  # ms between pings
QUIET = 6.0  # seconds with no data on the stream: five pings


async def _quiet_stream_survives(address: str, credentials=None) -> tuple[bool, str]:
    """Open a health Watch (a stream that stays open without data) with the nodes'
    client options at FAST, wait QUIET seconds; (survived, why it ended)."""
    if credentials is None:
        channel = grpc.aio.insecure_channel(address, options=client_options(FAST))
    else:
        channel = grpc.aio.secure_channel(address, credentials, options=client_options(FAST))
    try:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        await watch.read()  # the first status
        try:
            await asyncio.wait_for(watch.read(), QUIET)
        except TimeoutError:
            return True, ""
        except grpc.RpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
        return True, ""
    finally:
        await channel.close()


async def test_a_node_accepts_the_pings_of_its_peers(cluster):
    national = await cluster.start_national(extra={"keepalive_ms": str(FAST)})
    survived, why = await _quiet_stream_survives(national.address, cluster.pki.credentials("p44"))
    assert survived, f"national dropped a quiet stream of a peer that pings every 1 s: {why}"


async def test_grpc_default_policy_drops_those_pings():
    """The reason for server_options: the same client against gRPC's default server
    policy loses its stream (if this ever passes, gRPC changed its default)."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        survived, why = await _quiet_stream_survives(f"127.0.0.1:{port}")
    finally:
        await server.stop(None)
    assert not survived and "ping" in why.lower(), why


async def test_server_policy_follows_the_setting():
    """The server accepts pings at half the clients' interval, and pings without calls."""
    options = dict(server_options(FAST))
    assert options["grpc.http2.min_ping_interval_without_data_ms"] == FAST // 2
    assert options["grpc.keepalive_permit_without_calls"] == 1
    assert dict(client_options(FAST))["grpc.keepalive_time_ms"] == FAST


@pytest.mark.parametrize("bad", ["0", "-5", "soon"])
async def test_a_bad_keepalive_stops_the_node_before_it_binds(cluster, bad):
    with pytest.raises(Exception, match="keepalive_ms"):
        await cluster.start_national(extra={"keepalive_ms": bad})
