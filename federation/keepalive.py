"""Keepalive between nodes: the client's pings and the server's ping policy, set together.

A node keeps a connection to another node open for a long time (the link of routed
calls, the delivery of events), so its client pings the peer every ``keepalive_ms`` to
notice one that stopped answering, also while no data flows (a quiet link). gRPC's
server, by default, accepts a ping only every 5 minutes (2 hours without a call) and
answers the third early one with GOAWAY ``too_many_pings``, which drops the connection
and every call on it: a routed settlement then answers -3 although it was made. So every
node's server accepts pings at half the interval its peers' clients send them, from the
same setting (``LinkSettings.keepalive_ms``, ``ECNET_LINK_KEEPALIVE_MS``), which must be
the same across the network.
"""

from __future__ import annotations

__all__ = ["KEEPALIVE_MS", "KEEPALIVE_TIMEOUT_MS", "client_options", "server_options"]

KEEPALIVE_MS = 30_000
KEEPALIVE_TIMEOUT_MS = 10_000

ChannelOption = tuple[str, int]


def client_options(keepalive_ms: int = KEEPALIVE_MS) -> list[ChannelOption]:
    """The keepalive options of a channel to another node."""
    return [
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        # Ping on while no data flows: a quiet link must still notice a dead peer.
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


def server_options(keepalive_ms: int = KEEPALIVE_MS) -> list[ChannelOption]:
    """The ping policy of a node's server, accepting :func:`client_options`' pings."""
    return [
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", keepalive_ms // 2),
    ]
