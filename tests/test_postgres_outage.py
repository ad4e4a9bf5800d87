"""The database going away in the middle of a stream of settlements (PostgreSQL).

A nation (national, 44, 31) runs on a PostgreSQL server of the test's own; a person
insured in 44 settles in 31, one settlement after another. The server is stopped (fast
shutdown: every session of every node is cut) while calls are in flight and more keep
coming, then started again. What the callers see: every call made while the server is
down is answered ``-3`` (try again later) within its deadline, never a hang, never
another code; each node keeps answering its health check, SERVING; once the server is
back the same nodes, never restarted, settle again, the retries of the unanswered
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


@pytest.fixture
def own_server():
    """A server of the test's own: stopping it stops no other test's."""
    try:
        server = pgkit.PgServer().start()
    except pgkit.Unavailable as exc:
        pytest.skip(f"PostgreSQL: the embedded server cannot start here: {exc}")
    yield server
    server.stop()


async def test_a_server_stopped_during_a_stream_answers_minus_3_and_nothing_is_lost(
    own_server, tmp_path, test_pki, monkeypatch
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
        await asyncio.to_thread(own_server.halt)
        down = True
        # down: the nodes still answer their health checks, at once
        for s in nodes:
            started = time.monotonic()
            assert await s.health_status() == health_pb2.HealthCheckResponse.SERVING
            assert time.monotonic() - started < 2
        await running
        down = False
        await asyncio.to_thread(own_server.launch)

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
        for s in nodes:
            assert await s.health_status() == health_pb2.HealthCheckResponse.SERVING

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
