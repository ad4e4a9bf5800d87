"""National as a cluster: several ``--role national`` processes on one PostgreSQL
database, provinces dialing them as one balanced target (``--national H1:P1,H2:P2``).

* The lease of a province's lane (``delivery_leases``, ``node.storage.outbox``): one
  holder at a time, taken over once it expires, given back, renewed only while held.
* ``--national`` lists and DNS names: the gRPC target and its round_robin service
  config, and the ones refused with a clear error; a province given a name that a DNS
  server of the test's own resolves to national's address (and a dead one) registers
  and calls through it.
* Two national processes, two provinces listing both: routed scans and remote
  settlements go through; the replica holding the lease of 44's lane is killed with
  SIGKILL during a stream of remote settlements; nothing is lost or doubled, the
  outbox is delivered by the other replica within seconds, 44 receives national's events
  in seq order and never two batches at once.
* A replica cut off from the database answers NOT_SERVING until it has it back, and the
  provinces' calls go to the other replica meanwhile (their channels check health).
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pgkit
import pytest
from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from netkit import DelayRelay
from scankit import ScanKit, eventually, insured_in, terminals_of
from settlekit import POLICY, settlement_stub, token_for
from test_settlement_kill import (
    QUEUED_AT_KILL,
    RECONCILE,
    STREAM,
    ProcessKit,
    SamePortNode,
    _check,
    _count,
    _requests,
    _slow_answers,
    _stream_with_kill,
    _undelivered,
)
from voucherkit import FAST, PROVINCES, SEED, activate

from cli.seed import seed_national
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import federation_service_pb2_grpc as fed_grpc
from federation.client import PeerClient
from node.clock import SystemClock
from node.config import ROUND_ROBIN, ConfigError, national_target
from node.errors import from_rpc_error
from node.population import generate
from node.storage.db import open_database
from node.storage.migrations import national as national_migrations
from node.storage.outbox import OutboxStore, q_claim_lease, q_release_leases, q_renew_leases

POPULATION = 300


# -- the lease ------------------------------------------------------------------------


@pytest.mark.postgresql
async def test_one_holder_per_lane_taken_over_when_it_expires(pg):
    url = pg.database("lease", "national")
    # two pools on one database, as two national processes have
    a = open_database(url, national_migrations.MIGRATIONS, readers=1)
    b = open_database(url, national_migrations.MIGRATIONS, readers=1)
    await a.open()
    await b.open()
    try:
        # many claims at once from both: exactly one holder wins the lane
        got = await asyncio.gather(
            *(
                db.write(q_claim_lease, "44", holder, 60_000)
                for _ in range(10)
                for db, holder in ((a, "A"), (b, "B"))
            )
        )
        winners = {h for (held, _), h in zip(got, ["A", "B"] * 10, strict=True) if held}
        assert len(winners) == 1, got
        (first,) = winners
        other, other_db = ("B", b) if first == "A" else ("A", a)
        held, wait_ms = await other_db.write(q_claim_lease, "44", other, 60_000)
        assert not held and 50_000 < wait_ms <= 60_000
        # another lane is free for the other
        assert (await other_db.write(q_claim_lease, "31", other, 60_000))[0]
        # given back: the other takes it at once
        await a.write(q_release_leases, first, "44")
        assert (await other_db.write(q_claim_lease, "44", other, 300))[0]
        assert await other_db.write(q_renew_leases, other, 300) == {"44", "31"}
        # not renewed: expired, taken over; the old holder renews nothing of it
        held, wait_ms = await a.write(q_claim_lease, "44", first, 300)
        assert not held and 0 < wait_ms <= 300
        await asyncio.sleep(0.4)
        assert (await a.write(q_claim_lease, "44", first, 60_000))[0]
        assert await other_db.write(q_renew_leases, other, 300) == set()
    finally:
        await a.close()
        await b.close()
        pg.drop(url)


# -- the target -------------------------------------------------------------------------


def test_a_national_list_is_one_balanced_target():
    assert national_target("127.0.0.1:5000") == ("127.0.0.1:5000", [])
    target, options = national_target("127.0.0.1:5000, 127.0.0.2:5001")
    assert target == "ipv4:127.0.0.1:5000,127.0.0.2:5001"
    assert options == [("grpc.service_config", ROUND_ROBIN)]
    assert national_target("[::1]:5000,[::1]:5001")[0] == "ipv6:[::1]:5000,[::1]:5001"
    with pytest.raises(ConfigError, match="takes IP addresses"):
        national_target("a.example:5000,b.example:5000")
    with pytest.raises(ConfigError, match="mixes IPv4 and IPv6"):
        national_target("127.0.0.1:5000,[::1]:5001")
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        national_target("127.0.0.1:5000,127.0.0.2")


def test_a_national_dns_name_is_one_balanced_target():
    for target in ("dns:///national.example:50000", "dns://10.0.0.53:53/national.example:50000"):
        assert national_target(target) == (target, [("grpc.service_config", ROUND_ROBIN)])
    with pytest.raises(ConfigError, match="name 'national.example' is not HOST:PORT"):
        national_target("dns:///national.example")
    with pytest.raises(ConfigError, match="DNS server 'ns.example' is not HOST:PORT"):
        national_target("dns://ns.example/national.example:50000")
    for bad in ("dns:national.example:50000", "dns:///a.example:1,b.example:1"):
        with pytest.raises(ConfigError, match="is not a DNS target"):
            national_target(bad)


class Zone(BaseResolver):
    """A DNS server's answers: each name's A records (every other name: NXDOMAIN, every
    other type: none), and how often each name was asked."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = {name.rstrip(".") + ".": ips for name, ips in records.items()}
        self.asked: dict[str, int] = {}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname)
        self.asked[name] = self.asked.get(name, 0) + 1
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            for ip in self.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=5))
        return reply


