"""The console's Flows and Reports pages at real nodes: settlements made at a province's
terminals appear, counted once, on the flows page (per hour, in the cross-province
matrix), in the daily report with their fund / personal-account / own-pay sums, in the
report's CSV file (byte for byte what ``ecnet report daily --csv`` prints) and in
``ecnet report daily``; a refused call is counted by its C.4 code; an institution's day
is its province's statement; a province operator sees its own province only, and
asking for another is refused (-4) and audited; bad input is answered with its code."""

from __future__ import annotations

import csv
import json
import re
import time

import grpc
import pytest
from clikit import ecnet
from consolekit import ConsoleNation, first_login
from scankit import insured_in
from settlekit import A, B, C, item, settle_request, start_settle_nation
from test_settlement_day import Desk, two_institutions

from ecnet.v1 import settlement_service_pb2 as spb
from ecnet.v1 import settlement_service_pb2_grpc
from node.console.charts import horizontal_bars, hourly_bars, nice_ceiling
from node.errors import from_rpc_error
from node.reports import cst_day, cst_hour

FEN = ("fee_fen", "fund_fen", "psn_acct_fen", "own_pay_fen")
WIRE = {"fee_fen": "feeSumamt", "fund_fen": "fundPay", "psn_acct_fen": "psnAcctPay"}
WIRE["own_pay_fen"] = "ownPayAmt"


@pytest.fixture
async def nation(cluster, tmp_path):
    sk = await start_settle_nation(cluster, tmp_path, ("44", "31"), https=True)
    return sk, ConsoleNation(sk.kit, tmp_path)


def count(page: str, element: str, default: int | None = None) -> int:
    """The number an element shows (its data-n or data-fen when it has one)."""
    found = re.search(
        rf'id="{re.escape(element)}"(?: data-(?:n|fen)="(-?\d+)")?[^>]*>(?:<strong>)?(-?\d+)',
        page,
    )
    if not found:
        assert default is not None, f"no {element} on the page"
        return default
    return int(found.group(1) or found.group(2))


def today() -> str:
    return cst_day(int(time.time() * 1000))


