"""The database going away in the middle of a stream of settlements (PostgreSQL).

A nation (national, 44, 31) runs on a PostgreSQL server of the test's own; a person
insured in 44 settles in 31, one settlement after another. The database goes away while
calls are in flight and more keep coming, then comes back, in one of two ways:

* **stopped**: the server is stopped (fast shutdown: every session of every node is
  cut, each node told at once) and started again;
* **partitioned**: the network between the nodes and the server goes silent (every
  packet of the server's port dropped by the kernel: no reset, no refusal, nothing
  told, a pulled cable), then flows again. A node must find this out itself, within
  seconds, and not wait for TCP's own timeouts (a quarter of an hour).

What the callers see: every call made while the server is
down is answered ``-3`` (try again later) within its deadline, never a hang, never
another code; each node keeps answering its health check at once, and says
NOT_SERVING within seconds (a load balancer or a province's channel to national
replicas then leaves it), SERVING again once the server is back; then the same nodes,
never restarted, settle again, the retries of the unanswered
requestIds included. What the databases hold: every settlement a caller saw succeed,
exactly once at 31 and at 44, with the id the caller was given, and none doubled.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pgkit
import pytest
from grpc_health.v1 import health_pb2
from pgkit import fetch
from scankit import insured_in
from settlekit import A, B, item, settle_request, settlement_stub, start_settle_nation, token_for

from conftest import Cluster
from ecnet.v1 import settlement_service_pb2 as pb
from node.errors import from_rpc_error

pytestmark = pytest.mark.postgresql

BEFORE, DURING, AFTER = 3, 8, 3
# A caller's deadline for one Settle, and the nodes' busy timeout (the default) as long:
# a server that is gone must not be waited for as a locked row is.
DEADLINE_S = 5.0
BUSY_TIMEOUT_MS = 5000


class Stopped:
    """The server stopped and started again."""

    def __init__(self, server: pgkit.PgServer) -> None:
        self.server = server

    def away(self) -> None:
        self.server.halt()

    def back(self) -> None:
        self.server.launch()


class Partitioned:
    """The server's port silenced (:class:`pgkit.Blackhole`), then let through."""

    def __init__(self, server: pgkit.PgServer) -> None:
        self.hole = pgkit.Blackhole(server.port)

    def away(self) -> None:
        self.hole.drop()

    def back(self) -> None:
        self.hole.lift()


@pytest.fixture(params=[Stopped, Partitioned], ids=["stopped", "partitioned"])
def fault(request, own_server):
    if request.param is Partitioned and (why := pgkit.Blackhole.unavailable()):
        pytest.skip(why)
    fault = request.param(own_server)
    yield fault
    if isinstance(fault, Partitioned):
        fault.back()


@pytest.fixture
def own_server():
    """A server of the test's own: stopping it stops no other test's."""
    try:
        server = pgkit.PgServer().start()
    except pgkit.Unavailable as exc:
        pytest.skip(f"PostgreSQL: the embedded server cannot start here: {exc}")
    yield server
    server.stop()


