"""A province that national refuses keeps trying, says so, and recovers.

The attack (until node identities come from certificates, issue 12): an anonymous
client deregisters province 51 with the instance id ListNodes shows, and another node
registers as 51. The real 51's next heartbeat is unknown to national; registering again
is refused (another live node serves 51). Its heartbeat task used to die of that
silently, leaving the province "down" until restarted by hand."""

from __future__ import annotations

import asyncio
import time

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb


async def _registration(cluster, node) -> str:
    info = await cluster.stubs(node).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
    return info.registration


async def _until(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


async def test_a_refused_province_says_so_and_recovers(cluster, tmp_path, caplog):
    national = await cluster.start_national()
    real = await cluster.start_province("51")
    assert await _registration(cluster, real) == "registered"
    assert await _registration(cluster, national) == ""

    stubs = cluster.stubs(national, as_="p51")
    operator = cluster.stubs(national)  # the directory is the operators' (a node's: -4)
    # The real 51 heartbeats every 0.2 s: left alone, it may register again between the
    # deregistration and the impostor's registration (a node takes longer than that to
    # start on a busy machine), and then the impostor is the one refused. Its attempts
    # to register wait meanwhile, and go on once the impostor is in.
    registrar = real.provincial.registrar
    held, register = asyncio.Event(), registrar.register

    async def register_when_let(address: str = "") -> None:
        await held.wait()
        await register(address)

    registrar.register = register_when_let
    nodes = (await operator.admin.ListNodes(admin_pb.ListNodesRequest())).nodes
    entry = next(n for n in nodes if n.province == "51")
    await stubs.federation.Deregister(
        fed_pb.DeregisterRequest(province="51", instanceId=entry.instanceId),
        metadata=stubs.metadata,
    )
    impostor = await cluster.start_province("51", data_dir=tmp_path / "impostor")
    held.set()

    async def refused() -> bool:
        return (await _registration(cluster, real)).startswith("refused: ")

    await _until(refused, "the real 51 reports national's refusal")
    said = [r for r in caplog.records if "refused this node's registration" in r.getMessage()]
    assert len(said) == 1, "logged once, not at every heartbeat"
    # the heartbeats go on: when the impostor goes, the real 51 is registered again
    await impostor.stop()

    async def registered() -> bool:
        return await _registration(cluster, real) == "registered"

    await _until(registered, "the real 51 registers again")
    nodes = (await operator.admin.ListNodes(admin_pb.ListNodesRequest())).nodes
    back = next(n for n in nodes if n.province == "51")
    assert back.address == real.address and back.state == admin_pb.NODE_STATE_UP