async def test_n_settlements_are_on_the_flows_page_in_the_report_its_csv_and_the_cli(nation):
    sk, cn = nation
    cn.enrol("root", "admin")
    terminal, _ = two_institutions(sk, "44")
    desk = Desk(sk, "44", terminal)
    local = insured_in(sk.kit, "44")[0]
    far = insured_in(sk.kit, "31")[0]
    day = today()
    async with cn.client() as http:
        await first_login(cn, http, "root")
        flows0 = (await http.get(f"/console/flows?day={day}")).text
        report0 = (await http.get(f"/console/reports?from={day}&to={day}")).text

        auth, auth_far = await sk.activated(local, "44"), await sk.activated(far, "44")
        bill = [item("A1", A, 30_000), item("B1", B, 5_000, 2), item("C1", C, 2_000)]
        done = [await desk.settle(auth, bill) for _ in range(3)]
        done += [await desk.settle(auth_far, [item("A2", A, 12_000)]) for _ in range(2)]
        hour = cst_hour(int(time.time() * 1000))
        with pytest.raises(grpc.aio.AioRpcError) as refused:  # a token that is none
            await desk.stub.Settle(settle_request("0" * 32, desk.org, "bad-1", bill), timeout=10)
        code, _ = from_rpc_error(refused.value)
        assert code != 0

        flows = await http.get(f"/console/flows?day={day}")
        assert flows.status_code == 200, flows.text
        page = flows.text
        for element, more in (
            ("total-settlements", 5),
            ("settlements-44", 5),
            ("total-scans", 5),
            ("matrix-44-44", 3),
            ("matrix-44-31", 2),
            (f"refusals-{code}", 1),
        ):
            assert count(page, element) - count(flows0, element, 0) == more, element
        # the hours add up to the day, and this hour holds them (unless it just turned)
        hours = [count(page, f"settlements-44-{h:02d}") for h in range(24)]
        assert sum(hours) == count(page, "settlements-44")
        assert hours[hour] >= 5 or hours[(hour + 1) % 24] >= 1
        assert count(page, "total-fee") - count(flows0, "total-fee", 0) == sum(
            s.feeSumamt for s in done
        )
        assert '<svg class="chart" id="chart-44"' in page and "<script" not in page
        assert 'id="chart-refusals"' in page

        report = (await http.get(f"/console/reports?from={day}&to={day}")).text
        line = f"line-{day}-44"
        assert count(report, f"{line}-settlements") - count(report0, f"{line}-settlements", 0) == 5
        assert count(report, f"{line}-scans") - count(report0, f"{line}-scans", 0) == 5
        for name in FEN:
            got = count(report, f"{line}-{name}") - count(report0, f"{line}-{name}", 0)
            assert got == sum(getattr(s, WIRE[name]) for s in done), name
        assert count(report, "total-settlements") == count(page, "total-settlements")
        # the activations count for the persons' insured provinces
        assert count(report, f"line-{day}-31-activations") >= 1

        # the CSV download is what `ecnet report daily --csv` prints, byte for byte
        node = ("--node", cn.national.address, "--from", day, "--to", day)
        got = await http.get(f"/console/reports.csv?from={day}&to={day}&by=province")
        rc, out, err = await ecnet("report", "daily", *node, "--csv")
        assert rc == 0, err
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/csv")
        assert got.headers["content-disposition"].startswith("attachment")
        assert got.content == out.encode()
        rows = {r["province"]: r for r in csv.DictReader(got.text.splitlines())}
        assert int(rows["44"]["settlements"]) == count(report, f"{line}-settlements")
        assert int(rows["44"]["fund_fen"]) == count(report, f"{line}-fund_fen")
        by_channel = await http.get(f"/console/reports.csv?from={day}&to={day}&by=channel")
        assert by_channel.text.startswith("date,channel,activations,")

        # and `ecnet report daily` says the same numbers
        rc, out, err = await ecnet("report", "daily", *node, "--json")
        assert rc == 0, err
        said = {x["province"]: x for x in json.loads(out)["lines"]}["44"]
        for name in ("settlements", "scans", *FEN):
            assert said[name] == count(report, f"{line}-{name}"), name

        # the institution's day, as its province's own statement says it
        stated = await http.get(f"/console/reports?orgId={desk.org}&date={day}")
        assert stated.status_code == 200, stated.text
        own = await settlement_service_pb2_grpc.SettlementServiceStub(
            sk.cluster.stubs(sk.provinces["44"]).channel
        ).GetDayStatement(spb.GetDayStatementRequest(orgId=desk.org, date=day), timeout=10)
        total = own.statement.total.settled
        assert total.count == 5
        assert count(stated.text, "stmt-total-settled-count") == 5
        assert count(stated.text, "stmt-remote-settled-count") == 2
        assert count(stated.text, "stmt-total-settled-fundPay") == total.fundPay
        assert count(stated.text, "stmt-total-settled-ownPayAmt") == total.ownPayAmt
        listed = stated.text.split('id="statement-list"', 1)[1]
        assert all(s.settlementId in listed for s in done)
        assert local.user_name not in listed  # names masked


