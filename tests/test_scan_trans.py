"""The acceptance surfaces integrators use: the Appendix B envelope ``Trans`` driven by
the real grpcurl binary with the JSON of Appendix B, the NationEcTrans contract in
Python (``cli.ectrans.nation_ec_trans``), and the ``ecnet scan`` / ``token check`` /
``trans`` commands as processes, reading a PNG with a real barcode reader."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import segno
from clikit import ecnet, readme_session, terminal_tls_flags, tls_flags, write_nation
from scankit import insured_in, start_scan_nation

from cli.ectrans import nation_ec_trans
from cli.nationfile import NationFile
from conftest import TestPki

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")


def port_of(address: str) -> str:
    return address.rsplit(":", 1)[1]


async def grpcurl(*args: str, terminal=None) -> dict:
    """grpcurl as the operator, or as ``terminal`` (its certificate)."""
    flags = tls_flags() if terminal is None else terminal_tls_flags(terminal.terminal_id)
    proc = await asyncio.create_subprocess_exec(
        GRPCURL,
        *flags,
        "-emit-defaults",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def appendix_b(org_id: str, code: str, trans_type: str = "ec.query") -> dict:
    """The request of Appendix B.1.5.1, as hospitals send it, the scanned value in data.ecQrCode."""
    return {
        "orgId": org_id,
        "transType": trans_type,
        "extra": {},
        "data": {
            "orgId": org_id,
            "businessType": "01101",
            "operatorId": "test001",
            "operatorName": "张医生",
            "officeId": "32760",
            "officeName": "消化内科",
            "deviceType": "",
            "ecQrCode": code,
        },
    }


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_scan_nation(cluster, tmp_path, ("44", "31"), https=True)


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl binary not installed (make setup installs it)")
async def test_trans_ec_query_and_token_check_through_grpcurl(nation):
    p = insured_in(nation.kit, "44")[0]
    auth = await nation.activated(p, "44")
    t44, t31 = nation.terminals["44"][0], nation.terminals["31"][0]
    p44, p31 = nation.provinces["44"], nation.provinces["31"]

    body = appendix_b(t31.org_id, await nation.issue("44", auth))
    answer = await grpcurl(
        "-d",
        json.dumps(body, ensure_ascii=False),
        p31.address,
        "ecnet.v1.AcceptanceService/Trans",
        terminal=t31,
    )
    assert answer["code"] == 0 and answer["orgId"] == t31.org_id and answer["message"] == "success"
    data = answer["data"]
    assert {
        "userName",
        "idNo",
        "idType",
        "ecToken",
        "insuOrg",
        "gender",
        "birthday",
        "nationality",
    } <= set(data)
    assert (data["userName"], data["idNo"], data["insuOrg"]) == (
        p.user_name,
        p.id_no,
        p.insured[0].insu_org,
    )
    assert data["ecToken"].startswith("310000ec")

    check = {
        "orgId": t31.org_id,
        "transType": "ec.token.check",
        "data": {
            "ecToken": data["ecToken"],
            "idType": p.id_type,
            "idNo": p.id_no,
            "userName": p.user_name,
        },
    }
    answer = await grpcurl(
        "-d",
        json.dumps(check, ensure_ascii=False),
        p31.address,
        "ecnet.v1.AcceptanceService/Trans",
        terminal=t31,
    )
    assert answer["code"] == 0 and answer["data"] == {"flag": 1, "insuOrg": p.insured[0].insu_org}
    # the token check is a terminal's call too: the operator's certificate is refused
    answer = await grpcurl(
        "-d", json.dumps(check, ensure_ascii=False), p31.address, "ecnet.v1.AcceptanceService/Trans"
    )
    assert answer["code"] == -4

    # failures travel in code/message with gRPC status OK, data always an object
    again = await grpcurl(
        "-d",
        json.dumps(body),
        p31.address,
        "ecnet.v1.AcceptanceService/Trans",
        terminal=t31,
    )
    assert again["code"] == 500005 and again["data"] == {} and "used" in again["message"]
    unknown = await grpcurl(
        "-d",
        json.dumps({"orgId": t44.org_id, "transType": "ec.settle", "data": {}}),
        p44.address,
        "ecnet.v1.AcceptanceService/Trans",
    )
    assert unknown["code"] == 500021 and unknown["data"] == {}
    no_org = await grpcurl(
        "-d",
        json.dumps({"transType": "ec.query", "data": {}}),
        p44.address,
        "ecnet.v1.AcceptanceService/Trans",
    )
    assert no_org["code"] == 500098
    other_org = appendix_b(t44.org_id, await nation.issue("44", auth))
    other_org["data"]["orgId"] = "H9999"
    answer = await grpcurl(
        "-d",
        json.dumps(other_org),
        p44.address,
        "ecnet.v1.AcceptanceService/Trans",
        terminal=t44,
    )
    assert answer["code"] == -2 and "data.orgId" in answer["message"]
    # a published terminal number in the header, with another certificate: no terminal
    published = appendix_b(t44.org_id, await nation.issue("44", auth))
    answer = await grpcurl(
        "-H",
        f"ec-terminal-id: {t44.terminal_id}",
        "-d",
        json.dumps(published),
        p44.address,
        "ecnet.v1.AcceptanceService/Trans",
    )
    assert answer["code"] == -4 and "alone grants nothing" in answer["message"]
    # a certificate of the CA for a terminal never registered
    stranger = type(t44)("44202400000000099999", t44.org_id, "44")
    nation.cluster.pki.terminal(stranger.terminal_id, stranger.org_id)
    answer = await grpcurl(
        "-d",
        json.dumps(published),
        p44.address,
        "ecnet.v1.AcceptanceService/Trans",
        terminal=stranger,
    )
    assert answer["code"] == 500100


async def test_nation_ec_trans_contract(nation, tmp_path):
    p = insured_in(nation.kit, "44")[1]
    auth = await nation.activated(p, "44")
    t44 = nation.terminals["44"][0]
    door = nation.provinces["44"].https_address
    url = f"https://{door}/ec/v1/trans"

    def call(in_data: str, at: str = url, **kw) -> tuple[str, str]:
        return nation_ec_trans(at, in_data, terminal_id=t44.terminal_id, **kw)

    query = json.dumps(appendix_b(t44.org_id, await nation.issue("44", auth)))
    ret, out = await asyncio.to_thread(call, query)
    assert ret == "0000" and isinstance(out, str)
    answer = json.loads(out)
    assert set(answer) == {"orgId", "code", "data", "message", "extra"}
    assert (
        answer["code"] == 0
        and answer["data"]["idNo"] == p.id_no
        and len(answer["data"]["ecToken"]) == 38
    )
    token = answer["data"]["ecToken"]

    # the same code again: B.1.3's return is the answer's code, not "0000"
    ret, out = await asyncio.to_thread(call, query, door)
    assert ret == "500005" and json.loads(out)["code"] == 500005

    # data as a JSON string (some callers encode it twice) and numbers as numbers
    check = {
        "orgId": t44.org_id,
        "transType": "ec.token.check",
        "data": json.dumps(
            {"ecToken": token, "idType": p.id_type, "idNo": p.id_no, "userName": p.user_name}
        ),
    }
    ret, out = await asyncio.to_thread(
        call, json.dumps(check), f"https://localhost:{port_of(door)}"
    )
    assert ret == "0000" and json.loads(out)["data"] == {
        "flag": 1,
        "insuOrg": p.insured[0].insu_org,
    }

    # a business refusal answers its code, the answer in out
    ret, out = await asyncio.to_thread(
        call, json.dumps({"orgId": t44.org_id, "transType": "ec.nope"})
    )
    assert ret == "500021" and json.loads(out)["code"] == 500021

    # the door's own refusals: not JSON (HTTP 400), no certificate (403)
    ret, out = await asyncio.to_thread(call, "{not json")
    assert ret == "-2" and json.loads(out)["code"] == -2
    ret, out = await asyncio.to_thread(nation_ec_trans, url, query, terminal_id="")
    assert ret == "-4" and "no client certificate" in json.loads(out)["message"]
    ret, out = await asyncio.to_thread(call, "")
    assert ret == "-2"

    for bad in ("no port here", "http://" + door, "grpc://" + door, "::1:5", "[zz]:5"):
        ret, out = await asyncio.to_thread(nation_ec_trans, bad, "{}")
        assert ret == "-5" and "invalid request address" in json.loads(out)["message"], bad
    ret, out = await asyncio.to_thread(
        nation_ec_trans, "127.0.0.1:1", json.dumps(appendix_b("x", "y")), timeout=1.0
    )
    assert ret == "-3" and "医保服务响应超时" in json.loads(out)["message"]

    # the node's certificate is checked: a CA that did not issue it
    other = TestPki(tmp_path / "other")
    (tmp_path / "elsewhere" / "pki").mkdir(parents=True)
    (tmp_path / "elsewhere" / "pki" / "ca.crt").write_bytes(other.ca.cert_path.read_bytes())
    ret, out = await asyncio.to_thread(
        nation_ec_trans, url, query, terminal_id="", data_dir=tmp_path / "elsewhere"
    )
    assert ret == "-1" and "certificate of the node" in json.loads(out)["message"]

    # the terminal's certificate is checked too: one of another CA for the same number
    t44 = nation.terminals["44"][0]
    f = other.files(other.terminal(t44.terminal_id, t44.org_id))
    impostor = tmp_path / "impostor" / "pki"
    (impostor / "terminals").mkdir(parents=True)
    (impostor / "ca.crt").write_bytes(nation.cluster.pki.ca.cert_path.read_bytes())
    for suffix, path in ((".crt", f.cert), (".key", f.key)):
        (impostor / "terminals" / f"{t44.terminal_id}{suffix}").write_bytes(path.read_bytes())
    ret, out = await asyncio.to_thread(
        nation_ec_trans, url, query, terminal_id=t44.terminal_id, data_dir=impostor.parent
    )
    message = json.loads(out)["message"]
    assert ret == "-1" and "does not accept the terminal certificate" in message, out
    assert f"{t44.terminal_id}.crt" in message and "UNKNOWN_CA" in message


async def test_ecnet_scan_reads_a_png_and_token_check(nation, tmp_path):
    p = insured_in(nation.kit, "44")[2]
    auth = await nation.activated(p, "44")
    t31 = nation.terminals["31"][0]
    node31 = ["--node", nation.provinces["31"].address]
    code = await nation.issue("44", auth)
    picture = tmp_path / "code.png"
    segno.make_qr(code).save(str(picture), scale=6, border=4)

    rc, out, err = await ecnet(
        "scan",
        "--terminal",
        t31.terminal_id,
        "--org",
        t31.org_id,
        "--business-type",
        "02121",
        "--image",
        str(picture),
        "--json",
        *node31,
    )
    assert rc == 0, err
    answer = json.loads(out)  # QueryResponse, as grpcurl prints it
    assert answer["idNo"] == p.id_no and answer["ecToken"].startswith("310000ec")

    rc, out, err = await ecnet(
        "token",
        "check",
        "--terminal",
        t31.terminal_id,
        "--token",
        answer["ecToken"],
        "--name",
        p.user_name,
        "--id-no",
        p.id_no,
        *node31,
    )
    assert rc == 0 and "flag 1" in out, err
    rc, out, err = await ecnet(
        "token",
        "check",
        "--terminal",
        t31.terminal_id,
        "--token",
        answer["ecToken"],
        "--name",
        p.user_name + "X",
        "--id-no",
        p.id_no,
        *node31,
    )
    assert rc == 0 and "flag 0" in out and "did not match: userName" in out, err
    rc, out, err = await ecnet(
        "token",
        "check",
        "--terminal",
        t31.terminal_id,
        "--token",
        answer["ecToken"],
        "--name",
        p.user_name,
        "--id-no",
        "110101199003074477",
        "--org",
        "H31-ANOTHER",
        "--json",
        *node31,
    )
    assert rc == 0, err
    checked = json.loads(out)
    assert "flag" not in checked  # 0, unpopulated: grpcurl leaves it out
    assert checked["mismatches"] == ["idNo", "orgId"]

    rc, out, err = await ecnet(
        "scan", "--terminal", t31.terminal_id, "--org", t31.org_id, "--code", code, *node31
    )
    assert rc == 1 and "error 500005" in err
    (tmp_path / "empty.png").write_bytes(b"not a picture")
    rc, out, err = await ecnet(
        "scan",
        "--terminal",
        t31.terminal_id,
        "--org",
        t31.org_id,
        "--image",
        str(tmp_path / "empty.png"),
        *node31,
    )
    assert rc == 1 and "error -2" in err

    query = json.dumps(appendix_b(t31.org_id, await nation.issue("44", auth)))
    rc, out, err = await ecnet(
        "trans",
        "--url",
        nation.provinces["31"].https_address,
        "--in",
        query,
        env={"ECNET_TERMINAL_ID": t31.terminal_id},
    )
    assert rc == 0, err
    assert json.loads(out)["data"]["idNo"] == p.id_no
    # the code again, at the door the nation file names: printed, and exit status 1
    data = write_nation(tmp_path / "n31", nation.provinces["31"])
    rc, out, err = await ecnet(
        "trans",
        "--province",
        "31",
        "--terminal",
        t31.terminal_id,
        "--in",
        query,
        "--data",
        str(data),
    )
    assert rc == 1 and json.loads(out)["code"] == 500005 and "returned 500005" in err
    rc, out, err = await ecnet("trans", "--province", "44", "--in", query, "--data", str(data))
    assert rc == 1 and "province 44 is not part of the nation" in err


async def test_a_picture_without_a_code(tmp_path):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (120, 120), 255).save(blank)
    rc, out, err = await ecnet(
        "scan",
        "--terminal",
        "44" * 10,
        "--org",
        "H1",
        "--image",
        str(blank),
        "--node",
        "127.0.0.1:9",
    )
    assert rc == 1 and "no QR code found" in err


async def test_scan_takes_exactly_one_of_code_and_image(tmp_path):
    # the help says so, and the command holds to it before any node is asked (port 9)
    rc, out, err = await ecnet("scan", "--help", env={"COLUMNS": "200"})
    assert rc == 0 and "exactly one of --code and --image" in out and "exclusive with --code" in out
    scan = ["scan", "--terminal", "44" * 10, "--org", "H1", "--node", "127.0.0.1:9"]
    rc, out, err = await ecnet(*scan)
    assert rc == 1 and err.startswith("error -2: no code to scan") and "exactly one" in err, err
    picture = tmp_path / "code.png"
    segno.make_qr("4243754826492874240001440000").save(str(picture))
    rc, out, err = await ecnet(
        *scan, "--code", "4243754826492874240001440000", "--image", str(picture)
    )
    assert rc == 1 and err.startswith("error -2: --code and --image are exclusive"), err
    rc, out, err = await ecnet(*scan, "--json")
    assert rc == 1 and json.loads(out)["code"] == -2, out


@pytest.mark.skipif(
    GRPCURL is None or shutil.which("bash") is None, reason="needs grpcurl and bash"
)
async def test_the_readme_scan_session_runs_as_written(cluster, tmp_path):
    rc, text, errors = await readme_session(cluster, tmp_path, "Scan a QR code")
    assert rc == 0, errors
    assert "idNo 441523199111180565" in text and re.search(r"ecToken 440000ec[0-9a-z]{30}", text)
    assert "error 500005" in errors
    assert re.search(r'"ecToken": "310000ec[0-9a-z]{30}"', text) and '"insuOrg": "441500"' in text
    assert "flag 1" in text
    assert '"code": 0' in text and '"code": 500005' in text and '"code": 500021' in text
    # ecnet trans, through the terminal door the nation file names
    answer = json.loads(text.splitlines()[-1])
    assert answer["code"] == 0 and answer["data"] == {"flag": 1, "insuOrg": "441500"}


async def test_nation_ec_trans_on_an_insecure_nation_posts_plain_http_with_the_number(
    cluster, tmp_path
):
    national = await cluster.start_national(insecure=True)
    p44 = await cluster.start_province("44", insecure=True, https="127.0.0.1:0")
    data = write_nation(tmp_path / "plain", national, p44)
    nation = NationFile.load(data)
    nation.insecure = True
    nation.save()
    body = json.dumps(appendix_b("H44010600001", "1" * 28))

    def call(url: str, terminal: str) -> tuple[str, dict]:
        ret, out = nation_ec_trans(url, body, terminal_id=terminal, data_dir=data)
        return ret, json.loads(out)

    # the number in ec-terminal-id, which only such a node reads: a terminal it does not
    # know, refused as the province refuses one
    for url in (p44.https_address, f"http://{p44.https_address}/ec/v1/trans"):
        ret, out = await asyncio.to_thread(call, url, "4" * 20)
        assert ret == "500100" and out["code"] == 500100, out
    # no number: no terminal at all
    ret, out = await asyncio.to_thread(call, p44.https_address, "")
    assert ret == "-4" and out["code"] == -4