class Counted(health.aio.HealthServicer):
    """A health service that counts the checks it answers (asyncio's: the province's
    channel watches it too, and a synchronous Watch would hold an executor thread to
    the end of the test's loop)."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    async def Check(self, request, context):
        self.checks += 1
        return await super().Check(request, context)


async def test_a_province_finds_national_by_a_name_in_dns(cluster):
    """``--national dns://SERVER/NAME:PORT``: a DNS server of the test's own resolves the
    name to two addresses on national's port, national's (127.0.0.1) and a second
    endpoint with national's certificate that answers health checks only (127.0.0.2).
    The province registers with national through the name, its checks are spread over
    both addresses (round_robin, not the first address alone), and once the second
    endpoint is gone they all go to national. A name the server does not know answers
    nothing."""
    national = await cluster.start_national()
    host, port = national.address.rsplit(":", 1)
    assert host == "127.0.0.1"
    tls = cluster.pki.node_settings("national")
    other, counted = grpc.aio.server(), Counted()
    await counted.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(counted, other)
    other.add_secure_port(
        f"127.0.0.2:{port}",
        grpc.ssl_server_credentials(
            [(tls["key"].read_bytes(), tls["cert"].read_bytes())],
            root_certificates=tls["ca"].read_bytes(),
            require_client_auth=True,
        ),
    )
    await other.start()
    zone = Zone({"national.ecnet.test": [host, "127.0.0.2"]})
    dns = DNSServer(zone, address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply"))
    dns.start_thread()
    try:
        server = f"127.0.0.1:{dns.server.server_address[1]}"
        config = cluster.config("provincial", "44")
        config.national = f"dns://{server}/national.ecnet.test:{port}"
        p44 = await cluster.start(config)
        await asyncio.wait_for(p44.provincial.national.registered.wait(), 15)
        assert zone.asked.get("national.ecnet.test.", 0) >= 1
        check = health_pb2_grpc.HealthStub(p44.provincial.national.peer.channel).Check

        async def checks(n: int) -> None:
            for _ in range(n):
                resp = await check(health_pb2.HealthCheckRequest(), timeout=5)
                assert resp.status == health_pb2.HealthCheckResponse.SERVING

        await checks(10)
        assert 0 < counted.checks < 10, f"{counted.checks} of 10 checks at 127.0.0.2"
        await other.stop(None)
        before = counted.checks
        # the province's channel learns that the endpoint went from its GOAWAY: a call
        # sent there before it arrived is refused (UNAVAILABLE: -3, tried again)
        deadline = time.monotonic() + 5
        while True:
            try:
                await checks(1)
                break
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                assert time.monotonic() < deadline, "still sent to the endpoint that went"
                await asyncio.sleep(0.1)
        await checks(10)  # every one answered, by national
        assert counted.checks == before

        dialer = p44.provincial.national.peer.dialer
        nowhere = PeerClient(f"dns://{server}/nowhere.ecnet.test:{port}", "national", dialer)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await health_pb2_grpc.HealthStub(nowhere.channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2
                )
            assert info.value.code() in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            )
            assert zone.asked.get("nowhere.ecnet.test.", 0) >= 1
        finally:
            await nowhere.close()
    finally:
        await other.stop(None)
        dns.stop()
        dns.server.server_close()  # stop() ends its thread, not its socket


# -- two national processes -----------------------------------------------------------


class Replica(SamePortNode):
    """A national process sharing the first replica's keys (its master key, which seals
    the database's secrets, and its signing key) from that replica's data folder."""

    def __init__(self, *args, keys_of=None, **kw) -> None:
        super().__init__(*args, **kw)
        self.keys_of = keys_of or self.data_dir

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--master-key", str(self.keys_of / "master.key"),
            "--sign-key", str(self.keys_of / "sign.key"),
        ]  # fmt: skip


LEASE_HELD = (
    "SELECT count(*) FROM delivery_leases WHERE receiver = ? "
    "AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
)


def _holder_pid(url: str, province: str) -> int | None:
    rows = pgkit.fetch(url, "SELECT holder FROM delivery_leases WHERE receiver = ?", province)
    return int(rows[0][0].split(":")[1]) if rows else None


@pytest.mark.postgresql
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_kill_9_of_a_national_replica_during_a_stream(cluster, tmp_path, monkeypatch):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    for name, value in FAST.items():  # cheap password hashes in the child processes too
        monkeypatch.setenv(f"ECNET_VOUCHER_{name.upper()}", value)
    monkeypatch.setenv("ECNET_LIMITS_TERMINAL_PER_SECOND", "0")
    monkeypatch.setenv("ECNET_DELIVERY_LEASE_TTL", "2")
    url = cluster.db_url("national")
    seed_national(tmp_path / "national" / "national.db", POPULATION, SEED, PROVINCES, db=url)
    first = Replica("national", "national", tmp_path / "national", heartbeat=0.5,
                    nation=cluster.pki.root, db=url)  # fmt: skip
    await first.start()  # makes the keys the second one shares
    second = Replica("national-b", "national", tmp_path / "national-b", heartbeat=0.5,
                     nation=cluster.pki.root, db=url, keys_of=first.data_dir)  # fmt: skip
    await second.start()
    replicas = {first.proc.pid: first, second.proc.pid: second}
    both = f"{first.address},{second.address}"
    try:
        persons = list(generate(POPULATION, SEED, PROVINCES))
        kit = ProcessKit(cluster, tmp_path, SystemClock(), persons, dict(FAST), process=first)
        sk = ScanKit(kit)
        extra = {"policy": str(policy), "settle_deadline": "2", **RECONCILE}
        for code in ("44", "31"):
            config = cluster.config("provincial", code, national=both, extra=dict(extra))
            sk.provinces[code] = await cluster.start(config)
            sk.terminals[code] = await terminals_of(kit, code)
        db31, db44 = sk.provinces["31"].db_target, sk.provinces["44"].db_target

        # 44 as a slow receiver that counts the batches it has in flight at once
        inbox = sk.provinces["44"].provincial.inbox
        deliver, in_flight, most = inbox.deliver, [0], [0]
        # closed from the events queued before the kill to the kill: the holder of 44's
        # lane then has a batch in flight and its lease held
        gate = asyncio.Event()
        gate.set()

        async def counted(caller, request):
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            try:
                await asyncio.wait_for(gate.wait(), 30)
                await asyncio.sleep(0.1)
                return await deliver(caller, request)
            finally:
                in_flight[0] -= 1

        monkeypatch.setattr(inbox, "deliver", counted)

        p = insured_in(kit, "44")[0]
        auth = await sk.activated(p, "31")  # a routed scan at 31 of a code of 44's person

        async def at_44():
            return _count(db44, "SELECT count(*) FROM voucher_cache") > 0

        await eventually(at_44, what="the voucher at 44")
        tokens = [await token_for(sk, auth, "31") for _ in range(STREAM)]
        requests = _requests(tokens, "killrep")
        stub = settlement_stub(sk, "31")
        others = insured_in(kit, "44")[1 : 1 + QUEUED_AT_KILL]
        survivor: list[SamePortNode] = []

        async def queue_events():  # committed, not delivered to 44 at the kill
            gate.clear()
            for person in others:
                await activate(kit, person, business_province="31")

        killed_at: list[float] = []

        def kill():  # the replica that holds 44's lane, its batch in flight
            holder = _holder_pid(url, "44")
            assert holder in replicas, holder
            assert pgkit.fetch(url, LEASE_HELD, "44") == [(1,)], "44's lease is not held"
            survivor.extend(r for pid, r in replicas.items() if pid != holder)
            killed_at.append(time.monotonic())
            replicas[holder].kill()
            gate.set()

        async def no_restart():
            pass

        _slow_answers(monkeypatch, sk.provinces["44"])
        answers, before, retries, _ = await _stream_with_kill(
            lambda: stub, requests, db31, db44, kill, no_restart, queue_events
        )
        await _check(lambda: stub, requests, answers, before, retries, db31, db44,
                     expect_retries=False)  # fmt: skip

        async def delivered():
            return (
                _undelivered(url).keys().isdisjoint({"44", "31"})
                and _count(db44, "SELECT count(*) FROM voucher_cache") == 1 + QUEUED_AT_KILL
            )

        await eventually(delivered, timeout=15, what="the outbox delivered by the survivor")
        took = time.monotonic() - killed_at[0]
        print(f"outbox to 44 delivered by the surviving replica {took:.1f} s after the kill")
        assert took < 15
        assert _holder_pid(url, "44") == survivor[0].proc.pid
        # in order, once each, never two batches at once
        seqs = [
            r[0]
            for r in pgkit.fetch(
                db44, "SELECT seq FROM inbox_events WHERE origin = 'national' ORDER BY rowid"
            )
        ]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
        assert most[0] == 1, f"{most[0]} batches in flight to 44 at once"
    finally:
        for replica in (first, second):
            await replica.stop()


@pytest.mark.postgresql
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_replica_cut_off_from_the_database_is_left_for_the_other(cluster, tmp_path):
    """The first replica reaches the database through a relay the test cuts. It finds
    the server gone within seconds (its own probe, idle or not), answers NOT_SERVING,
    and 44's calls that need national's database (FetchVoucher) all go to the second
    replica: none is answered -3. Once the relay is back, so is the replica."""
    url = cluster.db_url("national")
    server = url.split("@", 1)[1].split("/", 1)[0]
    host, port = server.rsplit(":", 1)
    relay = await DelayRelay("pg", "127.0.0.1", (host, int(port)), 0.0).start()
    first = Replica("national", "national", tmp_path / "national", heartbeat=0.5,
                    nation=cluster.pki.root, db=url.replace(server, relay.address))  # fmt: skip
    await first.start()
    second = Replica("national-b", "national", tmp_path / "national-b", heartbeat=0.5,
                     nation=cluster.pki.root, db=url, keys_of=first.data_dir)  # fmt: skip
    await second.start()
    watcher = None
    try:
        config = cluster.config("provincial", "44", national=f"{first.address},{second.address}")
        p44 = await cluster.start(config)
        await asyncio.wait_for(p44.provincial.national.registered.wait(), 15)
        fetch = fed_grpc.FederationServiceStub(p44.provincial.national.peer.channel).FetchVoucher
        watcher = PeerClient(first.address, "national", p44.provincial.national.peer.dialer)
        first_health = health_pb2_grpc.HealthStub(watcher.channel).Check

        async def codes(n: int) -> list[int]:
            """The codes of n FetchVoucher calls of 44's (an unknown channel's: each read
            of national's database is refused, by a replica that could read it)."""
            out = []
            for _ in range(n):
                request = fed_pb.FetchVoucherRequest(
                    authCode="0" * 32, channelId="nochannel", province="44"
                )
                try:
                    await fetch(request, timeout=10)
                    out.append(0)
                except grpc.aio.AioRpcError as exc:
                    out.append(from_rpc_error(exc)[0])
            return out

        async def status_of_first() -> int:
            return (await first_health(health_pb2.HealthCheckRequest(), timeout=5)).status

        answered = await codes(6)
        assert -3 not in answered and len(set(answered)) == 1, answered

        await relay.cut()

        async def not_serving() -> bool:
            return await status_of_first() == health_pb2.HealthCheckResponse.NOT_SERVING

        await eventually(not_serving, timeout=15, what="NOT_SERVING from the cut-off replica")
        during = await codes(12)
        assert during == answered[:1] * 12, during  # the second replica answered them all

        await relay.restore()

        async def serving() -> bool:
            return await status_of_first() == health_pb2.HealthCheckResponse.SERVING

        await eventually(serving, timeout=15, what="SERVING again once the database is back")
        after = await codes(6)
        assert after == answered[:1] * 6, after
        log = first.log_path.read_text()
        assert "database unreachable: NOT_SERVING" in log
        # the outage in one line per loop: no traceback, no line repeated each second
        assert "Traceback" not in log and log.count('"delivery scan failed"') <= 1, log
    finally:
        if watcher is not None:
            await watcher.close()
        for replica in (first, second):
            await replica.stop()
        await relay.close()


