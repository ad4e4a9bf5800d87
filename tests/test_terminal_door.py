"""The terminal door (``POST /ec/v1/trans``): the Appendix B envelope over HTTPS, as a
hospital's NationEcTrans library posts it, against real provinces. Every refusal of the
gRPC path has its twin here: no certificate, a revoked one, an unknown terminal, another
institution, bad JSON, an oversize body, and the rate limit."""

from __future__ import annotations

import json
import re
import shutil
import ssl

import httpx
import pytest
from clikit import readme_session
from scankit import insured_in, start_scan_nation

from conftest import TestPki
from node.pki import Identity

# The request of the field notes, as integrators send it (the DLL drives the scanner, so
# ecnet's door takes the scanned value as data.ecQrCode), with the terminal's own orgId.
FIELD_REQUEST = (
    '{"orgId":"%(org)s","transType":"ec.query","data":{"orgId":"%(org)s",'
    '"businessType":"01101","operatorId":"test001","operatorName":"张医生",'
    '"officeId":"32760","officeName":"消化内科","deviceType":"","ecQrCode":"%(code)s"}}'
)
# Appendix B.1.5.1's sample as printed (a comma before the closing brace: not JSON).
SPEC_SAMPLE = (
    '{\n  "orgId": "1DBHJRS5I01E0F34A8C00000B9596666",\n  "transType": "ec.query",\n'
    '  "extra": {},\n"data": {\n  "orgId": "1DBHJRS5I01E0F34A8C00000B9596666",\n'
    '  "businessType": "1",\n}\n}'
)


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_scan_nation(cluster, tmp_path, ("44", "31"), https=True)


def terminal_client(nation, province: str, index: int = 0) -> httpx.AsyncClient:
    t = nation.terminals[province][index]
    who = nation.cluster.pki.terminal(t.terminal_id, t.org_id)
    return nation.cluster.pki.https(nation.provinces[province], who)


