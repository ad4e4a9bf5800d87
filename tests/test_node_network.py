"""The node network: health, reflection, registration, heartbeats, the directory."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from chankit import known
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from netkit import DelayRelay
from signkit import stranger
from voucherkit import start_nation

from conftest import _bindable
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.registrar import RegistrationRefused
from node.app import SERVICE_NAMES, Node, NodeStartError
from node.clock import FakeClock
from node.config import ConfigError, NodeConfig
from node.errors import from_rpc_error

SERVING = health_pb2.HealthCheckResponse.SERVING


async def test_national_serves_health_and_reflection(cluster):
    national = await cluster.start_national()
    s = cluster.stubs(national)
    assert await s.health_status() == SERVING
    served = {"ecnet.v1.VoucherService", "ecnet.v1.FederationService", "ecnet.v1.AdminService"}
    for name in SERVICE_NAMES:
        if name in served:
            assert await s.health_status(name) == SERVING
        else:  # a service of the provinces: national does not report it healthy
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await s.health_status(name)
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
    stub = reflection_pb2_grpc.ServerReflectionStub(s.channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for resp in stub.ServerReflectionInfo(requests()):
        names = {svc.name for svc in resp.list_services_response.service}
    assert {
        "ecnet.v1.VoucherService",
        "ecnet.v1.QrService",
        "ecnet.v1.AcceptanceService",
        "ecnet.v1.SettlementService",
        "ecnet.v1.FederationService",
        "ecnet.v1.AdminService",
        "grpc.health.v1.Health",
    } <= names


async def test_provinces_register_and_are_listed(cluster):
    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    p31 = await cluster.start_province("31")
    s = cluster.stubs(national)
    nodes = (await s.admin.ListNodes(admin_pb.ListNodesRequest())).nodes
    assert [(n.province, n.address, n.state) for n in nodes] == [
        ("31", p31.address, admin_pb.NODE_STATE_UP),
        ("44", p44.address, admin_pb.NODE_STATE_UP),
    ]
    assert nodes[1].provinceName == "广东省"
    assert nodes[1].instanceId == p44.instance_id
    info = await cluster.stubs(p44).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
    assert (info.role, info.province, info.address) == (
        fed_pb.NODE_ROLE_PROVINCIAL,
        "44",
        p44.address,
    )
    assert info.counts["voucher_cache"] == 0


async def test_a_province_registers_the_address_it_advertises(cluster, tmp_path):
    """--advertise: national dials the province where it says (here a relay in front of
    it, as docs/netns.md's harness puts one), not where it listens."""
    national = (await start_nation(cluster, tmp_path, population=20)).national  # channels
    port = cluster.port()
    relay = await DelayRelay("relay", "127.0.0.1", ("127.0.0.1", port), 0.0).start()
    try:
        p44 = await cluster.start_province(
            "44", listen=f"127.0.0.1:{port}", advertise=relay.address
        )
        nodes = (await cluster.stubs(national).admin.ListNodes(admin_pb.ListNodesRequest())).nodes
        assert [(n.province, n.address) for n in nodes] == [("44", relay.address)]
        info = await cluster.stubs(p44).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
        assert info.address == relay.address
        # national's first delivery (the channels' keys) went through the relay
        await known(p44)
        assert relay.accepted >= 1 and relay.bytes_forwarded[0] > 0
    finally:
        await relay.close()


async def test_province_is_not_serving_until_registered(cluster, tmp_path):
    port = cluster.port()
    province = Node(cluster.config("provincial", "44", national=f"127.0.0.1:{port}"))
    starting = asyncio.create_task(province.start())
    try:
        while not province.address:
            await asyncio.sleep(0.02)
        s = cluster.stubs(province)
        await asyncio.sleep(0.3)  # it is retrying: national is not there yet
        assert await s.health_status() == health_pb2.HealthCheckResponse.NOT_SERVING
        await cluster.start_national(listen=f"127.0.0.1:{port}")
        await asyncio.wait_for(starting, 10)
        assert await s.health_status() == SERVING
    finally:
        if not starting.done():
            starting.cancel()
        await province.stop(grace=0)


async def test_second_node_for_a_live_province_is_refused(cluster, tmp_path):
    await cluster.start_national()
    first = await cluster.start_province("44")
    doors = f"127.0.0.1:{cluster.port()}"
    second = Node(cluster.config("provincial", "44", data_dir=tmp_path / "other44", https=doors))
    with pytest.raises(
        RegistrationRefused, match=f"already served by a live node at {first.address}"
    ):
        await second.start()
    # what began serving before the refusal was stopped with it (a server left running
    # in this process would be collected later and hang the loop's poller)
    for address in (second.config.listen, doors):
        assert _bindable(int(address.rsplit(":", 1)[1])), address
    await second.stop(grace=0)
    nodes = (
        await cluster.stubs(cluster.national).admin.ListNodes(admin_pb.ListNodesRequest())
    ).nodes
    assert nodes[0].instanceId == first.instance_id


async def test_a_killed_province_is_replaced_at_once(cluster, tmp_path):
    await cluster.start_national()
    first = await cluster.start_province("44", heartbeat_interval=30)
    # A crash: no deregistration, the lease still fresh, but nobody answers there.
    first.provincial.registrar.registered.clear()
    await first.stop(grace=0)
    second = await cluster.start_province("44", data_dir=tmp_path / "again44")
    nodes = (
        await cluster.stubs(cluster.national).admin.ListNodes(admin_pb.ListNodesRequest())
    ).nodes
    assert (nodes[0].instanceId, nodes[0].state) == (second.instance_id, admin_pb.NODE_STATE_UP)


async def test_lease_expiry_and_graceful_stop(cluster):
    clock = FakeClock()
    national = await cluster.start_national(clock=clock)
    p44 = await cluster.start_province("44", heartbeat_interval=60)
    p31 = await cluster.start_province("31", heartbeat_interval=60)
    s = cluster.stubs(national)
    clock.advance(national.config.heartbeat_interval * national.config.lease_intervals + 0.1)
    states = {
        n.province: n.state for n in (await s.admin.ListNodes(admin_pb.ListNodesRequest())).nodes
    }
    assert states == {"31": admin_pb.NODE_STATE_DOWN, "44": admin_pb.NODE_STATE_DOWN}
    # A heartbeat brings a province back up.
    hb = await cluster.stubs(national, as_="p44").federation.Heartbeat(
        fed_pb.HeartbeatRequest(province="44", instanceId=p44.instance_id, appliedPosition=7),
    )
    assert hb.known
    await p31.stop(grace=0)
    nodes = {n.province: n for n in (await s.admin.ListNodes(admin_pb.ListNodesRequest())).nodes}
    assert nodes["44"].state == admin_pb.NODE_STATE_UP and nodes["44"].appliedPosition == 7
    assert nodes["31"].state == admin_pb.NODE_STATE_STOPPED


async def test_heartbeat_of_an_unknown_instance_asks_to_register_again(cluster):
    national = await cluster.start_national()
    s = cluster.stubs(national, as_="p44")
    hb = await s.federation.Heartbeat(
        fed_pb.HeartbeatRequest(province="44", instanceId="nobody"), metadata=s.metadata
    )
    assert not hb.known


async def _error(call) -> tuple[int, str, grpc.StatusCode]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    code, message = from_rpc_error(info.value)
    return code, message, info.value.code()


async def test_registration_input_is_checked(cluster):
    national = await cluster.start_national()
    s = cluster.stubs(national, as_="p44")
    # No certificate names province 99: p44 registering it is refused for who it is.
    key = stranger("p44").public_key
    code, message, status = await _error(
        s.federation.Register(
            fed_pb.RegisterRequest(
                province="99", address="127.0.0.1:1", instanceId="x", signKey=key
            )
        )
    )
    assert (code, status) == (-4, grpc.StatusCode.PERMISSION_DENIED) and "99" in message
    code, message, _ = await _error(
        s.federation.Register(
            fed_pb.RegisterRequest(province="44", address="nowhere", instanceId="x", signKey=key),
            metadata=s.metadata,
        )
    )
    assert code == -2 and "HOST:PORT" in message
    # The node's SM2 public key is required, and must be one.
    for bad, said in ((b"", "missing: signKey"), (b"\x04" + bytes(64), "SM2 public key")):
        code, message, _ = await _error(
            s.federation.Register(
                fed_pb.RegisterRequest(
                    province="44", address="127.0.0.1:1", instanceId="x", signKey=bad
                ),
                metadata=s.metadata,
            )
        )
        assert code == -2 and said in message, message
    code, message, status = await _error(
        s.federation.Register(
            fed_pb.RegisterRequest(
                province="31", address="127.0.0.1:1", instanceId="x", signKey=key
            ),
            metadata=s.metadata,
        )
    )
    assert (code, status) == (-4, grpc.StatusCode.PERMISSION_DENIED) and "province/44" in message


async def test_national_only_calls_on_a_province_say_where_to_go(cluster):
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    s = cluster.stubs(p44)
    code, message, status = await _error(s.admin.ListPersons(admin_pb.ListPersonsRequest()))
    assert (code, status) == (-5, grpc.StatusCode.UNIMPLEMENTED)
    assert "national" in message


async def test_a_data_folder_serves_one_node(cluster, tmp_path):
    national = await cluster.start_national()
    again = Node(
        NodeConfig(
            role="national",
            listen="127.0.0.1:0",
            data_dir=national.config.data_dir,
            **cluster.pki.node_settings("national"),
        )
    )
    with pytest.raises(NodeStartError, match="in use by another node"):
        await again.start()


async def test_an_unreadable_database_is_reported(tmp_path):
    (tmp_path / "national.db").write_text("not a database")
    config = NodeConfig(role="national", listen="127.0.0.1:0", data_dir=tmp_path, insecure=True)
    node = Node(config)
    with pytest.raises(NodeStartError, match="not an SQLite database"):
        await node.start()


async def test_a_port_in_use_is_reported(cluster, tmp_path):
    national = await cluster.start_national()
    node = Node(cluster.config("national", listen=national.address, data_dir=tmp_path / "n2"))
    with pytest.raises(NodeStartError, match="in use"):
        await node.start()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "regional"}, "unknown role"),
        (
            {"role": "provincial", "province": "99", "national": "127.0.0.1:1"},
            "not a province code",
        ),
        ({"role": "provincial", "province": "44"}, "--national"),
        ({"role": "provincial", "national": "127.0.0.1:1"}, "--province"),
        ({"role": "national", "listen": "localhost"}, "HOST:PORT"),
        ({"role": "national", "advertise": "localhost"}, "--advertise 'localhost' is not"),
        ({"role": "national", "advertise": "0.0.0.0:50000"}, "others can dial"),
        ({"role": "national", "advertise": "10.0.0.1:0"}, "others can dial"),
    ],
)
def test_bad_configuration(kwargs, message, tmp_path):
    base = {"listen": "127.0.0.1:0", "data_dir": tmp_path}
    with pytest.raises(ConfigError, match=message):
        NodeConfig(**{**base, **kwargs}).validate()
