"""The day's reconciliation (对账) at real nodes: an institution's settlements of a day
(ListDaySettlements, paged) and the day's statement (GetDayStatement) of an institution
and of its province, local and remote (异地, through national) apart, with reversals;
the day is a calendar day in China Standard Time, on the provinces' injected clocks."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import time
from decimal import Decimal

import grpc
import pytest
from clikit import ecnet, readme_session, write_nation
from scankit import Scanner, eventually, insured_in
from settlekit import (
    A,
    B,
    C,
    item,
    settle_request,
    settlement_stub,
    start_settle_nation,
    token_for,
)
from voucherkit import fails

from cli.settle import yuan
from ecnet.v1 import settlement_service_pb2 as pb
from ecnet.v1 import settlement_service_pb2_grpc
from node.storage.settlement import q_day_settlements, q_day_totals

CST = datetime.timezone(datetime.timedelta(hours=8))
FIELDS = ("feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt")


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_settle_nation(cluster, tmp_path, ("44", "31"), fake_clock=("44", "31"))


def midnight_after(t: float) -> tuple[str, int]:
    """(the CST day of ``t``, the ms of the next CST midnight)."""
    day = datetime.datetime.fromtimestamp(t, CST).date()
    nxt = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), CST)
    return day.isoformat(), int(nxt.timestamp()) * 1000


def set_clocks(nation, ms: int) -> None:
    # the serving and the insured province agree on the time (a remote settlement's
    # settledAt is the insured province's)
    for clock in nation.clocks.values():
        clock.t = ms / 1000 + 0.0004  # now_ms() truncates to ms


def two_institutions(nation, province: str) -> tuple:
    """Two terminals of ``province`` of different institutions."""
    terminals = nation.terminals[province]
    first = terminals[0]
    other = next(t for t in terminals if t.org_id != first.org_id)
    return first, other


class Desk:
    """An institution's settlement desk: scans with its terminal, settles, reverses."""

    def __init__(self, nation, province: str, terminal) -> None:
        self.nation = nation
        self.province = province
        self.terminal = terminal
        self.org = terminal.org_id
        self.scanner = Scanner(nation.cluster, nation.provinces[province], terminal)
        self.stub = settlement_stub(nation, province, terminal)
        self.n = 0

    async def settle(self, auth: str, items) -> pb.Settlement:
        for clock in self.nation.clocks.values():
            clock.advance(1)  # a second between businesses: the list's order is time's
        code = await self.nation.issue(self.province, auth)
        token = (await self.scanner.query(code)).ecToken
        self.n += 1
        request = settle_request(token, self.org, f"{self.org}-{self.n}", items)
        return (await self.stub.Settle(request, timeout=15)).settlement

    async def reverse(self, s: pb.Settlement) -> pb.Settlement:
        for clock in self.nation.clocks.values():
            clock.advance(1)
        request = pb.ReverseRequest(settlementId=s.settlementId, orgId=self.org)
        return (await self.stub.Reverse(request, timeout=15)).settlement


def totals(*settlements: pb.Settlement) -> pb.Totals:
    return pb.Totals(
        count=len(settlements),
        **{f: sum(getattr(s, f) for s in settlements) for f in FIELDS},
    )


def minus(a: pb.Totals, b: pb.Totals) -> pb.Totals:
    return pb.Totals(count=a.count - b.count, **{f: getattr(a, f) - getattr(b, f) for f in FIELDS})


def part(settled: list, reversed_: list) -> pb.StatementPart:
    s, r = totals(*settled), totals(*reversed_)
    return pb.StatementPart(settled=s, reversed=r, net=minus(s, r))


def add(*parts: pb.StatementPart) -> pb.StatementPart:
    out = pb.StatementPart()
    for p in parts:
        for name in ("settled", "reversed", "net"):
            acc, more = getattr(out, name), getattr(p, name)
            acc.count += more.count
            for f in FIELDS:
                setattr(acc, f, getattr(acc, f) + getattr(more, f))
    return out


def operator_stub(nation, province: str) -> settlement_service_pb2_grpc.SettlementServiceStub:
    """SettlementService of ``province`` as the management center's administrator, who
    reads every institution's day and the province's (a terminal reads its own only)."""
    channel = nation.cluster.stubs(nation.provinces[province]).channel
    return settlement_service_pb2_grpc.SettlementServiceStub(channel)