# -- TLS over a list --------------------------------------------------------------------


async def test_a_list_still_checks_that_each_replica_is_national(cluster):
    """Each address of a ``--national`` list is held to the national certificate's name
    (the channel's target name, whatever the address): a node of another name in the
    list is never called, and a list of none answers nothing."""
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    p31 = await cluster.start_province("31")
    dialer = p44.provincial.national.peer.dialer
    mixed = PeerClient(f"{p31.address},{cluster.national.address}", "national", dialer)
    wrong = PeerClient(f"{p31.address},{p44.address}", "national", dialer)
    try:
        health = health_pb2_grpc.HealthStub(mixed.channel)
        for _ in range(6):  # round_robin: the handshake with 31 fails, national answers all
            resp = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await health_pb2_grpc.HealthStub(wrong.channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        await mixed.close()
        await wrong.close()


@pytest.mark.postgresql
async def test_a_replica_sends_the_epoch_another_renewed(pg):
    """The outbox's epoch is the database's, not a copy a replica keeps: after one
    replica renews it (a receiver ahead of the outbox: a restored database), the other
    sends the new one."""
    url = pg.database("epoch", "national")
    a = open_database(url, national_migrations.MIGRATIONS, readers=1)
    b = open_database(url, national_migrations.MIGRATIONS, readers=1)
    await a.open()
    await b.open()
    try:
        first, second = OutboxStore(a), OutboxStore(b)
        old, created = await first.epoch(fresh=True)
        assert created and (await second.epoch(fresh=True)) == (old, False)
        renewed = await second.renew_epoch_if_behind(10**9)
        assert renewed is not None and renewed != old
        assert await first.epoch() == (old, False)  # the copy a single node may keep
        assert await first.epoch(fresh=True) == (renewed, False)
    finally:
        await a.close()
        await b.close()
        pg.drop(url)
