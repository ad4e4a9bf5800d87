"""Settlement at real nodes (6.4 b–c, 6.5): local and remote through national, the
token rules, idempotency by requestId, reversal, and the sum rule
feeSumamt = fundPay + psnAcctPay + ownPayAmt."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import pytest
from scankit import eventually, insured_in
from settlekit import A, B, C, item, settle_request, settlement_stub, start_settle_nation, token_for
from voucherkit import fails, update_person

from ecnet.v1 import common_pb2, settlement_service_pb2_grpc
from ecnet.v1 import settlement_service_pb2 as pb

# Runs on SQLite and on PostgreSQL (tests/conftest.py, "backends").
pytestmark = pytest.mark.backends


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_settle_nation(cluster, tmp_path, ("44", "31"), fake_clock=("44", "31"))


def _sums(s: pb.Settlement) -> None:
    assert s.feeSumamt == s.fundPay + s.psnAcctPay + s.ownPayAmt
    assert min(s.fundPay, s.psnAcctPay, s.ownPayAmt) >= 0


async def _rows(node, sql: str, *args):
    return await node.store.db.read(lambda conn: [tuple(r) for r in conn.execute(sql, args)])


async def test_local_settlement_by_hand(nation):
    p = insured_in(nation.kit, "44")[0]
    auth = await nation.activated(p, "44")
    token, terminal = await token_for(nation, auth, "44")
    stub = settlement_stub(nation, "44")

    # 甲 300 yuan + 乙 100 yuan (10 yuan first self-pay) + 丙 20 yuan = 420 yuan
    # eligible 300 + 90 = 390; deductible 100 → 290 × 70 % = 203 to the fund;
    # the in-catalogue personal share 390 − 203 = 187, of which the account pays its 50;
    # the person 420 − 203 − 50 = 167.
    items = [item("A1", A, 30_000), item("B1", B, 5_000, 2), item("C1", C, 2_000)]
    s = (
        await stub.Settle(settle_request(token, terminal.org_id, "r-1", items), timeout=10)
    ).settlement
    assert (s.feeSumamt, s.fundPay, s.psnAcctPay, s.ownPayAmt) == (42_000, 20_300, 5_000, 16_700)
    assert (s.deductiblePart, s.acctBalance, s.insuOrg) == (10_000, 0, p.insured[0].insu_org)
    assert (
        s.state == pb.SETTLEMENT_STATE_SETTLED and s.settledBy == "44" and s.servingProvince == "44"
    )
    assert len(s.settlementId) == 26 and s.settlementId.startswith("44")
    _sums(s)

    # the same request again (a retry after a time-out): the same settlement, nothing new
    again = (
        await stub.Settle(settle_request(token, terminal.org_id, "r-1", items), timeout=10)
    ).settlement
    assert again == s
    # the same requestId with other content is refused; so is a second use of the token
    await fails(
        stub.Settle(settle_request(token, terminal.org_id, "r-1", items[:1]), timeout=10), -2
    )
    await fails(
        stub.Settle(settle_request(token, terminal.org_id, "r-2", items), timeout=10), 500067
    )
    got = (
        await stub.GetSettlement(pb.GetSettlementRequest(settlementId=s.settlementId), timeout=10)
    ).settlement
    assert got == s

    # the year goes on: the deductible is used up, the account is empty
    token2, _ = await token_for(nation, auth, "44")
    s2 = (
        await stub.Settle(
            settle_request(token2, terminal.org_id, "r-3", [item("A2", A, 10_000)]), timeout=10
        )
    ).settlement
    assert (s2.fundPay, s2.psnAcctPay, s2.ownPayAmt, s2.deductiblePart) == (7_000, 0, 3_000, 0)


async def test_reversal_restores_once(nation):
    p = insured_in(nation.kit, "44")[1]
    auth = await nation.activated(p, "44")
    stub = settlement_stub(nation, "44")
    token, terminal = await token_for(nation, auth, "44")
    s = (
        await stub.Settle(
            settle_request(token, terminal.org_id, "r-1", [item("A1", A, 20_000)]), timeout=10
        )
    ).settlement
    # 200 yuan: 100 deductible, 100 × 70 % = 70 fund; the account pays 50 of the 130 left
    assert (s.fundPay, s.psnAcctPay, s.ownPayAmt) == (7_000, 5_000, 8_000)

    request = pb.ReverseRequest(
        settlementId=s.settlementId, orgId=terminal.org_id, requestId="undo-1"
    )
    r = (await stub.Reverse(request, timeout=10)).settlement
    assert (
        r.state == pb.SETTLEMENT_STATE_REVERSED
        and r.acctBalance == 5_000
        and r.reverseRequestId == "undo-1"
    )
    twice = (await stub.Reverse(request, timeout=10)).settlement
    assert twice == r
    # another institution may not reverse it; an unknown id is 500014
    await fails(
        stub.Reverse(pb.ReverseRequest(settlementId=s.settlementId, orgId="H99999"), timeout=10), -4
    )
    await fails(stub.Reverse(pb.ReverseRequest(settlementId="44" + "0" * 24), timeout=10), 500014)

    # restored: the same bill settles as the first did
    token2, _ = await token_for(nation, auth, "44")
    s2 = (
        await stub.Settle(
            settle_request(token2, terminal.org_id, "r-2", [item("A1", A, 20_000)]), timeout=10
        )
    ).settlement
    assert (s2.fundPay, s2.psnAcctPay, s2.ownPayAmt, s2.deductiblePart) == (
        7_000,
        5_000,
        8_000,
        10_000,
    )
    acc = await _rows(
        nation.provinces["44"],
        "SELECT deductible_paid, fund_paid FROM accumulators WHERE id_no = ?",
        p.id_no,
    )
    assert acc == [(10_000, 7_000)]


async def test_remote_settlement_through_national(nation):
    # insured in 44, treated in 31: a code shown in 31, scanned in 31, settled by 44
    p = insured_in(nation.kit, "44")[2]
    auth = await nation.activated(p, "31")
    token, terminal = await token_for(nation, auth, "31")
    assert token.startswith("310000ec")
    stub = settlement_stub(nation, "31")
    items = [item("A1", A, 30_000)]
    s = (
        await stub.Settle(settle_request(token, terminal.org_id, "far-1", items), timeout=10)
    ).settlement
    # under 44's (test) policy: 300 − 100 deductible = 200 × 70 % = 140; account 50
    assert (s.fundPay, s.psnAcctPay, s.ownPayAmt) == (14_000, 5_000, 11_000)
    assert s.settledBy == "44" and s.servingProvince == "31"
    _sums(s)

    # both ends keep the record, under one id; only 44's ledger moved
    p31, p44 = nation.provinces["31"], nation.provinces["44"]
    assert await _rows(
        p31, "SELECT kind, state FROM settlements WHERE settlement_id = ?", s.settlementId
    ) == [("serving", "settled")]
    assert await _rows(
        p44, "SELECT kind, state, fund_pay FROM settlements WHERE settlement_id = ?", s.settlementId
    ) == [("insured", "settled", 14_000)]
    assert await _rows(p31, "SELECT count(*) FROM personal_accounts") == [(0,)]
    assert await _rows(p44, "SELECT balance FROM personal_accounts WHERE id_no = ?", p.id_no) == [
        (0,)
    ]

    # a retry of the request: the same answer; at 44, still one settlement
    again = (
        await stub.Settle(settle_request(token, terminal.org_id, "far-1", items), timeout=10)
    ).settlement
    assert again == s
    assert await _rows(p44, "SELECT count(*) FROM settlements") == [(1,)]

    # reversal goes to 44 too, once
    r = (
        await stub.Reverse(
            pb.ReverseRequest(settlementId=s.settlementId, orgId=terminal.org_id), timeout=10
        )
    ).settlement
    assert r.state == pb.SETTLEMENT_STATE_REVERSED and r.acctBalance == 5_000
    assert (
        await stub.Reverse(
            pb.ReverseRequest(settlementId=s.settlementId, orgId=terminal.org_id), timeout=10
        )
    ).settlement == r
    assert await _rows(p44, "SELECT balance FROM personal_accounts WHERE id_no = ?", p.id_no) == [
        (5_000,)
    ]
    assert await _rows(p44, "SELECT state FROM settlements") == [("reversed",)]


async def test_a_routed_scan_token_settles_remotely(nation):
    # a code of 44 scanned in 31 (routed): the token is 31's, the money 44's
    p = insured_in(nation.kit, "44")[3]
    auth = await nation.activated(p, "44")
    token, terminal = await token_for(nation, auth, "31", issued_by="44")
    s = (
        await settlement_stub(nation, "31").Settle(
            settle_request(token, terminal.org_id, "x-1", [item("P1", A, 1_000)]), timeout=10
        )
    ).settlement
    assert s.settledBy == "44" and s.feeSumamt == 1_000
    _sums(s)


async def test_token_rules(nation):
    p = insured_in(nation.kit, "44")[4]
    auth = await nation.activated(p, "44")
    token, terminal = await token_for(nation, auth, "44")
    stub = settlement_stub(nation, "44")
    items = [item("A1", A, 1_000)]
    # each refusal of the token says what is wrong with it, and where to settle instead
    unknown = await fails(
        stub.Settle(
            settle_request("440000ec" + "0" * 30, terminal.org_id, "t-1", items), timeout=10
        ),
        500067,
    )
    assert "province 44 holds no ecToken 440000ec00" in unknown, unknown
    assert "scan the holder's code again" in unknown and "issued by" not in unknown, unknown
    elsewhere = await fails(
        stub.Settle(
            settle_request("310000ec" + "0" * 30, terminal.org_id, "t-1b", items), timeout=10
        ),
        500067,
    )
    assert "was issued by province 31, not 44: settle with province 31" in elsewhere, elsewhere
    garbage = await fails(
        stub.Settle(settle_request("x", terminal.org_id, "t-1c", items), timeout=10), 500067
    )
    assert "'x'" in garbage and "is not an ecToken" in garbage, garbage
    # another institution's orgId: the terminal is not bound to it
    await fails(stub.Settle(settle_request(token, "H-OTHER", "t-2", items), timeout=10), 500100)
    await fails(stub.Settle(settle_request(token, "", "t-3", items), timeout=10), 500098)
    await fails(stub.Settle(settle_request(token, terminal.org_id, "", items), timeout=10), -2)
    await fails(stub.Settle(settle_request(token, terminal.org_id, "t-4", []), timeout=10), -2)
    await fails(
        stub.Settle(settle_request(token, terminal.org_id, "t-5", [item("X", 0, 100)]), timeout=10),
        -2,
    )
    await fails(
        stub.Settle(settle_request(token, terminal.org_id, "t-6", items, med_type=0), timeout=10),
        -2,
    )
    # a token of another province is not this province's to settle
    await fails(
        settlement_stub(nation, "31").Settle(
            settle_request(token, nation.terminals["31"][0].org_id, "t-7", items), timeout=10
        ),
        500067,
    )
    # expired: the token lives 30 minutes (injected clock)
    nation.clocks["44"].advance(1801)
    await fails(
        stub.Settle(settle_request(token, terminal.org_id, "t-8", items), timeout=10), 500067
    )
    # none of the refusals wrote anything
    assert await _rows(nation.provinces["44"], "SELECT count(*) FROM settlements") == [(0,)]


async def test_concurrent_requests_settle_once(nation):
    p = insured_in(nation.kit, "44")[5]
    auth = await nation.activated(p, "44")
    token, terminal = await token_for(nation, auth, "44")
    stub = settlement_stub(nation, "44")
    request = settle_request(token, terminal.org_id, "c-1", [item("A1", A, 50_000)])
    answers = await asyncio.gather(*(stub.Settle(request, timeout=10) for _ in range(8)))
    assert len({a.settlement.settlementId for a in answers}) == 1
    assert await _rows(nation.provinces["44"], "SELECT count(*) FROM settlements") == [(1,)]


async def test_settlement_is_served_by_provinces_only(nation):
    from ecnet.v1 import settlement_service_pb2_grpc

    stub = settlement_service_pb2_grpc.SettlementServiceStub(
        nation.cluster.stubs(nation.kit.national).channel
    )
    await fails(stub.GetSettlement(pb.GetSettlementRequest(settlementId="x"), timeout=10), -5)
    assert nation.provinces["44"].provincial.settlements.province == "44"


async def test_other_insured_province_is_told_after_it_comes_back(nation, cluster):
    # insured in 44 and in 31: a settlement under 44's region is told to 31 (6.3.2 d),
    # through national, even though 31 is down when it happens
    p = next(
        x
        for x in nation.kit.population
        if {r.insu_org[:2] for r in x.insured} == {"44", "31"} and len(x.insured) == 2
    )
    region44 = next(r.insu_org for r in p.insured if r.insu_org.startswith("44"))
    auth = await nation.activated(p, "44")
    code = await nation.issue("44", auth, insu_org=region44)
    scanner = nation.scanner("44")
    token = (await scanner.query(code)).ecToken

    p31 = nation.provinces["31"]
    await p31.stop(grace=0)
    cluster.nodes.remove(p31)
    stub = settlement_stub(nation, "44")
    s = (
        await stub.Settle(
            settle_request(token, scanner.terminal.org_id, "multi-1", [item("A1", A, 12_345)]),
            timeout=10,
        )
    ).settlement
    assert s.insuOrg == region44 and s.settledBy == "44"

    nation.provinces["31"] = await cluster.start(
        cluster.config("provincial", "31", extra=dict(nation.kit.extra)), nation.clocks["31"]
    )
    # a person's notices are the insured province's records: its operator reads them
    notices_stub = settlement_service_pb2_grpc.SettlementServiceStub(
        cluster.stubs(nation.provinces["31"]).channel
    )

    async def told():
        got = await notices_stub.ListNotices(
            pb.ListNoticesRequest(idType=p.id_type, idNo=p.id_no), timeout=10
        )
        return list(got.notices)

    notices = await eventually(told, what="the notice at 31")
    assert [(n.settlementId, n.settledBy, n.insuOrg, n.feeSumamt, n.state) for n in notices] == [
        (s.settlementId, "44", region44, 12_345, pb.SETTLEMENT_STATE_SETTLED)
    ]
    assert notices[0].fundPay == s.fundPay and notices[0].psnAcctPay == s.psnAcctPay


async def test_a_dropped_response_is_retried_into_the_same_settlement(nation):
    p = insured_in(nation.kit, "44")[6]
    auth = await nation.activated(p, "31")
    stub = settlement_stub(nation, "31")

    async def recorded_at_31(request_id: str) -> bool:
        return await _rows(
            nation.provinces["31"],
            "SELECT count(*) FROM settlements WHERE request_id = ?",
            request_id,
        ) == [(1,)]

    # The caller gives up before the answer (a dropped response) while the work goes on:
    # 31 has recorded the settlement (pending, or settled by 44, depending on how far it
    # got before the call was cancelled). Whether a given deadline lets the request out
    # at all depends on the machine, so longer ones are tried until one does.
    for n, timeout in enumerate((0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16)):
        token, terminal = await token_for(nation, auth, "31")
        request = settle_request(token, terminal.org_id, f"drop-{n}", [item("A1", A, 40_000)])
        try:
            await stub.Settle(request, timeout=timeout)
            continue  # answered in time: nothing was dropped
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED), exc
        with contextlib.suppress(AssertionError):
            await eventually(
                lambda r=request: recorded_at_31(r.requestId), timeout=2, what="the record at 31"
            )
            break
    else:
        pytest.fail("no deadline dropped a response after its request arrived")

    first = (await stub.Settle(request, timeout=10)).settlement
    second = (await stub.Settle(request, timeout=10)).settlement
    assert (
        first == second
        and first.state == pb.SETTLEMENT_STATE_SETTLED
        and first.requestId == request.requestId
    )
    assert await _rows(
        nation.provinces["44"],
        "SELECT count(*) FROM settlements WHERE request_id = ?",
        request.requestId,
    ) == [(1,)]
    assert await _rows(
        nation.provinces["31"],
        "SELECT count(*) FROM settlements WHERE request_id = ?",
        request.requestId,
    ) == [(1,)]


async def test_data_changed_since_the_scan_asks_for_a_new_scan(nation):
    # the token was issued for region R; the insured regions change before the bill is
    # settled: 44 refuses with its fresh data (6.3.2 c), 31 says scan again
    p = next(x for x in insured_in(nation.kit, "44") if x.insured[0].insu_org != "440300")
    auth = await nation.activated(p, "31")
    token, terminal = await token_for(nation, auth, "31")
    changed = await update_person(
        nation.kit, p, insuredRegions=[common_pb2.InsuredRegion(insuOrg="440300", insuType="390")]
    )

    async def applied():
        m = await nation.provinces["44"].store.get_by_auth_code(auth)
        return m.voucher.version >= changed.version

    await eventually(applied, what="the change at 44")
    stub = settlement_stub(nation, "31")
    message = await fails(
        stub.Settle(
            settle_request(token, terminal.org_id, "chg-1", [item("A1", A, 1_000)]), timeout=10
        ),
        500023,
    )
    assert "scan a new code" in message
    # nothing is left half-written, and 31's copy is the fresh one
    assert await _rows(nation.provinces["31"], "SELECT count(*) FROM settlements") == [(0,)]
    assert await _rows(nation.provinces["44"], "SELECT count(*) FROM settlements") == [(0,)]
    cached = (await nation.provinces["31"].store.get_by_auth_code(auth)).voucher
    assert cached.version == changed.version


async def test_the_personal_account_is_credited_once_a_year(nation):
    """The yearly injection (50 yuan in the test policy): at the account's opening, then
    at the first settlement of each later year, one per year passed."""
    p = insured_in(nation.kit, "44")[5]
    auth = await nation.activated(p, "44")
    stub = settlement_stub(nation, "44")

    async def settle(request_id: str, amount: int) -> pb.Settlement:
        token, terminal = await token_for(nation, auth, "44")
        return (
            await stub.Settle(
                settle_request(token, terminal.org_id, request_id, [item("A1", A, amount)]),
                timeout=10,
            )
        ).settlement

    # 200 yuan: 100 deductible, 70 fund; the account pays 50 of the 130 left
    first = await settle("y0", 20_000)
    assert (first.psnAcctPay, first.acctBalance) == (5_000, 0)
    assert (await settle("y0b", 20_000)).psnAcctPay == 0  # the same year: nothing more

    nation.clocks["44"].advance(366 * 86_400)  # the next year
    s = await settle("y1", 20_000)
    assert (s.psnAcctPay, s.acctBalance, s.deductiblePart) == (
        5_000,
        0,
        10_000,
    )  # a new year's deductible too

    nation.clocks["44"].advance(3 * 366 * 86_400)  # three years later, no settlement between
    s = await settle("y4", 1_000)  # within the deductible: the account pays all of it
    assert (s.psnAcctPay, s.acctBalance) == (1_000, 3 * 5_000 - 1_000)
    # a reversal gives the money back, and credits no year again
    r = (
        await stub.Reverse(
            pb.ReverseRequest(settlementId=s.settlementId, orgId=s.orgId, requestId="u"), timeout=10
        )
    ).settlement
    assert r.acctBalance == 3 * 5_000
