"""A node's log: one line per call, routine traffic (heartbeats, health checks) at debug,
so that an operator's log at the default level shows what people and nodes did."""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health_pb2

from ecnet.v1 import admin_service_pb2 as admin_pb


def calls(caplog, suffix: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "ecnet.call" and r.fields["method"].endswith(suffix)
    ]


async def test_heartbeats_and_health_checks_are_logged_at_debug(cluster, caplog):
    caplog.set_level(logging.DEBUG, logger="ecnet.call")
    national = await cluster.start_national()
    await cluster.start_province("44", heartbeat_interval=0.1)
    stubs = cluster.stubs(national)
    await stubs.admin.GetNodeInfo(admin_pb.GetNodeInfoRequest(), timeout=5)
    await stubs.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    for _ in range(100):
        if len(calls(caplog, "/Heartbeat")) >= 3:
            break
        await asyncio.sleep(0.1)

    beats = calls(caplog, "/Heartbeat")
    assert len(beats) >= 3 and {r.levelno for r in beats} == {logging.DEBUG}
    assert {r.levelno for r in calls(caplog, "Health/Check")} == {logging.DEBUG}
    # Every other call stays at info.
    [info] = calls(caplog, "/GetNodeInfo")
    assert info.levelno == logging.INFO
    assert {r.levelno for r in calls(caplog, "/Register")} == {logging.INFO}
