"""Settlements survive the nodes they pass through (6.5 with real processes): a kill -9
of the insured province in the middle of a stream of remote settlements, then its
restart at once on the same data (SQLite or PostgreSQL), leaves zero lost and zero
doubled; a settlement left pending by a time-out is completed by the serving
province's reconciler without any retry from the caller."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from pgkit import fetch
from scankit import eventually, insured_in, start_scan_nation, terminals_of
from settlekit import (
    POLICY,
    A,
    B,
    item,
    settle_request,
    settlement_stub,
    start_settle_nation,
    token_for,
)
from voucherkit import fails

from bench.nodes import NodeProcess
from ecnet.v1 import settlement_service_pb2 as pb
from node.errors import from_rpc_error

STREAM = 24


def _ledger(db) -> list[tuple]:
    """The settlements of ``db``: a node's SQLite file or PostgreSQL URL."""
    return fetch(db, "SELECT request_id, state, fund_pay, psn_acct_pay FROM settlements")


async def _settled_with_retries(
    stub, request, retries: list, deadline_s: float = 60.0
) -> pb.Settlement:
    """What an integrator's system does: retry the same requestId while the answer is -3."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return (await stub.Settle(request, timeout=5)).settlement
        except grpc.aio.AioRpcError as exc:
            code, _ = from_rpc_error(exc)
            if code != -3 or time.monotonic() > deadline:
                raise
            retries.append(request.requestId)
            await asyncio.sleep(0.2)


@pytest.mark.backends
async def test_kill_9_of_the_insured_province_during_a_stream(cluster, tmp_path, monkeypatch):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    monkeypatch.setenv("ECNET_SETTLEMENT_POLICY", str(policy))
    # a stream of retried settlements from one terminal: its rate limit out of the way
    monkeypatch.setenv("ECNET_LIMITS_TERMINAL_PER_SECOND", "0")
    sk = await start_scan_nation(cluster, tmp_path, ("31",), extra={"settle_deadline": "1.5"})
    p44 = NodeProcess(
        "p44",
        "provincial",
        tmp_path / "p44",
        province="44",
        national=sk.kit.national.address,
        heartbeat=0.2,
        nation=cluster.pki.root,
        db=cluster.db_url("p44", tmp_path / "p44") or "",
    )
    await p44.start()
    try:
        p = insured_in(sk.kit, "44")[0]
        auth = await sk.activated(p, "31")
        db44 = p44.db or p44.data_dir / "provincial-44.db"

        async def at_44():
            return fetch(db44, "SELECT count(*) FROM voucher_cache")[0][0] > 0

        await eventually(at_44, what="the voucher at 44")

        tokens = [await token_for(sk, auth, "31") for _ in range(STREAM)]
        stub = settlement_stub(sk, "31")
        requests = [
            settle_request(
                t, term.org_id, f"kill-{n}", [item("A1", A, 3_000), item("B1", B, 1_000)]
            )
            for n, (t, term) in enumerate(tokens)
        ]

        retries: list[str] = []

        async def stream():
            results = []
            for r in requests:
                results.append(asyncio.create_task(_settled_with_retries(stub, r, retries)))
                await asyncio.sleep(0.05)
            return await asyncio.gather(*results)

        running = asyncio.create_task(stream())

        async def some_settled():
            return len(_ledger(db44)) >= 4

        await eventually(some_settled, what="a few settlements at 44")
        p44.kill()
        await p44.start()  # at once: nothing the killed process held may stand in the way
        settled = await running
    finally:
        await p44.stop()

    # the kill hit the stream: some requests were answered -3 (pending) and retried
    assert retries
    # every request settled once, at both ends, with one id
    assert len({s.settlementId for s in settled}) == STREAM
    assert all(s.state == pb.SETTLEMENT_STATE_SETTLED and s.settledBy == "44" for s in settled)
    ledger = _ledger(db44)
    assert sorted(r[0] for r in ledger) == sorted(f"kill-{n}" for n in range(STREAM))
    assert all(r[1] == "settled" for r in ledger)
    rows31 = await sk.provinces["31"].store.db.read(
        lambda conn: conn.execute("SELECT request_id, state FROM settlements").fetchall()
    )
    assert sorted(r[0] for r in rows31) == sorted(r[0] for r in ledger) and {
        r[1] for r in rows31
    } == {"settled"}
    # the money adds up: the account moved by exactly what the settlements say
    ((balance,),) = fetch(db44, "SELECT balance FROM personal_accounts")
    ((fund_paid,),) = fetch(db44, "SELECT fund_paid FROM accumulators")
    assert balance == 5_000 - sum(r[3] for r in ledger)
    assert fund_paid == sum(r[2] for r in ledger) == sum(s.fundPay for s in settled)


async def test_a_pending_settlement_is_completed_by_the_reconciler(cluster, tmp_path):
    sk = await start_settle_nation(
        cluster, tmp_path, ("44", "31"), extra={"settle_deadline": "1", "reconcile_after": "0.01"}
    )
    p = insured_in(sk.kit, "44")[0]
    auth = await sk.activated(p, "31")
    token, terminal = await token_for(sk, auth, "31")
    # 44 is down when 31 settles: the call answers -3 and the settlement stays pending
    p44 = sk.provinces["44"]
    await p44.stop(grace=0)
    cluster.nodes.remove(p44)
    stub = settlement_stub(sk, "31")
    request = settle_request(token, terminal.org_id, "late-1", [item("A1", A, 20_000)])
    message = await fails(stub.Settle(request, timeout=10), -3)
    assert "pending" in message and "same requestId" in message
    got = (
        await stub.GetSettlement(
            pb.GetSettlementRequest(
                settlementId=(
                    await sk.provinces["31"].provincial.settlements.db.read(
                        lambda conn: conn.execute(
                            "SELECT settlement_id FROM settlements"
                        ).fetchone()[0]
                    )
                )
            ),
            timeout=10,
        )
    ).settlement
    assert got.state == pb.SETTLEMENT_STATE_PENDING

    # 44 comes back; nobody retries; the reconciler asks again and the row completes
    sk.provinces["44"] = await cluster.start(
        cluster.config("provincial", "44", extra=dict(sk.kit.extra))
    )
    sk.terminals["44"] = await terminals_of(sk.kit, "44")

    async def completed():
        await sk.provinces["31"].provincial.settlements.reconcile()
        s = (
            await stub.GetSettlement(
                pb.GetSettlementRequest(settlementId=got.settlementId), timeout=10
            )
        ).settlement
        return s if s.state == pb.SETTLEMENT_STATE_SETTLED else None

    s = await eventually(completed, what="the reconciled settlement")
    assert s.settledBy == "44" and s.feeSumamt == s.fundPay + s.psnAcctPay + s.ownPayAmt
    # and the caller's retry, later, gets that same settlement
    assert (await stub.Settle(request, timeout=10)).settlement.settlementId == s.settlementId


async def test_a_timed_out_reversal_is_completed_by_the_reconciler(cluster, tmp_path):
    sk = await start_settle_nation(
        cluster, tmp_path, ("44", "31"), extra={"settle_deadline": "1", "reconcile_after": "0.01"}
    )
    p = insured_in(sk.kit, "44")[1]
    auth = await sk.activated(p, "31")
    token, terminal = await token_for(sk, auth, "31")
    stub = settlement_stub(sk, "31")
    s = (
        await stub.Settle(
            settle_request(token, terminal.org_id, "rev-1", [item("A1", A, 20_000)]), timeout=10
        )
    ).settlement
    # 44 is down when the reversal is asked: -3, and nothing is reversed yet at 31
    p44 = sk.provinces["44"]
    await p44.stop(grace=0)
    cluster.nodes.remove(p44)
    message = await fails(
        stub.Reverse(
            pb.ReverseRequest(
                settlementId=s.settlementId, orgId=terminal.org_id, requestId="undo-1"
            ),
            timeout=10,
        ),
        -3,
    )
    assert "asks again" in message
    got = (
        await stub.GetSettlement(pb.GetSettlementRequest(settlementId=s.settlementId), timeout=10)
    ).settlement
    assert got.state == pb.SETTLEMENT_STATE_SETTLED

    # 44 is back; nobody retries; the reconciler asks again and both ends are reversed
    sk.provinces["44"] = await cluster.start(
        cluster.config("provincial", "44", extra=dict(sk.kit.extra))
    )

    async def reversed_():
        await sk.provinces["31"].provincial.settlements.reconcile()
        r = (
            await stub.GetSettlement(
                pb.GetSettlementRequest(settlementId=s.settlementId), timeout=10
            )
        ).settlement
        return r if r.state == pb.SETTLEMENT_STATE_REVERSED else None

    r = await eventually(reversed_, what="the reconciled reversal")
    assert r.reverseRequestId == "undo-1" and r.acctBalance == 5_000
    left = await sk.provinces["31"].store.db.read(
        lambda conn: conn.execute("SELECT count(*) FROM reversals_pending").fetchone()[0]
    )
    assert left == 0
    at_44 = await sk.provinces["44"].store.db.read(
        lambda conn: conn.execute(
            "SELECT state FROM settlements WHERE settlement_id = ?", (s.settlementId,)
        ).fetchone()[0]
    )
    assert at_44 == "reversed"
