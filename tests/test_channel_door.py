"""The channel door (``POST /ec/v1/channel/{method}``): the open platform's envelope over
HTTPS, against real nodes. A channel displays a code through a province's door and a
terminal scans it through the terminal door; national's door serves the voucher calls.
Every refusal of a signed gRPC call has its twin here: a bad signature, a replayed
nonce, a stale timestamp, an unknown appId, a method outside the node, bad JSON, an
oversize body, and the channel's rate limit."""

from __future__ import annotations

import json

import pytest
from chankit import private_key
from scankit import insured_in, start_scan_nation
from voucherkit import OFFICIAL

from node.domain import openplatform as op
from node.domain.channelsig import load_sm4_key, sm4_key_file


def keys(cluster, app_id: str = OFFICIAL) -> tuple[bytes, bytes]:
    """(signing key, SM4 key) of a seeded channel, as the nation keeps them."""
    return private_key(cluster.root, app_id), load_sm4_key(
        sm4_key_file(cluster.root / "pki", app_id)
    )


async def node_key(http) -> bytes:
    """The node's public SM2 key, as a channel fetches it (over TLS from the CA)."""
    return bytes.fromhex((await http.get("/ec/v1/channel/key")).json()["publicKey"])


@pytest.fixture
async def nation(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",), https=True)
    return sk


async def test_a_code_displayed_through_the_channel_door_is_scanned_through_the_terminal_door(
    nation,
):
    cluster = nation.cluster
    p44 = nation.provinces["44"]
    person = insured_in(nation.kit, "44")[0]
    auth = await nation.activated(person, "44")
    sign, sm4 = keys(cluster)
    async with cluster.pki.https(p44, None) as http:  # a channel has no client certificate
        key = await node_key(http)
        envelope = op.seal_request(OFFICIAL, sign, sm4, "QrService/IssueQrCode", {"authCode": auth})
        r = await http.post("/ec/v1/channel/IssueQrCode", json=envelope)
        assert r.status_code == 200
        answer = r.json()
        assert answer["node"] == "p44" and answer["appId"] == OFFICIAL
        code, message, data = op.open_response(answer, key, sm4)
        assert code == 0 and message == "成功", message
        assert data["ecQrCode"].endswith("440000") and data["insuOrg"] == person.insured[0].insu_org
        # the answer is the node's: altered, it no longer verifies
        forged = dict(answer, code=1)
        with pytest.raises(ValueError, match="signature"):
            op.open_response(forged, key, sm4)
    t = nation.terminals["44"][0]
    who = cluster.pki.terminal(t.terminal_id, t.org_id)
    async with cluster.pki.https(p44, who) as http:
        body = {
            "orgId": t.org_id,
            "transType": "ec.query",
            "data": {
                "businessType": "01101",
                "operatorId": "o1",
                "operatorName": "收费员",
                "ecQrCode": data["ecQrCode"],
            },
        }
        scanned = (await http.post("/ec/v1/trans", json=body)).json()
    assert scanned["code"] == 0 and scanned["data"]["idNo"] == person.id_no


async def test_every_refusal_of_a_signed_call_has_its_twin_at_the_door(nation):
    cluster = nation.cluster
    p44 = nation.provinces["44"]
    sign, sm4 = keys(cluster)
    body = {"authCode": "0" * 32}
    now = p44.clock.now_ms()

    def envelope(**kw) -> dict:
        return op.seal_request(OFFICIAL, sign, sm4, "QrService/IssueQrCode", body, **kw)

    async with cluster.pki.https(p44, None) as http:
        key = await node_key(http)

        async def post(payload, path: str = "/ec/v1/channel/IssueQrCode", status: int = 200):
            r = await http.post(path, content=json.dumps(payload).encode())
            assert r.status_code == status, r.text
            code, message, _ = op.open_response(r.json(), key, sm4)  # always signed by 44
            return code, message

        # a good envelope reaches the method: an unknown authorization code
        assert (await post(envelope()))[0] == 500040
        # a signature made over something else
        altered = envelope()
        altered["version"] = "2.0.0"
        assert (await post(altered))[0] == 500036
        other_key = op.seal_request(
            OFFICIAL, private_key(cluster.root, "NO-SUCH"), sm4, "QrService/IssueQrCode", body
        )
        assert (await post(other_key))[0] == 500036
        # replayed nonce
        once = envelope(nonce="the-same-nonce-1")
        assert (await post(once))[0] == 500040
        code, message = await post(once)
        assert code == -4 and "used before" in message
        # stale timestamp
        code, message = await post(envelope(now_ms=now - 10 * 60 * 1000))
        assert code == -4 and "minutes" in message
        # an appId national never approved
        stranger = op.seal_request(
            "NO-SUCH", private_key(cluster.root, "NO-SUCH"), sm4, "QrService/IssueQrCode", body
        )
        assert (await post(stranger))[0] == 500012
        # encData under another key
        wrong = op.seal_request(OFFICIAL, sign, bytes(16), "QrService/IssueQrCode", body)
        assert (await post(wrong))[0] == 500072
        # a field the request message does not have
        junk = op.seal_request(OFFICIAL, sign, sm4, "QrService/IssueQrCode", {"nope": "1"})
        code, message = await post(junk)
        assert code == -2 and "nope" in message
        # a malformed envelope
        code, message = await post({k: v for k, v in envelope().items() if k != "nonce"})
        assert code == -2 and "nonce" in message
        # what is not a call
        code, _ = await post(envelope(), "/ec/v1/channel/Activate", 404)  # national's
        assert code == -5
        assert (await post(envelope(), "/ec/v1/channel/NoSuchMethod", 404))[0] == -5
        r = await http.post("/ec/v1/channel/IssueQrCode", content=b"{not json")
        assert r.status_code == 400 and op.open_response(r.json(), key, None)[0] == -2
        r = await http.post("/ec/v1/channel/IssueQrCode", content=b"[]")
        assert r.status_code == 400
        r = await http.post("/ec/v1/channel/IssueQrCode", content=b" " * (3 * 1024 * 1024))
        assert r.status_code == 413 and op.open_response(r.json(), key, None)[0] == -2


async def test_the_channel_rate_limit_answers_minus_6_with_retry_after(cluster, tmp_path):
    sk = await start_scan_nation(
        cluster,
        tmp_path,
        ("44",),
        https=True,
        extra={"limits_channel_burst": "3", "limits_channel_per_second": "0.01"},
    )
    p44 = sk.provinces["44"]
    sign, sm4 = keys(cluster)
    codes, last = [], None
    async with cluster.pki.https(p44, None) as http:
        key = await node_key(http)
        for _ in range(5):
            envelope = op.seal_request(
                OFFICIAL, sign, sm4, "QrService/IssueQrCode", {"authCode": "0" * 32}
            )
            last = await http.post("/ec/v1/channel/IssueQrCode", json=envelope)
            codes.append(op.open_response(last.json(), key, sm4)[0])
    assert -6 not in codes[:3] and codes[3:] == [-6, -6], codes
    assert last.headers["retry-after"]


async def test_nationals_door_serves_the_voucher_calls(nation):
    cluster = nation.cluster
    national = cluster.national
    person = insured_in(nation.kit, "44")[1]
    sign, sm4 = keys(cluster)
    async with cluster.pki.https(national, None) as http:
        key = await node_key(http)
        who = {"userName": person.user_name, "idType": person.id_type, "idNo": person.id_no}
        envelope = op.seal_request(OFFICIAL, sign, sm4, "VoucherService/RealNameCheck", who)
        r = await http.post("/ec/v1/channel/RealNameCheck", json=envelope)
        code, message, data = op.open_response(r.json(), key, sm4)
        assert code == 0, message
        assert data["realNameSerial"] and data["livenessChallenge"]
        # QR issue is a province's
        envelope = op.seal_request(
            OFFICIAL, sign, sm4, "QrService/IssueQrCode", {"authCode": "0" * 32}
        )
        r = await http.post("/ec/v1/channel/IssueQrCode", json=envelope)
        assert r.status_code == 404 and op.open_response(r.json(), key, sm4)[0] == -5
        spec = (await http.get("/openapi.json")).json()
    assert "/ec/v1/channel/Activate" in spec["paths"] and "/ec/v1/trans" not in spec["paths"]
    assert "/ec/v1/channel/IssueQrCode" not in spec["paths"]
    assert "ChannelEnvelope" in spec["components"]["schemas"]
