"""A nation across a real network (docs/netns.md): national and three provinces, each
``ecnet-node`` in a network namespace of its own, every province's link to national
through a relay that delays it (20–40 ms each way) and that the test cuts.

Then: a routed scan and a remote settlement cross the relays; with Shanghai's (31) link
cut, 31's local flows stay served while national is unreachable, cross-province calls
from and to 31 fail with -3 answered by a node within the caller's deadline, the other
provinces go on routing among themselves; once the link is back, nothing is lost: the
settlement left pending at 31 is completed once at both ends, the notice 31 queued
reaches Guangdong (44), and the voucher national activated for 31 meanwhile arrives
(both outboxes' cursors at their last row, the rows at the receivers).

Last, 31's link stalls instead (the silent partition of a pulled cable: nothing is
refused, nothing crosses): a remote settlement from 31 gets its -3 from 31 at the
settlement deadline; when the link flows again, the request held reaches 44 late and is
settled there once, and 31 completes its pending row with it.

The cut lasts until national's directory has 31 down (its heartbeat lease ran out), so
the return is the one of a province national had written off, not a blip.

The relay's own tests run on loopback and need no root; the nation needs root and
namespaces, and is skipped, saying why, without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import netkit
import pytest
from chankit import QR, signed
from grpc_health.v1 import health_pb2
from netkit import NODE_PORT, DelayRelay, Netns, NsNode, sweep_stale, unavailable
from scankit import QUERY_FIELDS, Terminal, eventually, terminals_of
from settlekit import POLICY, A, B, item, settle_request
from voucherkit import FAST, OFFICIAL, PROVINCES, SEED, ChannelStub, Kit, activate

from cli.seed import seed_national
from conftest import TestPki
from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import (
    acceptance_service_pb2_grpc,
    admin_service_pb2_grpc,
    qr_service_pb2_grpc,
    settlement_service_pb2_grpc,
)
from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import qr_service_pb2 as qr_pb
from ecnet.v1 import settlement_service_pb2 as pb
from node.clock import SystemClock
from node.errors import from_rpc_error, node_answer
from node.pki import Identity
from node.population import SyntheticPerson, generate

# -- the relay, on loopback ---------------------------------------------------------------


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_the_relay_delays_each_chunk_and_keeps_their_order():
    server, port = await _echo_server()
    relay = await DelayRelay(
        "t", "127.0.0.1", ("127.0.0.1", port), 0.03, jitter_s=0.02, rng=random.Random(7)
    ).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        t0 = time.monotonic()
        writer.write(b"ping")
        await writer.drain()
        assert await reader.readexactly(4) == b"ping"
        # through the relay twice (there and back), each at least 30 ms
        assert time.monotonic() - t0 >= 0.06
        # many chunks, each with its own jitter: they come back whole and in order
        sent = b"".join(f"<{n:04d}>".encode() for n in range(300))
        for n in range(0, len(sent), 18):
            writer.write(sent[n : n + 18])
            await writer.drain()
            await asyncio.sleep(0)
        assert await asyncio.wait_for(reader.readexactly(len(sent)), 10) == sent
        assert relay.bytes_forwarded == [4 + len(sent)] * 2 and relay.accepted == 1
        writer.close()
    finally:
        await relay.close()
        server.close()
        await server.wait_closed()


async def test_a_cut_relay_drops_its_connections_and_refuses_new_ones_until_restored():
    server, port = await _echo_server()
    relay = await DelayRelay("t", "127.0.0.1", ("127.0.0.1", port), 0.02).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(b"hello")
        assert await reader.readexactly(5) == b"hello"
        await relay.cut()
        assert relay.is_cut and relay.connections == 0
        # the connection it carried is gone: end of stream or a reset, at once
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(10), 2) == b""
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", relay.port)
        await relay.restore()
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(b"again")
        assert await reader.readexactly(5) == b"again"
        writer.close()
    finally:
        await relay.close()
        server.close()
        await server.wait_closed()


async def test_a_stalled_relay_holds_every_byte_and_lets_them_go_in_order_when_restored():
    server, port = await _echo_server()
    relay = await DelayRelay("t", "127.0.0.1", ("127.0.0.1", port), 0.01).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(b"one")
        assert await reader.readexactly(3) == b"one"
        relay.stall()
        writer.write(b"two")
        late_reader, late_writer = await asyncio.open_connection("127.0.0.1", relay.port)
        late_writer.write(b"late")  # a connection made during the stall: accepted, held
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(3), 0.3)
        assert relay.bytes_forwarded[0] == 3 and relay.is_stalled
        writer.write(b"three")
        await relay.restore()
        assert await asyncio.wait_for(reader.readexactly(8), 5) == b"twothree"
        assert await asyncio.wait_for(late_reader.readexactly(4), 5) == b"late"
        writer.close()
        late_writer.close()
    finally:
        await relay.close()
        server.close()
        await server.wait_closed()


async def test_a_relay_whose_target_does_not_answer_drops_the_connection():
    server, port = await _echo_server()
    server.close()
    await server.wait_closed()  # nothing listens on port now
    relay = await DelayRelay("t", "127.0.0.1", ("127.0.0.1", port), 0.02).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(10), 5) == b""
        writer.close()
        assert relay.refused == 1 and relay.accepted == 0
    finally:
        await relay.close()


# -- the namespaces ---------------------------------------------------------------------------


def test_without_root_the_reason_is_said(monkeypatch):
    monkeypatch.setattr(netkit.os, "geteuid", lambda: 1000)
    assert "need root" in (unavailable() or "")
    monkeypatch.setattr(netkit.os, "geteuid", lambda: 0)
    monkeypatch.setattr(netkit.shutil, "which", lambda name: None)
    assert "iproute2 is not installed" in (unavailable() or "")


def _listed() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_namespaces_go_when_the_test_fails_and_a_dead_harness_is_swept():
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with pytest.raises(RuntimeError, match="a test that fails"), Netns() as net:
        host = net.add("t")
        assert host.netns in _listed()
        raise RuntimeError("a test that fails")
    assert host.netns not in _listed()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"e{net.tag.replace('-', 'x')}h0" not in links
    # a harness killed before its clean-up (its pid gone) leaves a namespace: swept
    stale = "ecnet-999999999-1-national"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        sweep_stale()  # (another worker's harness, starting, may sweep it first)
        assert stale not in _listed()
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)


# -- the nation across namespaces -----------------------------------------------------------

POPULATION = 300
# One way, on each province's link to national (both directions of the link, each way).
DELAY_S = {"44": 0.030, "31": 0.020, "11": 0.040}
JITTER_S = 0.010
HEARTBEAT_S = 0.5  # the lease: 3 heartbeats
ROUTE_DEADLINE, SETTLE_DEADLINE = 2.0, 2.0
# What the test's callers give a call that crosses provinces: the node's own -3 must
# come before it.
CALLER_TIMEOUT = ROUTE_DEADLINE + 3.0


@dataclass
class NetKit(Kit):
    """A voucherkit Kit whose national is a node in a namespace."""

    process: NsNode | None = None

    def channel(self, channel_id: str) -> ChannelStub:
        assert self.process is not None
        return ChannelStub(self.process.channel, channel_id, self.root, self.clock)

    def admin(self) -> admin_service_pb2_grpc.AdminServiceStub:
        assert self.process is not None
        return admin_service_pb2_grpc.AdminServiceStub(self.process.channel)


@dataclass
class Nation:
    root: Path
    pki: TestPki
    net: Netns
    national: NsNode
    provinces: dict[str, NsNode] = field(default_factory=dict)
    up: dict[str, DelayRelay] = field(default_factory=dict)  # province → national
    down: dict[str, DelayRelay] = field(default_factory=dict)  # national → province
    terminals: dict[str, list[Terminal]] = field(default_factory=dict)
    kit: NetKit | None = None
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    async def cut(self, province: str) -> None:
        await asyncio.gather(self.up[province].cut(), self.down[province].cut())

    async def restore(self, province: str) -> None:
        await asyncio.gather(self.up[province].restore(), self.down[province].restore())

    def db(self, province: str) -> Path:
        return self.provinces[province].data_dir / f"provincial-{province}.db"

    def _as(self, province: str, who: str) -> grpc.aio.Channel:
        channel = self.pki.channel(self.provinces[province].address, who)
        self._channels.append(channel)
        return channel

    def scanner(
        self, province: str
    ) -> tuple[acceptance_service_pb2_grpc.AcceptanceServiceStub, Terminal]:
        t = self.terminals[province][0]
        who = self.pki.terminal(t.terminal_id, t.org_id)
        return acceptance_service_pb2_grpc.AcceptanceServiceStub(self._as(province, who)), t

    def settler(self, province: str) -> settlement_service_pb2_grpc.SettlementServiceStub:
        t = self.terminals[province][0]
        who = self.pki.terminal(t.terminal_id, t.org_id)
        return settlement_service_pb2_grpc.SettlementServiceStub(self._as(province, who))

    async def issue(self, province: str, auth: str, insu_org: str = "", timeout=10.0) -> str:
        """A code of ``auth`` displayed by ``province`` (QrService, signed as the official app)."""
        stub = qr_service_pb2_grpc.QrServiceStub(self.provinces[province].channel)
        request = qr_pb.IssueQrCodeRequest(authCode=auth, insuOrg=insu_org)
        md = signed(self.root, OFFICIAL, QR + "IssueQrCode", request)
        return (await stub.IssueQrCode(request, metadata=md, timeout=timeout)).ecQrCode

    async def issued_when_there(self, province: str, auth: str, insu_org: str = "") -> str:
        """A code, once the voucher (and the official channel's key) reached ``province``."""
        got: list[str] = []

        async def there() -> bool:
            try:
                got.append(await self.issue(province, auth, insu_org, timeout=3))
            except grpc.aio.AioRpcError:
                return False
            return True

        await eventually(there, timeout=20, what=f"a code of the voucher at p{province}")
        return got[-1]

    async def scan(self, province: str, code: str, timeout: float = 10.0) -> acc_pb.QueryResponse:
        stub, t = self.scanner(province)
        request = acc_pb.QueryRequest(orgId=t.org_id, ecQrCode=code, **QUERY_FIELDS)
        return await stub.Query(request, timeout=timeout)

    async def close(self) -> None:
        for channel in self._channels:
            with contextlib.suppress(Exception):
                await channel.close()
        nodes = [*self.provinces.values(), self.national]
        await asyncio.gather(*(n.stop() for n in nodes), return_exceptions=True)
        for relay in [*self.up.values(), *self.down.values()]:
            await relay.close()


def _count(db: Path, sql: str, *args: object) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return int(conn.execute(sql, args).fetchone()[0])


def _delivered(db: Path, lane: str, destination: str | None = None) -> tuple[int, int]:
    """(the lane's acknowledged cursor, the last seq queued to it) of ``db``'s outbox."""
    where, args = ("WHERE destination = ?", (destination,)) if destination else ("", ())
    last = _count(db, f"SELECT coalesce(max(seq), 0) FROM outbox {where}", *args)
    acked = _count(
        db, "SELECT coalesce(max(acked_seq), 0) FROM delivery WHERE destination = ?", lane
    )
    return acked, last


async def _start_nation(nation: Nation) -> None:
    """The relays, then national, then the provinces (at once), each in its namespace."""
    for relay in [*nation.up.values(), *nation.down.values()]:
        await relay.start()  # on a port of its own: the provinces learn it now
    for p in DELAY_S:
        nation.provinces[p] = NsNode(
            f"p{p}",
            "provincial",
            nation.root / f"p{p}",
            host=nation.net.hosts[f"p{p}"],
            province=p,
            nation=nation.root,
            national=nation.up[p].address,
            advertise=nation.down[p].address,
            heartbeat=HEARTBEAT_S,
            env=nation.national.env,
        )
    await nation.national.start()
    # a province serves once registered with national, through its relay; every start
    # ends (served or failed) before a failure is raised, so the clean-up finds no start
    # half-way
    started = await asyncio.gather(
        *(n.start() for n in nation.provinces.values()), return_exceptions=True
    )
    failed = [r for r in started if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    nation.kit = NetKit(
        None,
        nation.root,
        SystemClock(),
        list(generate(POPULATION, SEED, PROVINCES)),
        dict(FAST),
        process=nation.national,
    )
    for p in DELAY_S:
        nation.terminals[p] = await terminals_of(nation.kit, p)


def _plan_nation(root: Path, pki: TestPki, net: Netns) -> Nation:
    """The seeded registry, a namespace and a certificate per node, national's node and
    the relays of each province's link (none started yet)."""
    policy = root / "policy.toml"
    policy.write_text(POLICY)
    seed_national(root / "national" / "national.db", POPULATION, SEED, PROVINCES)
    env = {
        **{f"ECNET_VOUCHER_{k.upper()}": v for k, v in FAST.items()},
        "ECNET_SETTLEMENT_POLICY": str(policy),
        "ECNET_SETTLEMENT_SETTLE_DEADLINE": str(SETTLE_DEADLINE),
        "ECNET_SETTLEMENT_RECONCILE_INTERVAL": "0.5",
        "ECNET_SETTLEMENT_RECONCILE_AFTER": "1",
        "ECNET_ACCEPTANCE_ROUTE_DEADLINE": str(ROUTE_DEADLINE),
    }
    hosts = {name: net.add(name) for name in ("national", *(f"p{p}" for p in DELAY_S))}
    for name, host in hosts.items():  # each certificate names the address it is dialled at
        identity = Identity.national() if name == "national" else Identity.of_province(name[1:])
        pki.ca.ensure(identity, hosts=(host.address,))
    national = NsNode(
        "national",
        "national",
        root / "national",
        host=hosts["national"],
        nation=root,
        heartbeat=HEARTBEAT_S,
        env=env,
    )
    nation = Nation(root, pki, net, national)
    rng = random.Random(SEED)
    for p, delay in DELAY_S.items():
        host = hosts[f"p{p}"]
        nation.up[p] = DelayRelay(
            f"p{p}→national",
            host.hub,
            (hosts["national"].address, NODE_PORT),
            delay,
            jitter_s=JITTER_S,
            rng=rng,
        )
        nation.down[p] = DelayRelay(
            f"national→p{p}",
            hosts["national"].hub,
            (host.address, NODE_PORT),
            delay,
            jitter_s=JITTER_S,
            rng=rng,
        )
    return nation


@pytest.fixture
async def nation(tmp_path):
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    pki = TestPki(tmp_path)  # the nodes' certificates name their namespaces' addresses
    with Netns() as net:  # deleted whatever happens, and what still runs in them ends
        n = _plan_nation(tmp_path, pki, net)
        try:
            await _start_nation(n)
            yield n
        finally:
            await n.close()


def _insured(kit: Kit, provinces: set[str]) -> list[SyntheticPerson]:
    return [p for p in kit.population if {r.insu_org[:2] for r in p.insured} == provinces]


async def _state_is(kit: Kit, province: str, state: int) -> bool:
    """Is ``province`` in ``state`` in national's directory (ListNodes)?"""
    nodes = (await kit.admin().ListNodes(admin_pb.ListNodesRequest(), timeout=5)).nodes
    return any(n.province == province and n.state == state for n in nodes)


async def _fails_in_time(call, what: str) -> float:
    """Await ``call``: it must fail with -3 answered by a node (its ErrorInfo), so before
    the caller's own deadline. The seconds it took."""
    t0 = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    took = time.monotonic() - t0
    answer = node_answer(info.value)
    assert answer is not None, (
        f"{what}: no node answered within the caller's {CALLER_TIMEOUT} s "
        f"({from_rpc_error(info.value)}, after {took:.2f} s)"
    )
    assert answer[0] == -3, f"{what}: {answer}"
    return took


async def test_a_nation_across_namespaces_through_a_cut_and_a_restore(nation: Nation):
    kit = nation.kit
    assert kit is not None
    a = _insured(kit, {"44"})[0]  # insured in Guangdong, treated in Shanghai
    b = _insured(kit, {"31", "44"})[0]  # insured in both, settles at 31
    c = _insured(kit, {"31"})[0]  # activated while 31 is cut off

    # -- connected: a scan routed 31 → national → 44, a remote settlement -------------------
    auth_a = (await activate(kit, a, business_province="31")).authCode
    auth_b = (await activate(kit, b, business_province="31")).authCode
    code44 = await nation.issued_when_there("44", auth_a)
    paths = (nation.up["31"], nation.down["44"])  # 31 → national, national → 44
    before = [list(r.bytes_forwarded) for r in paths]
    t0 = time.monotonic()
    scanned = await nation.scan("31", code44)
    routed_s = time.monotonic() - t0
    assert scanned.ecToken and scanned.idNo == a.id_no
    # through both relays, there and back: at least their four delays
    assert routed_s >= 2 * (DELAY_S["31"] + DELAY_S["44"]), routed_s
    for relay, was in zip(paths, before, strict=True):
        assert all(n > m for n, m in zip(relay.bytes_forwarded, was, strict=True)), relay.name

    t = nation.terminals["31"][0]
    items = [item("A1", A, 3_000), item("B1", B, 1_000)]
    settled = await nation.settler("31").Settle(
        settle_request(scanned.ecToken, t.org_id, "net-remote-1", items), timeout=10
    )
    s = settled.settlement
    assert (s.state, s.settledBy, s.servingProvince) == (pb.SETTLEMENT_STATE_SETTLED, "44", "31")

    # -- 31 cut off from national ------------------------------------------------------------
    org31 = next(r.insu_org for r in b.insured if r.insu_org.startswith("31"))
    code31_b = await nation.issued_when_there("31", auth_b, insu_org=org31)
    code31_a = await nation.issue("31", auth_a)
    outbox31_before = _count(nation.db("31"), "SELECT count(*) FROM outbox")
    await nation.cut("31")

    # 31 still serves: health, a code it issues, a scan of its own code, a local settlement
    health = await nation.provinces["31"].channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    local = await nation.scan("31", code31_b)
    assert local.ecToken and local.idNo == b.id_no
    here = (
        await nation.settler("31").Settle(
            settle_request(local.ecToken, t.org_id, "net-local-1", items), timeout=10
        )
    ).settlement
    assert (here.state, here.settledBy) == (pb.SETTLEMENT_STATE_SETTLED, "31")
    # its notice to 44 (b is insured there too) waits in 31's outbox
    assert _count(nation.db("31"), "SELECT count(*) FROM outbox") == outbox31_before + 1
    local_a = await nation.scan("31", code31_a)
    assert local_a.ecToken

    # cross-province calls from 31 and to 31 fail with -3, answered by a node in time
    code44_again = await nation.issue("44", auth_a)
    await _fails_in_time(nation.scan("31", code44_again, CALLER_TIMEOUT), "a scan routed from 31")
    await _fails_in_time(
        nation.settler("31").Settle(
            settle_request(local_a.ecToken, t.org_id, "net-remote-2", items),
            timeout=CALLER_TIMEOUT,
        ),
        "a remote settlement from 31",
    )
    assert _count(nation.db("31"), "SELECT count(*) FROM settlements WHERE state = 'pending'") == 1
    code31_c = await nation.issue("31", auth_a)
    await _fails_in_time(nation.scan("44", code31_c, CALLER_TIMEOUT), "a scan routed to 31")
    # the others route among themselves as before: 11 scans a code of 44
    assert (await nation.scan("11", code44_again)).ecToken

    # national's directory has 31 down once its lease ran out (no heartbeat came through)
    await eventually(lambda: _state_is(kit, "31", admin_pb.NODE_STATE_DOWN), what="31 down")
    assert await _state_is(kit, "44", admin_pb.NODE_STATE_UP)

    # national activates c, of Shanghai, meanwhile: its events for 31 wait in national's outbox
    auth_c = (await activate(kit, c, business_province="31")).authCode
    national_db = nation.national.data_dir / "national.db"
    acked, last = _delivered(national_db, "31", "31")
    assert acked < last, "national had nothing waiting for 31"

    # -- the link back: nothing lost ---------------------------------------------------------
    await nation.restore("31")

    async def caught_up() -> bool:
        a31, l31 = _delivered(national_db, "31", "31")
        up_acked, up_last = _delivered(nation.db("31"), "national")
        pending = _count(
            nation.db("31"), "SELECT count(*) FROM settlements WHERE state = 'pending'"
        )
        notices = _count(
            nation.db("44"),
            "SELECT count(*) FROM settlement_notices WHERE settlement_id = ?",
            here.settlementId,
        )
        return a31 >= l31 and up_acked >= up_last and pending == 0 and notices == 1

    await eventually(lambda: _state_is(kit, "31", admin_pb.NODE_STATE_UP), what="31 up again")
    await eventually(caught_up, timeout=30, what="31's link to deliver what waited")
    # the remote settlement left pending is completed once, the same at both ends
    again = (
        await nation.settler("31").Settle(
            settle_request(local_a.ecToken, t.org_id, "net-remote-2", items), timeout=10
        )
    ).settlement
    assert (again.state, again.settledBy) == (pb.SETTLEMENT_STATE_SETTLED, "44")
    for p in ("31", "44"):
        assert (
            _count(
                nation.db(p),
                "SELECT count(*) FROM settlements WHERE request_id = ?",
                "net-remote-2",
            )
            == 1
        )
    assert (
        _count(
            nation.db("44"),
            "SELECT count(*) FROM settlements WHERE settlement_id = ? AND state = 'settled'",
            again.settlementId,
        )
        == 1
    )
    # c's voucher reached 31: it issues c's codes, and scans cross again
    await nation.issued_when_there("31", auth_c)
    assert (await nation.scan("31", await nation.issue("44", auth_a))).ecToken
    assert nation.up["31"].accepted >= 2, "31 never connected again through its relay"

    # -- a silent partition: 31's link stalls (nothing crosses, nothing is refused) ---------
    token = (await nation.scan("31", await nation.issue("31", auth_a))).ecToken  # local
    for relay in (nation.up["31"], nation.down["31"]):
        relay.stall()
    stalled = settle_request(token, t.org_id, "net-remote-3", items)
    took = await _fails_in_time(
        nation.settler("31").Settle(stalled, timeout=CALLER_TIMEOUT),
        "a remote settlement over a stalled link",
    )
    assert took >= 1.0, f"-3 after {took:.2f} s: a refusal, not the settlement deadline"
    await nation.restore("31")  # the request held goes on: 44 settles it late, 31 is told

    async def settled_once() -> bool:
        held = "SELECT count(*) FROM settlements WHERE request_id = 'net-remote-3'"
        rows = [_count(nation.db(p), held) for p in ("31", "44")]
        pending = _count(
            nation.db("31"), "SELECT count(*) FROM settlements WHERE state = 'pending'"
        )
        return rows == [1, 1] and pending == 0

    await eventually(settled_once, timeout=30, what="the stalled settlement completed once")
    late = (await nation.settler("31").Settle(stalled, timeout=10)).settlement
    assert (late.state, late.settledBy) == (pb.SETTLEMENT_STATE_SETTLED, "44")
    assert (
        _count(
            nation.db("44"),
            "SELECT count(*) FROM settlements WHERE settlement_id = ? AND request_id = ?",
            late.settlementId,
            "net-remote-3",
        )
        == 1
    )