async def statement(nation, province: str, date: str, org: str = "") -> pb.GetDayStatementResponse:
    return await operator_stub(nation, province).GetDayStatement(
        pb.GetDayStatementRequest(orgId=org, date=date), timeout=10
    )


async def listed(nation, province: str, org: str, date: str, page: int = 2) -> list:
    """Every page of the day's list, in order."""
    stub, token, rows = operator_stub(nation, province), "", []
    while True:
        got = await stub.ListDaySettlements(
            pb.ListDaySettlementsRequest(orgId=org, date=date, pageSize=page, pageToken=token),
            timeout=10,
        )
        assert len(got.settlements) <= page
        rows += got.settlements
        token = got.nextPageToken
        if not token:
            return rows


async def test_day_statement_of_institutions_and_province(nation):
    day, midnight = midnight_after(time.time())
    next_day = (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()
    set_clocks(nation, midnight - 600_000)  # 23:50 Beijing time

    tx, ty = two_institutions(nation, "44")
    x, y = Desk(nation, "44", tx), Desk(nation, "44", ty)
    local1, local2 = insured_in(nation.kit, "44")[:2]
    far = insured_in(nation.kit, "31")[0]
    auth1 = await nation.activated(local1, "44")
    auth2 = await nation.activated(local2, "44")
    auth_far = await nation.activated(far, "44")

    bill = [item("A1", A, 30_000), item("B1", B, 5_000, 2), item("C1", C, 2_000)]
    x1 = await x.settle(auth1, bill)
    x2 = await x.settle(auth1, [item("A2", A, 10_000)])
    x3 = await x.settle(auth_far, bill)  # 异地: settled by 31 through national
    assert x3.settledBy == "31" and x3.servingProvince == "44"
    x2r = await x.reverse(x2)  # reversed the same day
    y1 = await y.settle(auth2, [item("A1", A, 25_000)])
    # the last millisecond of the day, then the first of the next
    set_clocks(nation, midnight - 1001)
    y2 = await y.settle(auth2, [item("C9", C, 1_234)])
    set_clocks(nation, midnight - 1000)
    x4 = await x.settle(auth1, [item("A3", A, 4_000)])
    assert x4.settledAt.ToMilliseconds() == midnight
    assert y2.settledAt.ToMilliseconds() == midnight - 1

    # the institutions' statements of the day
    sx = (await statement(nation, "44", day, x.org)).statement
    assert (sx.date, sx.province, sx.orgId, sx.pendingCount) == (day, "44", x.org, 0)
    assert sx.local == part([x1, x2], [x2r])
    assert sx.remote == part([x3], [])
    assert sx.total == part([x1, x2, x3], [x2r])
    assert sx.total.net.feeSumamt == x1.feeSumamt + x3.feeSumamt
    assert (sx.dayStart.ToMilliseconds(), sx.dayEnd.ToMilliseconds()) == (
        midnight - 86_400_000,
        midnight,
    )
    sy = (await statement(nation, "44", day, y.org)).statement
    assert sy.local == part([y1, y2], []) and sy.remote == part([], [])

    # the province's statement: the sum of its institutions', which it lists
    whole = await statement(nation, "44", day)
    assert whole.statement.orgId == "" and whole.statement.province == "44"
    assert list(whole.institutions) == sorted([sx, sy], key=lambda s: s.orgId)
    for name in ("local", "remote", "total"):
        assert getattr(whole.statement, name) == add(getattr(sx, name), getattr(sy, name))
    assert whole.statement.remote.settled.count == 1 and whole.statement.local.reversed.count == 1
    # 31 settled x3 as the insured province: not an institution of 31's to reconcile
    at31 = await statement(nation, "31", day)
    assert at31.statement.total == part([], []) and not at31.institutions

    # the lists behind them, paged, in time order
    rows = await listed(nation, "44", x.org, day)
    assert [r.settlementId for r in rows] == [s.settlementId for s in (x1, x2, x3)]
    by_id = {r.settlementId: r for r in rows}
    assert by_id[x2.settlementId].state == pb.SETTLEMENT_STATE_REVERSED
    assert by_id[x2.settlementId].reversedAt == x2r.reversedAt
    r3 = by_id[x3.settlementId]
    assert (r3.locality, r3.insuredProvince, r3.userName, r3.settledBy) == (
        pb.LOCALITY_REMOTE,
        "31",
        far.user_name,
        "31",
    )
    r1 = by_id[x1.settlementId]
    assert (r1.locality, r1.insuredProvince, r1.userName, r1.state, r1.orgId) == (
        pb.LOCALITY_LOCAL,
        "44",
        local1.user_name,
        pb.SETTLEMENT_STATE_SETTLED,
        x.org,
    )
    assert (r1.feeSumamt, r1.fundPay, r1.psnAcctPay, r1.ownPayAmt) == (
        x1.feeSumamt,
        x1.fundPay,
        x1.psnAcctPay,
        x1.ownPayAmt,
    )
    assert r1.medType == pb.MEDICAL_TYPE_OUTPATIENT and r1.settledAt == x1.settledAt
    assert [r.settlementId for r in await listed(nation, "44", y.org, day, page=1)] == [
        y1.settlementId,
        y2.settlementId,
    ]

    # the next day: x1 reversed then counts there; the closed day does not change
    x1r = await x.reverse(x1)
    assert (await statement(nation, "44", day, x.org)).statement == sx
    assert (await statement(nation, "44", day)).statement == whole.statement
    nx = (await statement(nation, "44", next_day, x.org)).statement
    assert nx.local == part([x4], [x1r]) and nx.remote == part([], [])
    assert nx.local.net.feeSumamt == x4.feeSumamt - x1.feeSumamt
    rows = await listed(nation, "44", x.org, next_day, page=1)
    assert [(r.settlementId, r.state) for r in rows] == [
        (x4.settlementId, pb.SETTLEMENT_STATE_SETTLED),
        (x1.settlementId, pb.SETTLEMENT_STATE_REVERSED),
    ]
    assert not await listed(nation, "44", y.org, next_day)


async def test_bad_input_is_refused_with_a_sentence(nation):
    stub = operator_stub(nation, "44")
    org = nation.terminals["44"][0].org_id

    def lst(**kw):
        return stub.ListDaySettlements(pb.ListDaySettlementsRequest(**kw), timeout=10)

    for date in ("", "2026-13-01", "20261201", "2026-02-30", "2026-1-05", "today"):
        message = await fails(lst(orgId=org, date=date), -2)
        assert "YYYY-MM-DD" in message
        await fails(stub.GetDayStatement(pb.GetDayStatementRequest(date=date), timeout=10), -2)
    for bad in ("", "H123", org + "0"):
        message = await fails(lst(orgId=bad, date="2026-12-01"), -2)
        assert "12" in message and "orgId" in message
    await fails(
        stub.GetDayStatement(pb.GetDayStatementRequest(orgId="H1", date="2026-12-01"), timeout=10),
        -2,
    )
    await fails(lst(orgId=org, date="2026-12-01", pageSize=-1), -2)
    other = next(t.org_id for t in nation.terminals["44"] if t.org_id != org)
    start = int(datetime.datetime(2026, 12, 1, tzinfo=CST).timestamp()) * 1000
    for token in (
        "garbage",
        f"{other}:{start}:{'4' * 26}",  # another institution's
        f"{org}:{start - 1}:{'4' * 26}",  # another day's
    ):
        message = await fails(lst(orgId=org, date="2026-12-01", pageToken=token), -2)
        assert "pageToken" in message
    # a good token of an empty day: nothing after it
    got = await lst(orgId=org, date="2026-12-01", pageToken=f"{org}:{start}:{'4' * 26}")
    assert not got.settlements and not got.nextPageToken


async def test_the_list_finds_the_day_by_index(nation):
    """The day's list and sums read the ledger by (org, time) indexes, not by scanning."""
    node = nation.provinces["44"]

    def plans(conn):
        seen: list[str] = []
        original = conn.execute

        class Spy:
            def execute(self, sql, args=()):
                if sql in ("BEGIN", "COMMIT"):
                    return original(sql)
                seen.extend(r[3] for r in original(f"EXPLAIN QUERY PLAN {sql}", args).fetchall())
                return original(sql, args)

        q_day_settlements(Spy(), "H44010091111", 0, 86_400_000, None, 10)
        q_day_totals(Spy(), "H44010091111", 0, 86_400_000)
        q_day_totals(Spy(), None, 0, 86_400_000)
        return seen

    seen = await node.store.db.read(plans)
    scans = [s for s in seen if s.startswith("SCAN settlements")]
    assert not scans, seen
    assert any("settlements_by_org_day" in s for s in seen), seen
    assert any("settlements_reversed_by_org_day" in s for s in seen), seen
    assert any("settlements_by_day" in s for s in seen), seen


async def test_the_cli_lists_and_states_the_day(nation, tmp_path):
    day, midnight = midnight_after(time.time())
    set_clocks(nation, midnight - 3_600_000)
    data = write_nation(tmp_path / "nation", *nation.provinces.values())
    tx, ty = two_institutions(nation, "44")
    x, y = Desk(nation, "44", tx), Desk(nation, "44", ty)
    here, far = insured_in(nation.kit, "44")[0], insured_in(nation.kit, "31")[0]
    auth, auth_far = await nation.activated(here, "44"), await nation.activated(far, "44")
    x1 = await x.settle(auth, [item("A1", A, 30_000), item("C1", C, 2_000)])
    x2 = await x.settle(auth_far, [item("A1", A, 20_000)])
    y1 = await y.settle(auth, [item("A2", A, 5_000)])
    await y.reverse(y1)
    where = ["--data", str(data), "--date", day]

    # the list: province from the orgId, amounts in yuan, the remote row marked
    rc, out, err = await ecnet("settlement", "list", "--org", x.org, *where)
    assert rc == 0, err
    assert x1.settlementId in out and x2.settlementId in out and y1.settlementId not in out
    line = next(ln for ln in out.splitlines() if x2.settlementId in ln)
    assert "remote" in line and far.user_name in line and "31 上海市" in line
    assert yuan(x2.fundPay) in line and yuan(x2.ownPayAmt) in line
    # one page at a time, then --all; --json is the node's answer
    rc, out, err = await ecnet("settlement", "list", "--org", x.org, *where, "--page-size", "1")
    assert rc == 0 and "--page-token" in out, err
    token = out.rsplit("--page-token ", 1)[1].split()[0]
    rc, out, err = await ecnet(
        "settlement",
        "list",
        "--org",
        x.org,
        *where,
        "--page-size",
        "1",
        "--page-token",
        token,
        "--json",
    )
    assert rc == 0, err
    page = json.loads(out)
    assert [r["settlementId"] for r in page["settlements"]] == [x2.settlementId]
    assert page["settlements"][0]["locality"] == "LOCALITY_REMOTE" and "nextPageToken" not in page
    rc, out, err = await ecnet(
        "settlement", "list", "--org", x.org, *where, "--page-size", "1", "--all", "--json"
    )
    assert [r["settlementId"] for r in json.loads(out)["settlements"]] == [
        x1.settlementId,
        x2.settlementId,
    ]

    # the statement: table, JSON and CSV agree with the settlements
    rc, out, err = await ecnet("settlement", "statement", "--org", y.org, *where)
    assert rc == 0, err
    cells = [ln.replace("│", " ").split() for ln in out.splitlines()]
    rows = {tuple(c[:2]): c[2:] for c in cells if len(c) == 7}
    assert rows[("local", "settled")] == ["1", *(yuan(getattr(y1, f)) for f in FIELDS)]
    assert rows[("local", "reversed")] == ["1", *(yuan(getattr(y1, f)) for f in FIELDS)]
    assert rows[("total", "net")] == ["0", "0.00", "0.00", "0.00", "0.00"]
    rc, out, err = await ecnet("settlement", "statement", "--org", x.org, *where, "--json")
    assert rc == 0, err
    got = json.loads(out)["statement"]
    assert got["orgId"] == x.org and got["date"] == day
    assert got["remote"]["settled"] == {"count": "1", **{f: str(getattr(x2, f)) for f in FIELDS}}
    assert int(got["local"]["net"]["feeSumamt"]) == x1.feeSumamt

    rc, out, err = await ecnet("settlement", "statement", "--province", "44", *where, "--csv")
    assert rc == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert table[0].keys() >= {"date", "province", "orgId", "scope", "part", "count"}
    net = {
        (r["orgId"], r["scope"]): r for r in table if r["part"] == "net"
    }  # the province's rows (orgId "") and each institution's
    assert set(org for org, _ in net) == {"", x.org, y.org}
    for scope in ("local", "remote", "total"):
        for f in ("count", *(f"{m} (yuan)" for m in FIELDS)):
            whole = Decimal(net[("", scope)][f])
            assert whole == Decimal(net[(x.org, scope)][f]) + Decimal(net[(y.org, scope)][f])
    assert net[("", "total")]["feeSumamt (yuan)"] == yuan(x1.feeSumamt + x2.feeSumamt)

    # bad input: a C.4 code and a sentence
    rc, out, err = await ecnet(
        "settlement", "list", "--org", x.org, "--data", str(data), "--date", "2026-02-30"
    )
    assert rc == 1 and "error -2:" in err and "YYYY-MM-DD" in err
    rc, out, err = await ecnet(
        "settlement",
        "statement",
        "--org",
        "H1",
        "--province",
        "44",
        "--data",
        str(data),
        "--date",
        day,
    )
    assert rc == 1 and "error -2:" in err and "12" in err
    rc, out, err = await ecnet("settlement", "list", "--org", x.org, *where, "--page-token", "x1")
    assert rc == 1 and "error -2:" in err and "pageToken" in err


async def test_the_readme_reconcile_session_runs_as_written(cluster, tmp_path):
    rc, out, err = await readme_session(cluster, tmp_path, "Reconcile a day", timeout=240)
    assert rc == 0, err + out
    # the CSV: the province's rows first (orgId empty), then each institution's, whose
    # sums are the province's; one remote settlement, one reversal
    table = list(csv.reader((tmp_path / "work" / "day.csv").read_text().splitlines()))[1:]
    net = {(r[2], r[3]): r[5:] for r in table if r[4] == "net"}
    orgs = {org for org, _ in net} - {""}
    assert len(orgs) == 2
    for scope in ("local", "remote", "total"):
        for i in range(5):
            assert Decimal(net[("", scope)][i]) == sum(Decimal(net[(o, scope)][i]) for o in orgs)
    settled = {(r[2], r[3]): r[5] for r in table if r[4] == "settled"}
    assert settled[("", "remote")] == "1" and settled[("", "local")] == "2"
    assert [r[5] for r in table if r[2] == "" and r[3] == "total" and r[4] == "reversed"] == ["1"]
    assert "remote 异地" in out and "31 上海市" in out and "汪建岩" in out
    assert '"statement": {' in out and '"remote": {' in out
    # grpcurl: a page of one and its token, the province's statement, a bad date
    assert re.search(r'"nextPageToken": "H\d{11}:\d+:44\d{24}"', out)
    whole = json.loads((tmp_path / "work" / "province.json").read_text())
    assert whole["statement"]["total"]["settled"]["count"] == "3"
    assert len(whole["institutions"]) == 2
    assert "is not a calendar day written YYYY-MM-DD" in err and '"code":"-2"' in err


async def test_a_pending_remote_settlement_is_counted_apart_until_confirmed(cluster, tmp_path):
    sk = await start_settle_nation(cluster, tmp_path, ("44", "31"), extra={"settle_deadline": "1"})
    p = insured_in(sk.kit, "44")[0]
    auth = await sk.activated(p, "31")
    token, terminal = await token_for(sk, auth, "31")
    org = terminal.org_id
    p44 = sk.provinces["44"]
    await p44.stop(grace=0)
    cluster.nodes.remove(p44)
    stub = settlement_stub(sk, "31")
    request = settle_request(token, org, "late-1", [item("A1", A, 20_000)])
    await fails(stub.Settle(request, timeout=10), -3)
    sid = await sk.provinces["31"].store.db.read(
        lambda conn: conn.execute("SELECT settlement_id FROM settlements").fetchone()[0]
    )
    day = f"{sid[2:6]}-{sid[6:8]}-{sid[8:10]}"  # the serving province's day of the request

    mine = (await statement(sk, "31", day, org)).statement
    assert mine.pendingCount == 1 and mine.total == part([], [])
    whole = await statement(sk, "31", day)
    assert whole.statement.pendingCount == 1 and [s.orgId for s in whole.institutions] == [org]
    assert not await listed(sk, "31", org, day)

    # 44 is back: the retry settles it, and the day counts it as remote
    sk.provinces["44"] = await cluster.start(
        cluster.config("provincial", "44", extra=dict(sk.kit.extra))
    )

    async def settled():
        try:
            return (await stub.Settle(request, timeout=15)).settlement
        except grpc.aio.AioRpcError:
            return None  # -3 until 44 has registered with national again

    s = await eventually(settled, what="the retried settlement")
    assert s.state == pb.SETTLEMENT_STATE_SETTLED and s.settlementId == sid
    mine = (await statement(sk, "31", day, org)).statement
    assert mine.pendingCount == 0 and mine.remote == part([s], []) and mine.local == part([], [])
    assert [r.settlementId for r in await listed(sk, "31", org, day)] == [sid]