async def test_a_province_operator_sees_its_province_only_and_is_refused_another(nation):
    sk, cn = nation
    cn.enrol("root", "admin")
    cn.enrol("chen", "p44")
    at44 = Desk(sk, "44", sk.terminals["44"][0])
    at31 = Desk(sk, "31", sk.terminals["31"][0])
    await at44.settle(await sk.activated(insured_in(sk.kit, "44")[0], "44"), [item("A", A, 900)])
    await at31.settle(await sk.activated(insured_in(sk.kit, "31")[0], "31"), [item("A", A, 700)])
    day = today()
    async with cn.client() as root, cn.client() as chen:
        await first_login(cn, root, "root")
        await first_login(cn, chen, "chen")
        everyone = (await root.get(f"/console/flows?day={day}")).text
        assert count(everyone, "settlements-31") >= 1 and count(everyone, "settlements-44") >= 1
        assert count(everyone, "matrix-31-31") >= 1
        only31 = (await root.get(f"/console/flows?day={day}&province=31")).text
        assert count(only31, "settlements-31") >= 1 and 'id="settlements-44' not in only31

        mine = await chen.get(f"/console/flows?day={day}")
        assert mine.status_code == 200
        assert count(mine.text, "settlements-44") >= 1
        assert 'id="settlements-31' not in mine.text and 'id="matrix-31-31"' not in mine.text
        assert 'id="chart-31"' not in mine.text
        assert count(mine.text, "total-settlements") == count(mine.text, "settlements-44")
        assert 'name="province" value="44" readonly' in mine.text
        report = (await chen.get(f"/console/reports?from={day}")).text
        assert f'id="line-{day}-44-settlements"' in report
        assert f'id="line-{day}-31-settlements"' not in report
        narrowed = await chen.get(f"/console/reports.csv?from={day}")
        assert {r["province"] for r in csv.DictReader(narrowed.text.splitlines())} == {"44"}

        for path in (
            f"/console/flows?day={day}&province=31",
            f"/console/reports?from={day}&province=31",
            f"/console/reports.csv?from={day}&province=31",
            f"/console/reports?orgId={at31.org}&date={day}",
        ):
            answer = await chen.get(path)
            assert answer.status_code == 403, path
            assert "Refused (-4)" in answer.text and "province 31" in answer.text, path
            assert 'id="settlements-31' not in answer.text
    refusals = [
        r
        for r in await cn.audit()
        if "chen" in r.who and r.code == -4 and r.method.endswith(("GetFigures", "InstitutionDay"))
    ]
    assert len(refusals) == 4


async def test_bad_input_is_answered_with_its_code_never_a_500(nation):
    sk, cn = nation
    cn.enrol("root", "admin")
    async with cn.client() as http:
        await first_login(cn, http, "root")
        for path, said in (
            ("/console/flows?day=2026-13-01", "fromDate"),
            ("/console/flows?day=<script>alert(1)</script>", "fromDate"),
            ("/console/flows?province=4x", "province"),
            ("/console/reports?from=2026-01-01&to=2026-12-31", "92"),
            ("/console/reports?from=2026-12-02&to=2026-12-01", "before"),
            ("/console/reports?orgId=H4401", "12"),
            ("/console/reports?orgId=H44010012345&date=2026-02-30", "date"),
            ("/console/reports.csv?from=2026-02-30", "fromDate"),
            ("/console/reports.csv?by=person", "province or channel"),
        ):
            answer = await http.get(path)
            assert answer.status_code == 400, (path, answer.status_code)
            assert "Refused (-2)" in answer.text and said in answer.text, (path, answer.text)
            assert "<script>alert" not in answer.text
        # a statement refused leaves the day's figures shown
        both = await http.get("/console/reports?orgId=H4401")
        assert 'id="daily-province"' in both.text or "nothing counted" in both.text


def test_the_charts_are_drawn_to_scale_with_their_numbers_and_nothing_unescaped():
    assert [nice_ceiling(n) for n in (0, 1, 3, 6, 11, 21, 51, 150, 201)] == [
        1,
        1,
        5,
        10,
        20,
        50,
        100,
        200,
        500,
    ]
    settled = [0] * 24
    settled[9], settled[10] = 8, 2
    svg = hourly_bars("c", "a <day>", [("settlements", "settlements", settled)])
    heights = {
        int(m.group(2)): float(m.group(1))
        for m in re.finditer(r'height="([\d.]+)"><title>(\d\d):00', svg)
    }
    assert heights[9] == 4 * heights[10] > 0 and heights[11] == 0
    assert "settlements: 8</title>" in svg and "settlements (10)" in svg
    assert "a &lt;day&gt;" in svg and "<day>" not in svg
    bars = horizontal_bars("r", "refused", [("-4 <x>", 3), ("-2", 1)])
    assert bars.count("<rect") == 2 and "-4 &lt;x&gt;: 3" in bars