async def test_the_field_request_scans_local_and_routed_codes_and_checks_the_token(nation):
    p = insured_in(nation.kit, "44")[0]
    auth = await nation.activated(p, "44")
    t31 = nation.terminals["31"][0]
    async with terminal_client(nation, "31") as http:
        code = await nation.issue("44", auth)  # a code of 44, scanned in 31: routed
        r = await http.post(
            "/ec/v1/trans",
            content=(FIELD_REQUEST % {"org": t31.org_id, "code": code}).encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        answer = r.json()
        assert answer["code"] == 0, answer
        assert answer["orgId"] == t31.org_id and answer["message"] == "成功"
        data = answer["data"]
        assert data["idNo"] == p.id_no and data["userName"] == p.user_name
        assert data["ecToken"].startswith("310000ec") and len(data["ecToken"]) == 38
        assert isinstance(answer["extra"], dict)

        # the token check, as the medical-insurance system calls it
        check = {
            "orgId": t31.org_id,
            "transType": "ec.token.check",
            "data": {
                "ecToken": data["ecToken"],
                "idType": data["idType"],
                "idNo": p.id_no,
                "userName": p.user_name,
            },
        }
        r = await http.post("/ec/v1/trans", json=check)
        assert r.status_code == 200 and r.json()["code"] == 0
        assert r.json()["data"] == {"flag": 1, "insuOrg": data["insuOrg"]}
        check["data"]["userName"] = p.user_name + "甲"
        assert (await http.post("/ec/v1/trans", json=check)).json()["data"]["flag"] == 0

        # the same code twice: a business refusal, HTTP 200 with its code, Chinese first
        r = await http.post(
            "/ec/v1/trans", content=FIELD_REQUEST % {"org": t31.org_id, "code": code}
        )
        again = r.json()
        assert r.status_code == 200 and again["code"] not in (0, -1), again
        assert again["data"] == {} and again["message"]


async def test_the_field_request_without_a_code_and_the_spec_sample_get_clear_answers(nation):
    t44 = nation.terminals["44"][0]
    async with terminal_client(nation, "44") as http:
        verbatim = json.loads(FIELD_REQUEST % {"org": t44.org_id, "code": ""})
        del verbatim["data"]["ecQrCode"]
        r = await http.post("/ec/v1/trans", json=verbatim)
        answer = r.json()
        assert r.status_code == 200 and answer["code"] == -2
        assert answer["message"].startswith("请求参数异常: ") and "ecQrCode" in answer["message"]

        r = await http.post("/ec/v1/trans", content=SPEC_SAMPLE.encode())
        assert r.status_code == 400
        assert r.json()["code"] == -2 and "not JSON" in r.json()["message"]

        # the sample without its stray comma: every problem named at once
        fixed = json.loads(SPEC_SAMPLE.replace('"1",\n}', '"1"\n}'))
        r = await http.post("/ec/v1/trans", json=fixed)
        answer = r.json()
        assert r.status_code == 200 and answer["code"] in (-2, 500098, 500100), answer
        for name in ("businessType", "operatorId", "operatorName", "ecQrCode"):
            assert name in answer["message"], answer["message"]


async def test_what_is_not_a_transaction_answers_4xx_with_a_b2_body(nation):
    t44 = nation.terminals["44"][0]
    node = nation.provinces["44"]
    async with terminal_client(nation, "44") as http:
        for body, status, words in (
            (b"not json", 400, "not JSON"),
            (b"\xff\xfe{}", 400, "UTF-8"),
            (b"[1, 2]", 400, "JSON object"),
            (b'{"orgId": "x", "data": 5}', 400, "data must be a JSON object"),
            (b'{"orgId": "x", "data": "{nope"}', 400, "data is a string that is not JSON"),
        ):
            r = await http.post("/ec/v1/trans", content=body)
            assert r.status_code == status, (body, r.text)
            assert r.json()["code"] == -2 and words in r.json()["message"], r.text
            assert r.json()["data"] == {}
        big = {"orgId": t44.org_id, "transType": "ec.query", "data": {"x": "字" * 80_000}}
        r = await http.post("/ec/v1/trans", json=big)
        assert r.status_code == 413 and "200K" in r.json()["message"]
        r = await http.post("/ec/v1/trans", content=b"{" + b" " * (3 * 1024 * 1024) + b"}")
        assert r.status_code == 413 and r.json()["code"] == -2
        assert (await http.get("/ec/v1/trans")).status_code == 405
    # a connection without a client certificate: refused with a sentence, not a reset
    async with nation.cluster.pki.https(node, None) as anonymous:
        r = await anonymous.post("/ec/v1/trans", json={"orgId": t44.org_id})
        assert r.status_code == 403
        assert r.json()["code"] == -4 and "no client certificate" in r.json()["message"]


async def test_a_certificate_that_is_no_terminal_or_another_institution_is_refused(nation):
    node = nation.provinces["44"]
    t44, t31 = nation.terminals["44"][0], nation.terminals["31"][0]
    body = {
        "orgId": t44.org_id,
        "transType": "ec.query",
        "data": {
            "businessType": "01101",
            "operatorId": "o1",
            "operatorName": "n",
            "ecQrCode": "1" * 28,
        },
    }
    pki = nation.cluster.pki
    # the operator's certificate names no terminal: the -4 of the gRPC path, in 200
    async with pki.https(node, "operator") as http:
        r = await http.post("/ec/v1/trans", json=body)
        assert r.json()["code"] == -4, r.text
    # a terminal of province 31 at 44's door: not a terminal of this province
    async with pki.https(node, pki.terminal(t31.terminal_id, t31.org_id)) as http:
        r = await http.post("/ec/v1/trans", json={**body, "orgId": t31.org_id})
        assert r.status_code == 200 and r.json()["code"] == 500100, r.text
    # an unregistered number with a real certificate of the CA
    stranger = pki.terminal("44201912345678909999", t44.org_id)
    async with pki.https(node, stranger) as http:
        r = await http.post("/ec/v1/trans", json=body)
        assert r.status_code == 200 and r.json()["code"] == 500100, r.text
    # the terminal's own certificate, the envelope naming another institution
    async with terminal_client(nation, "44") as http:
        r = await http.post("/ec/v1/trans", json={**body, "orgId": "H99999999999"})
        assert r.json()["code"] == 500100 and "bound to institution" in r.json()["message"]


async def test_a_certificate_of_another_ca_never_gets_through_the_handshake(nation, tmp_path):
    other = TestPki(tmp_path / "other")
    t44 = nation.terminals["44"][0]
    impostor = other.terminal(t44.terminal_id, t44.org_id)
    ctx = ssl.create_default_context(cafile=str(nation.cluster.pki.ca.cert_path))
    f = other.files(impostor)
    ctx.load_cert_chain(str(f.cert), str(f.key))
    node = nation.provinces["44"]
    async with httpx.AsyncClient(verify=ctx, timeout=10) as http:
        # TLS 1.3: the client's side of the handshake is done when the node judges, so
        # the node's alert is what answers the request
        with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
            await http.post(f"https://{node.https_address}/ec/v1/trans", json={})


async def test_a_revoked_terminal_is_refused_at_the_door_with_403(cluster, tmp_path):
    pki = TestPki(tmp_path / "own")  # a CA of this test's own: it revokes
    cluster.pki = pki
    sk = await start_scan_nation(cluster, tmp_path, ("44",), https=True)
    t44 = sk.terminals["44"][0]
    who = pki.terminal(t44.terminal_id, t44.org_id)
    node = sk.provinces["44"]
    body = {"orgId": t44.org_id, "transType": "ec.query", "data": {"ecQrCode": "1" * 28}}
    async with pki.https(node, who) as http:
        assert (await http.post("/ec/v1/trans", json=body)).status_code == 200
        pki.ca.revoke(identity=Identity.parse(who))
        assert node.trust is not None and node.trust.take_crl(pki.ca.crl())
        r = await http.post("/ec/v1/trans", json=body)
        assert r.status_code == 403 and r.json()["code"] == -4
        assert "revoked" in r.json()["message"]


async def test_the_terminal_rate_limit_answers_minus_6_with_retry_after(cluster, tmp_path):
    sk = await start_scan_nation(
        cluster,
        tmp_path,
        ("44",),
        https=True,
        extra={"limits_terminal_burst": "3", "limits_terminal_per_second": "0.01"},
    )
    t44 = sk.terminals["44"][0]
    body = {"orgId": t44.org_id, "transType": "ec.query", "data": {"ecQrCode": "1" * 28}}
    codes, last = [], None
    async with terminal_client(sk, "44") as http:
        for _ in range(5):
            last = await http.post("/ec/v1/trans", json=body)
            codes.append(last.json()["code"])
    assert -6 not in codes[:3] and codes[3:] == [-6, -6], codes
    assert last.status_code == 200 and last.headers["retry-after"]
    assert last.json()["message"].startswith("触发限流")


async def test_national_has_no_terminal_door_but_describes_itself(cluster):
    node = await cluster.start_national(https="127.0.0.1:0")
    async with cluster.pki.https(node, None) as http:
        r = await http.post("/ec/v1/trans", json={})
        assert r.status_code == 404 and r.json()["code"] == -5
        assert "provincial" in r.json()["message"]
        key = (await http.get("/ec/v1/channel/key")).json()
        assert key["node"] == "national" and bytes.fromhex(key["publicKey"])[0] == 4
        assert (await http.get("/openapi.json")).json()["openapi"].startswith("3.")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_the_readme_door_session_runs_as_written(cluster, tmp_path):
    rc, out, err = await readme_session(cluster, tmp_path, "The HTTPS doors", ("44",))
    assert rc == 0, err
    lines = out.splitlines()
    first = json.loads(lines[0])
    assert first["code"] == 0 and first["data"]["idNo"] == "441523199111180565"
    assert first["data"]["ecToken"].startswith("440000ec")
    assert '"code":500005' in out and "展码 id 失效或已过期: " in out and "HTTP 200" in out
    assert '"code":-2' in out and "HTTP 400" in out
    assert '"code":-4' in out and "no client certificate" in out and "HTTP 403" in out
    opened = [json.loads(block) for block in re.findall(r"^\{\n.*?^\}$", out, re.M | re.S)]
    assert [a["code"] for a in opened] == [0, -4], out
    assert (
        opened[0]["data"]["ecQrCode"].endswith("440000") and "used before" in opened[1]["message"]
    )
    assert lines[-1] == "3.1.0"
