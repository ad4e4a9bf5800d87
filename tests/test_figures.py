"""The management center's figures (AdminService/GetFigures, GetInstitutionDay) at real
nodes: national gathers every province's counts (FederationService/CollectFigures) and
its own; the figures are the records' own (scans, settlements and their sums, codes,
activations) and the calls counted per code and caller; a province that does not answer
is named, a province operator sees its province only, and the federation calls answer
national only."""

from __future__ import annotations

import csv
import datetime
import time
from collections import Counter

import grpc
import pytest
from clikit import readme_session
from scankit import insured_in
from settlekit import A, B, C, item, start_settle_nation
from test_settlement_day import Desk, two_institutions
from voucherkit import fails

from ecnet.v1 import admin_service_pb2 as apb
from ecnet.v1 import federation_service_pb2 as fpb
from ecnet.v1 import settlement_service_pb2 as spb
from ecnet.v1 import settlement_service_pb2_grpc
from node.pki import Identity

CST = datetime.timezone(datetime.timedelta(hours=8))
P44 = Identity.operator("sun", duty="p44")
P31 = Identity.operator("zhou", duty="p31")
FIELDS = ("feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt")
K = fpb.FigureKind


def days() -> tuple[str, str]:
    """Yesterday and tomorrow in China Standard Time: the test's hours, whenever it runs."""
    today = datetime.datetime.now(CST).date()
    one = datetime.timedelta(days=1)
    return (today - one).isoformat(), (today + one).isoformat()


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_settle_nation(cluster, tmp_path, ("44", "31"))


async def figures(nation, who="operator", **kw) -> apb.GetFiguresResponse:
    first, last = days()
    admin = nation.cluster.stubs(nation.kit.national, as_=who).admin
    return await admin.GetFigures(
        apb.GetFiguresRequest(fromDate=first, toDate=last, **kw), timeout=20
    )


def tally(rows, kind: int, *keys: str) -> Counter:
    """Count (and sums) per key of the rows of ``kind``."""
    out: Counter = Counter()
    for r in rows:
        if r.kind != kind:
            continue
        key = tuple(getattr(r, k) for k in keys)
        out[(key, "count")] += r.count
        for f in FIELDS:
            out[(key, f)] += getattr(r, f)
    return out


def sums(*settlements) -> dict:
    return {f: sum(getattr(s, f) for s in settlements) for f in FIELDS}


def minus(after: Counter, before: Counter) -> Counter:
    out = Counter(after)
    out.subtract(before)
    return Counter({k: v for k, v in out.items() if v})


async def test_national_gathers_figures_that_add_up(nation):
    tx, ty = two_institutions(nation, "44")
    x = Desk(nation, "44", tx)
    local = insured_in(nation.kit, "44")[0]
    far = next(p for p in insured_in(nation.kit, "31") if p not in insured_in(nation.kit, "44"))
    before = await figures(nation, lastSeenOf=[tx.terminal_id])
    assert not before.missing and not before.lastSeen  # tx has not called yet

    auth = await nation.activated(local, "44")
    auth_far = await nation.activated(far, "44")
    bill = [item("A1", A, 30_000), item("B1", B, 5_000, 2), item("C1", C, 2_000)]
    local_done = [await x.settle(auth, bill) for _ in range(3)]
    far_done = [await x.settle(auth_far, [item("A2", A, 12_000)]) for _ in range(2)]
    assert {s.settledBy for s in far_done} == {"31"}
    undone = await x.reverse(local_done[0])
    # a refused settlement: a token used already
    with pytest.raises(grpc.RpcError):
        await x.stub.Settle(
            spb.SettleRequest(
                ecToken="0" * 32, orgId=x.org, requestId="bad-1", medType=1, items=bill
            ),
            timeout=10,
        )

    after = await figures(nation, lastSeenOf=[tx.terminal_id, ty.terminal_id])
    assert not after.missing
    assert [s.caller for s in after.lastSeen] == [tx.terminal_id]
    assert abs(after.lastSeen[0].lastAt.ToMilliseconds() / 1000 - time.time()) < 60

    # scans and settlements at the serving province, by the insured province
    scans = minus(
        tally(after.rows, K.FIGURE_KIND_SCAN, "province", "peerProvince"),
        tally(before.rows, K.FIGURE_KIND_SCAN, "province", "peerProvince"),
    )
    assert scans[(("44", "44"), "count")] == 3 and scans[(("44", "31"), "count")] == 2
    settled = minus(
        tally(after.rows, K.FIGURE_KIND_SETTLEMENT, "province", "peerProvince"),
        tally(before.rows, K.FIGURE_KIND_SETTLEMENT, "province", "peerProvince"),
    )
    assert settled[(("44", "44"), "count")] == 3 and settled[(("44", "31"), "count")] == 2
    for f, v in sums(*local_done).items():
        assert settled[(("44", "44"), f)] == v
    for f, v in sums(*far_done).items():
        assert settled[(("44", "31"), f)] == v
    # 31 settled the remote ones as the insured province: not counted again there
    assert not any(k[0][0] == "31" for k in settled)
    reversed_ = minus(
        tally(after.rows, K.FIGURE_KIND_REVERSAL, "province"),
        tally(before.rows, K.FIGURE_KIND_REVERSAL, "province"),
    )
    assert reversed_[(("44",), "count")] == 1
    assert reversed_[(("44",), "feeSumamt")] == undone.feeSumamt
    # the codes displayed, per issuing province and channel
    codes = minus(
        tally(after.rows, K.FIGURE_KIND_QR_CODE, "province"),
        tally(before.rows, K.FIGURE_KIND_QR_CODE, "province"),
    )
    assert codes[(("44",), "count")] == 5
    # national's activations, by channel and the person's insured province
    activations = minus(
        tally(after.rows, K.FIGURE_KIND_ACTIVATION, "province"),
        tally(before.rows, K.FIGURE_KIND_ACTIVATION, "province"),
    )
    assert activations[(("",), "count")] == 2
    # the calls of the terminal, answered and refused, by method and code
    calls = minus(
        tally(after.rows, K.FIGURE_KIND_CALL, "province", "terminal", "method", "code"),
        tally(before.rows, K.FIGURE_KIND_CALL, "province", "terminal", "method", "code"),
    )
    settle = "/ecnet.v1.SettlementService/Settle"
    assert calls[(("44", tx.terminal_id, settle, 0), "count")] == 5
    refused = [k for k in calls if k[0][2] == settle and k[0][3] != 0 and k[1] == "count"]
    assert len(refused) == 1 and calls[refused[0]] == 1


