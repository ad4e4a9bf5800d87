"""``ecnet settle`` and ``ecnet settlement show|reverse|notices`` end to end: the CLI as
a process against in-process provincial nodes found through a ``nation.json``, with
tokens from real scans and the small test policy of ``settlekit`` (amounts easy to
work by hand)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import ROOT, ecnet, grpcurl, write_nation
from scankit import eventually, insured_in
from settlekit import start_settle_nation, token_for

from cli.rpc import CliError
from cli.settle import read_items
from conftest import reserved_ports

BIN = Path(sys.executable).parent
GRPCURL = shutil.which("grpcurl", path=str(BIN)) or shutil.which("grpcurl")

# 甲 300 yuan + 乙 2 × 50 yuan (10 yuan first self-pay) + 丙 20 yuan = 420 yuan; under
# settlekit.POLICY: deductible 100, fund 70 % of 290 = 203, the account its 50, own 167.
ITEMS = [
    {"code": "A1", "name": "阿莫西林胶囊", "category": "A", "unitPrice": 30_000, "quantity": 1},
    {"code": "B1", "name": "彩超", "category": "乙", "unitPrice": 5_000, "quantity": 2},
    {"code": "C1", "name": "体检套餐", "category": "C", "unitPrice": 2_000, "quantity": 1},
]
AMOUNTS = {"feeSumamt": 42_000, "fundPay": 20_300, "psnAcctPay": 5_000, "ownPayAmt": 16_700}


def amounts(s: dict) -> dict:
    # as grpcurl prints a Settlement: int64 as strings, and an amount of 0 left out
    return {k: int(s.get(k, "0")) for k in AMOUNTS}


def adds_up(s: dict) -> bool:
    a = amounts(s)
    return (
        a["feeSumamt"] == a["fundPay"] + a["psnAcctPay"] + a["ownPayAmt"] and min(a.values()) >= 0
    )


@pytest.fixture
async def nation(cluster, tmp_path):
    sk = await start_settle_nation(cluster, tmp_path, ("44", "31"))
    sk.data = write_nation(tmp_path / "nation", *sk.provinces.values())
    return sk


def items_file(tmp_path: Path, value, name: str = "items.json") -> Path:
    path = tmp_path / name
    path.write_text(
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False), encoding="utf-8"
    )
    return path


async def test_settle_retry_show_and_reverse_twice(nation, tmp_path):
    p = insured_in(nation.kit, "44")[0]
    auth = await nation.activated(p, "44")
    token, terminal = await token_for(nation, auth, "44")
    where = ["--province", "44", "--data", str(nation.data)]
    items = items_file(tmp_path, ITEMS)
    settle = ["settle", *where, "--token", token, "--org", terminal.org_id, "--items", str(items)]
    settle += ["--terminal", terminal.terminal_id]

    # human output: every amount in fen and in yuan
    rc, out, err = await ecnet(*settle, "--request-id", "cli-r1")
    assert rc == 0, err
    sid = re.search(r"settlement (\w+)\s+state SETTLED\s+requestId cli-r1", out).group(1)
    for label, text in (
        ("feeSumamt", "42000 (420.00 yuan)"),
        ("fundPay", "20300 (203.00 yuan)"),
        ("psnAcctPay", "5000 (50.00 yuan)"),
        ("ownPayAmt", "16700 (167.00 yuan)"),
        ("acctBalance", "0 (0.00 yuan)"),
    ):
        assert re.search(rf"^{label}\s+{re.escape(text)}", out, re.M), (label, out)
    assert f"insuOrg {p.insured[0].insu_org}" in out and "settledBy 44" in out

    # a retry with the same --request-id: the same settlement, the answer as grpcurl prints it
    rc, out, err = await ecnet(*settle, "--request-id", "cli-r1", "--json")
    assert rc == 0, err
    answer = json.loads(out)
    s = answer["settlement"]
    assert (
        s["settlementId"] == sid
        and s["requestId"] == "cli-r1"
        and s["state"] == "SETTLEMENT_STATE_SETTLED"
    )
    assert amounts(s) == AMOUNTS and adds_up(s)
    assert (
        s["medType"] == "MEDICAL_TYPE_OUTPATIENT"
        and "acctBalance" not in s  # 0, left out as grpcurl leaves it out
        and s["settledBy"] == "44"
    )
    assert [i["category"] for i in s["items"]] == [
        "ITEM_CATEGORY_A",
        "ITEM_CATEGORY_B",
        "ITEM_CATEGORY_C",
    ]
    # the same id with other content is refused (-2); a second use of the token too (500067)
    rc, out, err = await ecnet(*settle, "--request-id", "cli-r1", "--med-type", "inpatient")
    assert rc == 1 and "error -2" in err and "Traceback" not in err, err
    rc, out, err = await ecnet(*settle, "--request-id", "cli-r2")
    assert rc == 1 and "error 500067" in err, err

    rc, out, err = await ecnet("settlement", "show", sid, *where, "--json")
    assert rc == 0 and json.loads(out) == answer, err
    if GRPCURL is not None:  # byte for byte what grpcurl prints for the same call
        grc, shown, gerr = await grpcurl(
            "-d",
            json.dumps({"settlementId": sid}),
            nation.provinces["44"].address,
            "ecnet.v1.SettlementService/GetSettlement",
        )
        assert grc == 0 and out == shown, (out, shown, gerr)
    rc, out, err = await ecnet("settlement", "show", sid, *where)
    assert (
        rc == 0
        and f"settlement {sid}" in out
        and re.search(r"^fundPay\s+20300 \(203\.00 yuan\)", out, re.M)
    )

    # reversed once: the account's 50 yuan come back; a second reversal changes nothing
    rc, out, err = await ecnet(
        "settlement", "reverse", sid, *where, "--org", terminal.org_id, "--request-id", "u1"
    )
    assert rc == 0, err
    assert out.startswith("reversed") and "state REVERSED" in out and "reverseRequestId u1" in out
    assert re.search(r"^acctBalance\s+5000 \(50\.00 yuan\)", out, re.M), out
    rc, out, err = await ecnet("settlement", "reverse", sid, *where, "--org", terminal.org_id)
    assert rc == 0 and out.startswith("already reversed at ") and "reverseRequestId u1" in out, (
        out,
        err,
    )
    rc, out, err = await ecnet(
        "settlement", "reverse", sid, *where, "--org", terminal.org_id, "--json"
    )
    assert rc == 0, err
    r = json.loads(out)["settlement"]
    assert (
        r["state"] == "SETTLEMENT_STATE_REVERSED"
        and r["reverseRequestId"] == "u1"
        and r["acctBalance"] == "5000"
    )
    assert amounts(r) == AMOUNTS
    # only the settling institution may reverse
    rc, out, err = await ecnet("settlement", "reverse", sid, *where, "--org", "H99999999999")
    assert rc == 1 and "error -4" in err, err


async def test_remote_settle_from_stdin_with_a_fresh_request_id(nation, tmp_path):
    # insured in Guangdong, treated in Shanghai: scanned at 31, settled at 31, by 44
    p = insured_in(nation.kit, "44")[1]
    auth = await nation.activated(p, "31")
    token, terminal = await token_for(nation, auth, "31")
    rc, out, err = await ecnet(
        "settle",
        "--province",
        "31",
        "--data",
        str(nation.data),
        "--token",
        token,
        "--org",
        terminal.org_id,
        "--terminal",
        terminal.terminal_id,
        "--items",
        "-",
        "--json",
        stdin=json.dumps(ITEMS[:1]),
    )
    assert rc == 0, err
    assert "retry" not in err, err  # nothing to retry: it settled
    s = json.loads(out)["settlement"]
    request_id = s["requestId"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert s["requestId"] == request_id and s["settledBy"] == "44" and s["servingProvince"] == "31"
    assert (
        s["insuOrg"] == p.insured[0].insu_org and s["settlementId"].startswith("31") and adds_up(s)
    )
    # 300 yuan 甲: deductible 100, fund 70 % of 200 = 140, account 50, own 110
    assert amounts(s) == {
        "feeSumamt": 30_000,
        "fundPay": 14_000,
        "psnAcctPay": 5_000,
        "ownPayAmt": 11_000,
    }
    # the retry a user makes with the printed id answers the same settlement
    rc, out, err = await ecnet(
        "settle",
        "--province",
        "31",
        "--data",
        str(nation.data),
        "--token",
        token,
        "--org",
        terminal.org_id,
        "--terminal",
        terminal.terminal_id,
        "--items",
        "-",
        "--json",
        "--request-id",
        request_id,
        stdin=json.dumps(ITEMS[:1]),
    )
    assert rc == 0 and json.loads(out)["settlement"] == s, err
    rc, out, err = await ecnet(
        "settlement",
        "show",
        s["settlementId"],
        "--province",
        "31",
        "--data",
        str(nation.data),
        "--json",
    )
    assert rc == 0 and json.loads(out)["settlement"]["state"] == "SETTLEMENT_STATE_SETTLED", err


async def test_notices_of_a_person_insured_in_two_provinces(nation, tmp_path):
    p = next(
        x
        for x in nation.kit.population
        if [r.insu_org[:2] for r in x.insured] in (["44", "31"], ["31", "44"])
    )
    region44 = next(r.insu_org for r in p.insured if r.insu_org.startswith("44"))
    auth = await nation.activated(p, "44")
    code = await nation.issue("44", auth, insu_org=region44)
    scanner = nation.scanner("44")
    token = (await scanner.query(code)).ecToken
    where31 = ["--province", "31", "--data", str(nation.data), "--id-no", p.id_no]

    rc, out, err = await ecnet("settlement", "notices", *where31)
    assert rc == 0 and "no settlement notices" in out, (out, err)
    rc, out, err = await ecnet(
        "settle",
        "--province",
        "44",
        "--data",
        str(nation.data),
        "--token",
        token,
        "--org",
        scanner.terminal.org_id,
        "--terminal",
        scanner.terminal.terminal_id,
        "--items",
        str(items_file(tmp_path, ITEMS)),
        "--json",
    )
    assert rc == 0, err
    s = json.loads(out)["settlement"]

    async def noticed():
        rc, out, err = await ecnet("settlement", "notices", *where31, "--json")
        assert rc == 0, err
        return json.loads(out).get("notices")

    notices = await eventually(noticed, what="the notice at province 31")
    assert [n["settlementId"] for n in notices] == [s["settlementId"]]
    assert notices[0]["insuOrg"] == region44 and notices[0]["settledBy"] == "44"
    assert {k: int(notices[0][k]) for k in AMOUNTS} == AMOUNTS
    rc, out, err = await ecnet("settlement", "notices", *where31)
    assert rc == 0 and s["settlementId"] in out and "420.00" in out and "203.00" in out, out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[{", "is not JSON"),
        ({"code": "A1"}, "expected a JSON list of items"),
        ([], "the list of items is empty"),
        (["A1"], "item 1 is not an object"),
        (
            [{**ITEMS[0]}, {k: v for k, v in ITEMS[1].items() if k != "unitPrice"}],
            "item 2 ('B1'): unitPrice must be",
        ),
        (
            [{**ITEMS[0], "category": "D"}],
            "item 1 ('A1'): category \"D\" is not A (甲), B (乙) or C (丙)",
        ),
        (
            [{**ITEMS[0], "unitPrice": 300.5}],
            "item 1 ('A1'): unitPrice must be an integer number of fen",
        ),
        (
            [{**ITEMS[0], "unitPrice": "30000"}],
            "item 1 ('A1'): unitPrice must be an integer number of fen",
        ),
        ([{**ITEMS[0], "quantity": 0}], "item 1 ('A1'): quantity 0 is out of range"),
        ([{**ITEMS[0], "name": ""}], "item 1 ('A1'): name must be a non-empty string"),
        ([{**ITEMS[0], "unit_price": 1}], "item 1 ('A1'): unknown field 'unit_price'"),
    ],
)
def test_a_bad_items_file_is_a_clear_minus_2(tmp_path, content, expected):
    # what `ecnet settle --items` reads, in-process: one ecnet process per case would cost a
    # second of CPU each; the next test runs the command once, as a person does
    path = items_file(tmp_path, content)
    with pytest.raises(CliError) as info:
        read_items(str(path))
    assert info.value.code == -2 and expected in str(info.value), info.value
    assert str(path) in str(info.value)


async def test_ecnet_settle_reports_a_bad_items_file_in_one_line(tmp_path):
    path = items_file(tmp_path, [{**ITEMS[0], "category": "D"}])
    # refused before any node is asked (nothing listens on port 1)
    rc, out, err = await ecnet(
        "settle", "--node", "127.0.0.1:1", "--token", "t", "--org", "o", "--items", str(path)
    )
    assert rc == 1 and err.startswith("error -2: ") and "Traceback" not in err, err
    assert f"{path}: item 1 ('A1'): category \"D\" is not A (甲), B (乙) or C (丙)" in err, err


async def test_refusals_carry_their_codes(nation, tmp_path):
    items = str(items_file(tmp_path, ITEMS))
    org = nation.terminals["44"][0].org_id
    where = ["--province", "44", "--data", str(nation.data)]
    as_terminal = ["--terminal", nation.terminals["44"][0].terminal_id]
    rc, out, err = await ecnet(
        "settle",
        *where,
        *as_terminal,
        "--token",
        "440000ec" + "0" * 30,
        "--org",
        org,
        "--items",
        items,
    )
    assert rc == 1 and "error 500067" in err and "Traceback" not in err, err
    # a settlement is a terminal's call
    rc, out, err = await ecnet(
        "settle", *where, "--token", "440000ec" + "0" * 30, "--org", org, "--items", items
    )
    assert rc == 1 and "error -2: a settlement is a terminal's call: give --terminal T" in err
    # no retry helps a token that is not one, and 44 is the right province to settle at:
    # the hint says what the token should be
    rc, out, err = await ecnet("settle", *where, "--token", "x", "--org", org, "--items", items)
    assert rc == 1 and err.startswith("error 500067: --token 'x' is not an ecToken"), err
    assert "`ecnet scan`" in err and "retry" not in err and "not issued by" not in err, err
    # a token of Shanghai (31) offered to Guangdong (44): settle at 31
    rc, out, err = await ecnet(
        "settle",
        *where,
        *as_terminal,
        "--token",
        "310000ec" + "0" * 30,
        "--org",
        org,
        "--items",
        items,
    )
    assert rc == 1 and "issued by province 31 (上海市), not 44" in err, err
    assert "--province 31" in err and "retry" not in err, err
    rc, out, err = await ecnet(
        "settle", *where, "--token", "x", "--org", org, "--items", items, "--json"
    )
    assert rc == 1 and json.loads(out)["code"] == 500067 and "retry" not in out + err, out
    rc, out, err = await ecnet(
        "settle", *where, "--token", "t", "--org", org, "--items", items, "--med-type", "dental"
    )
    assert rc == 1 and "error -2: --med-type 'dental'" in err, err
    rc, out, err = await ecnet(
        "settle",
        "--province",
        "45",
        "--data",
        str(nation.data),
        "--token",
        "t",
        "--org",
        org,
        "--items",
        "/no/such/items.json",
    )
    assert rc == 1 and "error -2: no such items file" in err, err
    rc, out, err = await ecnet(
        "settle",
        "--province",
        "45",
        "--data",
        str(nation.data),
        "--token",
        "t",
        "--org",
        org,
        "--items",
        items,
    )
    assert rc == 1 and "province 45 is not part of the nation" in err, err
    rc, out, err = await ecnet("settlement", "show", "44" + "0" * 24, *where)
    assert rc == 1 and "error 500014" in err, err
    rc, out, err = await ecnet("settlement", "reverse", "44" + "0" * 24, *where)
    assert rc == 1 and "error 500014" in err, err
    rc, out, err = await ecnet("settlement", "notices", *where, "--id-no", "")
    assert rc == 1 and "error -2" in err, err


async def test_a_pending_remote_settlement_is_finished_by_a_retry(nation, tmp_path):
    # insured in Guangdong, scanned in Shanghai; Guangdong's node is down when 31 settles
    p = insured_in(nation.kit, "44")[2]
    auth = await nation.activated(p, "31")
    token, terminal = await token_for(nation, auth, "31")
    p44 = nation.provinces["44"]
    await p44.stop(grace=0)
    nation.cluster.nodes.remove(p44)
    settle = [
        "settle",
        "--province",
        "31",
        "--data",
        str(nation.data),
        "--token",
        token,
        "--org",
        terminal.org_id,
        "--terminal",
        terminal.terminal_id,
        "--items",
        str(items_file(tmp_path, ITEMS[:1])),
        "--request-id",
        "sh-1",
    ]
    rc, out, err = await ecnet(*settle)
    assert rc == 1 and err.startswith("error -3: ") and "(--request-id sh-1)" in err, err
    assert "is the nation running" not in err and "Traceback" not in err

    # Guangdong is back: the retry with the same id finishes the one settlement
    nation.provinces["44"] = await nation.cluster.start(p44.config)

    async def settled():
        rc, out, err = await ecnet(*settle, "--json")
        return json.loads(out)["settlement"] if rc == 0 else None

    s = await eventually(settled, what="the retried settlement")
    assert (
        s["state"] == "SETTLEMENT_STATE_SETTLED"
        and s["settledBy"] == "44"
        and s["requestId"] == "sh-1"
    )
    assert amounts(s) == {
        "feeSumamt": 30_000,
        "fundPay": 14_000,
        "psnAcctPay": 5_000,
        "ownPayAmt": 11_000,
    }


@pytest.mark.skipif(
    GRPCURL is None or shutil.which("bash") is None, reason="needs grpcurl and bash"
)
def test_the_readme_settle_session_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Settle\n", 1)[1].split("\n## ", 1)[0]
    script = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))
    # the README's nation, `make nation` (10,000 persons, seed 2019, provinces 11,31,44,51), as
    # real processes (the session stops and starts province 44), on a block of ports of its own
    data = tmp_path / "nation"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ECNET_DATA": str(data)}
    cli = [sys.executable, "-m", "cli.main"]
    work = tmp_path / "work"  # the session's files (items.json) go here, not into the repository
    work.mkdir()
    with reserved_ports() as base:
        up = subprocess.run(
            [*cli, "nation", "up", "--detach", "--base-port", str(base)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert up.returncode == 0, up.stderr + up.stdout
        try:
            script = re.sub(
                r"127\.0\.0\.1:500(\d\d)", lambda m: f"127.0.0.1:{base + int(m.group(1))}", script
            )
            script = script.replace(".venv/bin/", f"{BIN}/")
            script = script.replace("nation/pki/", f"{data}/pki/")
            run = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            subprocess.run(
                [*cli, "nation", "down"], cwd=work, env=env, capture_output=True, timeout=120
            )
    text, errors = run.stdout, run.stderr
    assert run.returncode == 0, errors + text
    assert re.search(r"^fundPay\s+9750 \(97\.50 yuan\)", text, re.M), text
    assert re.search(r"^acctBalance\s+90250 \(902\.50 yuan\)", text, re.M)
    assert "already reversed at" in text and "state REVERSED" in text
    assert '"reverseRequestId": "his-0002-undo"' in text and '"ownPayAmt": "0"' in text
    assert "settledBy 44   servingProvince 31" in text
    assert "error -3: " in errors and "(--request-id sh-0002)" in errors
    assert '"requestId": "sh-0002"' in text and '"fundPay": "19750"' in text
    assert re.search(r"44\d{24} .*441300 .*SETTLED .*420\.00 .*97\.50", text), text