async def test_a_database_gone_during_a_stream_answers_minus_3_and_nothing_is_lost(
    fault, own_server, tmp_path, test_pki, monkeypatch
):
    monkeypatch.setenv("ECNET_DB_BUSY_TIMEOUT_MS", str(BUSY_TIMEOUT_MS))
    # a stream of settlements from one terminal: its rate limit out of the way
    monkeypatch.setenv("ECNET_LIMITS_TERMINAL_PER_SECOND", "0")
    cluster = Cluster(tmp_path, test_pki, own_server)
    try:
        sk = await start_settle_nation(cluster, tmp_path, ("44", "31"))
        p31, p44 = sk.provinces["31"], sk.provinces["44"]
        auth = await sk.activated(insured_in(sk.kit, "44")[0], "31")
        tokens = [await token_for(sk, auth, "31") for _ in range(BEFORE + DURING + AFTER)]
        requests = [
            settle_request(
                t, term.org_id, f"away-{n:02d}", [item("A1", A, 3_000), item("B1", B, 1_000)]
            )
            for n, (t, term) in enumerate(tokens)
        ]
        stub = settlement_stub(sk, "31")
        nodes = [cluster.stubs(n) for n in (cluster.national, p44, p31)]
        acknowledged: dict[str, pb.Settlement] = {}
        refused: list[tuple[str, int, float, bool]] = []  # (requestId, code, seconds, down)
        down = False

        async def settle(r: pb.SettleRequest) -> None:
            sent_while_down, started = down, time.monotonic()
            try:
                acknowledged[r.requestId] = (await stub.Settle(r, timeout=DEADLINE_S)).settlement
            except grpc.aio.AioRpcError as exc:
                code, _ = from_rpc_error(exc)
                refused.append((r.requestId, code, time.monotonic() - started, sent_while_down))

        for r in requests[:BEFORE]:
            await settle(r)
        assert sorted(acknowledged) == [r.requestId for r in requests[:BEFORE]], refused

        async def stream() -> None:  # one call every 0.15 s, each tried once
            calls = []
            for r in requests[BEFORE : BEFORE + DURING]:
                calls.append(asyncio.create_task(settle(r)))
                await asyncio.sleep(0.15)
            await asyncio.gather(*calls)

        running = asyncio.create_task(stream())
        await asyncio.sleep(0.2)  # a call or two in flight
        await asyncio.to_thread(fault.away)
        down = True
        # down: the nodes still answer their health checks, at once, and each says
        # NOT_SERVING once it has found the server gone (its probe, every second)
        not_serving = set()
        deadline = time.monotonic() + 15
        while len(not_serving) < len(nodes):
            for n, s in enumerate(nodes):
                started = time.monotonic()
                if await s.health_status() == health_pb2.HealthCheckResponse.NOT_SERVING:
                    not_serving.add(n)
                assert time.monotonic() - started < 2
            assert time.monotonic() < deadline, f"NOT_SERVING from {len(not_serving)} nodes"
            await asyncio.sleep(0.2)
        await running
        down = False
        await asyncio.to_thread(fault.back)

        # every refusal is -3 within the deadline; every call made while down is refused
        assert refused and {code for _, code, _, _ in refused} == {-3}, refused
        assert all(seconds < DEADLINE_S for _, _, seconds, _ in refused), refused
        sent_down = [rid for rid, _, _, was_down in refused if was_down]
        assert sent_down and not set(sent_down) & set(acknowledged), (sent_down, acknowledged)

        # back: the same nodes settle again, the refused requestIds retried as they were
        retry = [r for r in requests[: BEFORE + DURING] if r.requestId not in acknowledged]
        deadline = time.monotonic() + 30
        while retry:
            refused.clear()
            for r in retry:
                await settle(r)
            assert {code for _, code, _, _ in refused} <= {-3}, refused
            retry = [r for r in retry if r.requestId not in acknowledged]
            assert time.monotonic() < deadline, (
                f"still refused after the server returned: {refused}"
            )
            if retry:
                await asyncio.sleep(0.2)
        for r in requests[BEFORE + DURING :]:
            await settle(r)
        assert sorted(acknowledged) == sorted(r.requestId for r in requests), refused
        deadline = time.monotonic() + 10  # SERVING again, each at its next probe
        for s in nodes:
            while await s.health_status() != health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline, "still NOT_SERVING with the server back"
                await asyncio.sleep(0.2)

        # asked again, each requestId answers what it answered first
        for r in requests:
            again = (await stub.Settle(r, timeout=DEADLINE_S)).settlement
            assert again == acknowledged[r.requestId], r.requestId

        # the databases: each acknowledged settlement once at each end, with its id
        sql = "SELECT request_id, settlement_id, state FROM settlements ORDER BY request_id"
        want = [(rid, s.settlementId, "settled") for rid, s in sorted(acknowledged.items())]
        assert fetch(p31.db_target, sql) == want
        assert fetch(p44.db_target, sql) == want
        assert len({s.settlementId for s in acknowledged.values()}) == len(requests)
        ((balance,),) = fetch(p44.db_target, "SELECT balance FROM personal_accounts")
        assert balance == 5_000 - sum(s.psnAcctPay for s in acknowledged.values())
    finally:
        await cluster.close()


def test_a_session_cut_mid_transaction_by_silence_frees_the_writer_lock(own_server):
    """The narrow case the stream rarely hits: the network goes silent between two
    statements of a write transaction. The node's side gives up within seconds (-3); the
    server's side, whose backend sat idle in that transaction holding the writer lock,
    gives up too, so once the line is back the node writes again instead of being
    refused by its own dead session until TCP's keepalive of two hours. Meanwhile a read
    on the event loop's thread is answered -3 at once, not tried, and reads again once
    the server is back."""
    if why := pgkit.Blackhole.unavailable():
        pytest.skip(why)
    from node.errors import EcError
    from node.storage.db import open_database
    from node.storage.migrations import provincial
    from node.storage.postgres import NETWORK_TIMEOUT_S

    url = own_server.database("cut", "provincial")
    db = open_database(url, provincial.MIGRATIONS, readers=1, busy_timeout_ms=BUSY_TIMEOUT_MS)
    db.open_sync()
    hole = pgkit.Blackhole(own_server.port)

    def cut_midway(conn) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('cut', 'half')")
        hole.drop()
        conn.execute("INSERT INTO meta (key, value) VALUES ('cut2', 'never')")

    def read_meta(conn) -> list[tuple[str, str]]:
        return [tuple(r) for r in conn.execute("SELECT key, value FROM meta ORDER BY key")]

    try:
        started = time.monotonic()
        with pytest.raises(EcError) as refused:
            db.write_sync(cut_midway)
        assert refused.value.code == -3, refused.value
        assert time.monotonic() - started < 3 * NETWORK_TIMEOUT_S + 1

        started = time.monotonic()
        with pytest.raises(EcError) as at_once:
            db.read_now(read_meta)
        assert at_once.value.code == -3 and time.monotonic() - started < 0.5
        time.sleep(3 * NETWORK_TIMEOUT_S)  # the server's end gives up meanwhile
        hole.lift()
        # the backend of the cut transaction is gone already, and its locks with it
        held = own_server.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND state = 'idle in transaction'",
            (url.rsplit("/", 1)[1],),
        ).fetchone()
        assert held == (0,), "the server still holds the silent node's transaction"

        deadline = time.monotonic() + 10
        while True:  # the next writes: refused only while the pools reconnect
            try:
                db.write_sync(lambda c: c.execute("INSERT INTO meta VALUES ('after', 'ok')"))
                break
            except EcError as exc:
                assert exc.code == -3, exc
                assert time.monotonic() < deadline, f"the writer lock is still held: {exc}"
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while True:  # the loop's reads: back once the probe found the server
            try:
                assert db.read_now(read_meta) == [("after", "ok")]  # the cut one rolled back
                break
            except EcError as exc:
                assert exc.code == -3, exc
                assert time.monotonic() < deadline, f"read_now still refused: {exc}"
                time.sleep(0.2)
    finally:
        hole.lift()
        db.close_sync()