async def test_a_province_that_does_not_answer_is_named_and_the_rest_answered(nation):
    await nation.provinces["31"].stop()
    got = await figures(nation)
    assert [m.province for m in got.missing] == ["31"]
    assert "stopped" in got.missing[0].reason or "down" in got.missing[0].reason
    assert any(r.province == "44" for r in got.rows)


async def test_a_province_operator_sees_its_own_province_only(nation):
    x = Desk(nation, "44", two_institutions(nation, "44")[0])
    auth = await nation.activated(insured_in(nation.kit, "44")[0], "44")
    await x.settle(auth, [item("A1", A, 1_000)])
    mine = await figures(nation, P44)
    assert mine.rows and all("44" in (r.province, r.peerProvince) for r in mine.rows)
    await fails(figures(nation, P44, province="31"), -4)
    # the institution's day: its own province only
    first, _ = days()
    today = datetime.datetime.now(CST).date().isoformat()
    admin = nation.cluster.stubs(nation.kit.national).admin
    day = await admin.GetInstitutionDay(
        apb.GetInstitutionDayRequest(orgId=x.org, date=today), timeout=20
    )
    assert day.province == "44" and day.statement.orgId == x.org
    assert day.statement.total.settled.count >= 1
    assert all("*" in s.userName for s in day.settlements)  # masked
    # as the province answers its own statement
    province = settlement_service_pb2_grpc.SettlementServiceStub(
        nation.cluster.stubs(nation.provinces["44"]).channel
    )
    own = await province.GetDayStatement(
        spb.GetDayStatementRequest(orgId=x.org, date=today), timeout=10
    )
    assert own.statement == day.statement
    other = nation.cluster.stubs(nation.kit.national, as_=P31).admin
    await fails(
        other.GetInstitutionDay(apb.GetInstitutionDayRequest(orgId=x.org, date=today), timeout=10),
        -4,
    )


async def test_bad_days_are_refused_with_a_sentence(nation):
    admin = nation.cluster.stubs(nation.kit.national).admin
    for first, last, said in (
        ("2026-13-01", "2026-12-01", "fromDate"),
        ("2026-12-02", "2026-12-01", "before"),
        ("2026-01-01", "2026-12-31", "at most 92"),
    ):
        said_back = await fails(
            admin.GetFigures(apb.GetFiguresRequest(fromDate=first, toDate=last), timeout=10),
            -2,
        )
        assert said in said_back


async def test_collect_figures_answers_national_only(nation):
    first, last = days()
    ask = fpb.CollectFiguresRequest(fromDate=first, toDate=last)
    as31 = nation.cluster.stubs(nation.provinces["44"], as_="p31").federation
    await fails(as31.CollectFigures(ask, timeout=10), -4)
    operator = nation.cluster.stubs(nation.provinces["44"]).federation
    await fails(operator.CollectFigures(ask, timeout=10), -4)
    at_national = nation.cluster.stubs(nation.kit.national, as_="p44").federation
    await fails(at_national.CollectFigures(ask, timeout=10), -5)
    national = nation.cluster.stubs(nation.provinces["44"], as_="national").federation
    got = await national.CollectFigures(ask, timeout=10)
    assert all(r.province == "44" for r in got.rows)


async def test_the_readme_figures_session_runs_as_written(cluster, tmp_path):
    rc, out, err = await readme_session(cluster, tmp_path, "Figures and reports")
    assert rc == 0, err + out
    assert "NHSA-OFFICIAL" in out and "province" in out
    lines = list(csv.DictReader((tmp_path / "work" / "today.csv").read_text().splitlines()))
    assert list(lines[0])[-1] == "reversed_own_pay_fen"  # one line per record, unwrapped
    mine = [x for x in lines if x["province"] == "44"]
    assert len(mine) == 1
    assert (mine[0]["activations"], mine[0]["authorizations"], mine[0]["qr_codes"]) == (
        "1",
        "1",
        "1",
    )
