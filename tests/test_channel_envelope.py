"""The open platform's envelope (node.domain.openplatform) and the channel's SM4 key on
every node: a request sealed by a channel is read, decrypted and its signature checked
(``ChannelCheck.check(..., envelope=...)``) with what a real province was told by
national; the node's answer is signed with its event-signing key and opened by the
channel. Every refusal is made: a tampered encData, a tampered field, another node's key,
bad base64, a missing field, another encType or signType, a replayed nonce. A province
receives a channel's SM4 key with its record after approval and after rotation, keeps it
sealed (not in clear in its database file), decrypts SM4 fields with it and takes signed
calls that say ``ec-enc-type: SM4``; ``ecnet channels envelope`` / ``open`` round trip."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path

import pytest
from chankit import QR, VOUCHER, known, private_key, signed
from clikit import ecnet, write_nation
from voucherkit import WECHAT, activate, identity, start_nation

from ecnet.v1 import admin_service_pb2 as apb
from ecnet.v1 import qr_service_pb2 as qpb
from ecnet.v1 import qr_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as vpb
from node.domain import openplatform as op
from node.domain.channelsig import (
    ChannelKey,
    key_file,
    load_sm4_key,
    message_body,
    sign_message,
    signature_base,
    sm4_key_file,
    sm4_key_for,
    sm4_seal,
)
from node.domain.sm import sm2_generate_keypair
from node.errors import EcError
from node.interceptor import Caller, ChannelCheck

METHOD = "ecnet.v1.QrService/IssueQrCode"
NOW = 1_767_225_600_000  # a fixed time for the pure tests
CHANNEL = sm2_generate_keypair()
NODE = sm2_generate_keypair()
SM4 = bytes(range(16))
BODY = {"authCode": "A" * 32, "insuOrg": "440100"}


def sealed(**kw) -> dict:
    args = {"now_ms": NOW, "nonce": "nonce-0001"} | kw
    return op.seal_request("WECHAT", CHANNEL.private_key, SM4, METHOD, BODY, **args)


def refused(code: int, call, *args, **kw) -> str:
    with pytest.raises(EcError) as info:
        call(*args, **kw)
    assert info.value.code == code, info.value
    return info.value.message


def checker(channel: ChannelKey, now_ms: int = NOW) -> ChannelCheck:
    return ChannelCheck(
        lambda app_id: channel if app_id == channel.app_id else None, lambda: now_ms
    )


def door_check(check: ChannelCheck, envelope: object, sm4_key: bytes, method: str = METHOD):
    """What the channel door does with a POST body, short of HTTP: read, decrypt, check."""
    request, channel, body = op.open_request(envelope, check.lookup)
    assert channel.sm4_key == sm4_key
    message = qpb.IssueQrCodeRequest(**body)
    caller = check.check(
        "/" + method, request.metadata(), message, Caller(), envelope=request.envelope_fields()
    )
    return caller, message


# -- the envelope, pure -----------------------------------------------------------------
def test_a_sealed_request_opens_and_its_signature_covers_the_envelope():
    env = sealed()
    assert set(env) == set(op.REQUEST_FIELDS)
    assert (env["encType"], env["signType"], env["version"]) == ("SM4", "SM2", "1.0.0")
    assert len(base64.b64decode(env["signData"])) == 64
    assert "A" * 32 not in json.dumps(env)  # the body travels encrypted only
    request = op.read_request(json.loads(json.dumps(env)))
    assert request.open(SM4) == BODY
    assert request.verify(CHANNEL.public_key, METHOD, BODY)
    # the base is the gRPC call's plus signType and version
    grpc_base = signature_base(METHOD, BODY, "WECHAT", NOW, "nonce-0001", "SM4")
    env_base = signature_base(
        METHOD, BODY, "WECHAT", NOW, "nonce-0001", "SM4", {"signType": "SM2", "version": "1.0.0"}
    )
    assert env_base == grpc_base.replace("&timestamp=", "&signType=SM2&timestamp=") + (
        "&version=1.0.0"
    )
    # a short method name is the contract's
    assert op.read_request(
        op.seal_request("WECHAT", CHANNEL.private_key, SM4, "QrService/IssueQrCode", BODY)
    ).verify(CHANNEL.public_key, METHOD, BODY)
    with pytest.raises(ValueError, match="not a method"):
        op.full_method("IssueQrCode")
    # the envelope's names are reserved in a request, as appId is
    with pytest.raises(ValueError, match="reserves"):
        signature_base(METHOD, {"version": "2"}, "WECHAT", NOW, "nonce-0001")
    with pytest.raises(ValueError, match="not an envelope field"):
        signature_base(METHOD, BODY, "WECHAT", NOW, "nonce-0001", "", {"appId": "X"})


def test_the_channel_check_takes_the_envelope_and_refuses_every_alteration():
    channel = ChannelKey("WECHAT", CHANNEL.public_key, ("ecnet.v1.QrService/*",), sm4_key=SM4)
    caller, message = door_check(checker(channel), sealed(), SM4)
    assert caller.channel_id == "WECHAT" and message.authCode == "A" * 32

    # a field of the envelope altered after signing (each one signed): 500036
    for field, value in (("version", "1.0.1"), ("timestamp", str(NOW + 1)), ("appId", "ALIPAY")):
        env = sealed(nonce=f"nonce-{field}")
        env[field] = value
        alipay = ChannelKey("ALIPAY", CHANNEL.public_key, ("ecnet.v1.QrService/*",), sm4_key=SM4)
        check = checker(alipay if field == "appId" else channel)
        refused(500036, door_check, check, env, SM4)
    # the body swapped for another encrypted one: the signature is over the plaintext
    env = sealed(nonce="nonce-swap")
    env["encData"] = sm4_seal(SM4, json.dumps({"authCode": "B" * 32}))
    refused(500036, door_check, checker(channel), env, SM4)
    # the signature of one method presented for another
    refused(
        500036,
        door_check,
        checker(channel),
        sealed(nonce="nonce-meth"),
        SM4,
        "ecnet.v1.QrService/RefreshQrCode",
    )
    # signed by another key than the channel's
    thief = op.seal_request(
        "WECHAT",
        sm2_generate_keypair().private_key,
        SM4,
        METHOD,
        BODY,
        now_ms=NOW,
        nonce="n-thief1",
    )
    refused(500036, door_check, checker(channel), thief, SM4)
    # replayed: the nonce was seen (-4), stale: -4
    check = checker(channel)
    door_check(check, sealed(nonce="nonce-once"), SM4)
    assert "used before" in refused(-4, door_check, check, sealed(nonce="nonce-once"), SM4)
    stale = sealed(nonce="nonce-stale", now_ms=NOW - 6 * 60 * 1000)
    assert "good for 5 minutes" in refused(-4, door_check, checker(channel), stale, SM4)


def test_every_malformed_envelope_is_refused_with_its_code():
    assert "JSON object" in refused(-2, op.read_request, [sealed()])
    for field in ("appId", "encType", "signType", "timestamp", "version", "nonce", "encData"):
        env = sealed()
        del env[field]
        assert field in refused(-2, op.read_request, env)
    env = sealed()
    env["timestamp"] = NOW
    assert "timestamp must be text" in refused(-2, op.read_request, env)
    assert "SM4 only" in refused(-2, op.read_request, sealed() | {"encType": "AES"})
    assert "SM2 only" in refused(-2, op.read_request, sealed() | {"signType": "RSA"})
    assert "does not know" in refused(-2, op.read_request, sealed() | {"sign": "x"})
    assert "nonce" in refused(-2, op.read_request, sealed() | {"nonce": "short"})
    assert "milliseconds" in refused(-2, op.read_request, sealed() | {"timestamp": "1.5e12"})
    assert "appId" in refused(-2, op.read_request, sealed() | {"appId": "wechat"})
    assert "longer than" in refused(-2, op.read_request, sealed() | {"version": "1" * 17})
    op.read_request(sealed() | {"extra": {"anything": 1}})  # ignored, as on the open platform
    # signData: missing, not base64, not 64 bytes: 500036
    env = sealed()
    del env["signData"]
    assert "not signed" in refused(500036, op.read_request, env)
    for bad in ("%%%not-base64%%%", base64.b64encode(b"x" * 63).decode()):
        assert "64-byte" in refused(500036, op.read_request, sealed() | {"signData": bad})
    # encData that does not decrypt (altered, another key, not hex): 500072
    request = op.read_request(sealed())
    refused(500072, request.open, b"k" * 16)
    # (the last block cut off: the one before it ends in data, not in padding)
    for enc in ("zz" * 16, sealed()["encData"][:-32]):
        refused(500072, op.read_request(sealed() | {"encData": enc}).open, SM4)
    # decrypts, but to no JSON object
    for plain in ("[1, 2]", "not json"):
        enc = sm4_seal(SM4, plain)
        assert "JSON object" in refused(-2, op.read_request(sealed() | {"encData": enc}).open, SM4)


def test_a_response_is_signed_by_the_node_and_opened_by_the_channel():
    request = op.read_request(sealed())
    data = {"ecQrCode": "Q" * 40, "expiresAt": "2026-01-01T00:01:00Z", "insuOrg": "440100"}
    answer = op.seal_response(
        "p44", NODE.private_key, SM4, request, METHOD, 0, "success", data,
        now_ms=NOW + 5, nonce="answer-0001",
    )  # fmt: skip
    assert answer["node"] == "p44" and answer["appId"] == "WECHAT" and "Q" * 40 not in str(answer)
    wire = json.loads(json.dumps(answer))
    assert op.open_response(wire, NODE.public_key, SM4) == (0, "success", data)

    # tampered: encData, a field, the code; another node's key; another SM4 key
    swapped = wire | {"encData": sm4_seal(SM4, json.dumps({"ecQrCode": "F" * 40}))}
    with pytest.raises(ValueError, match="signature does not verify"):
        op.open_response(swapped, NODE.public_key, SM4)
    for field, value in (("code", 500040), ("node", "p31"), ("message", "ok"), ("nonce", "x" * 8)):
        with pytest.raises(ValueError, match="signature does not verify"):
            op.open_response(wire | {field: value}, NODE.public_key, SM4)
    with pytest.raises(ValueError, match="signature does not verify"):
        op.open_response(wire, sm2_generate_keypair().public_key, SM4)
    with pytest.raises(ValueError, match="does not decrypt"):
        op.open_response(wire, NODE.public_key, b"k" * 16)
    with pytest.raises(ValueError, match="64-byte"):
        op.open_response(wire | {"signData": "%%"}, NODE.public_key, SM4)
    with pytest.raises(ValueError, match="integer code"):
        op.open_response(wire | {"code": "0"}, NODE.public_key, SM4)

    # a refusal before the channel's key is known: no encData, signed all the same
    refusal = op.seal_response(
        "p44", NODE.private_key, None, None, METHOD, 500012, "channel 'X' is not registered",
        None, now_ms=NOW, nonce="answer-0002",
    )  # fmt: skip
    assert "encData" not in refusal and refusal["appId"] == ""
    assert op.open_response(refusal, NODE.public_key, None) == (
        500012,
        "channel 'X' is not registered",
        {},
    )
    with pytest.raises(ValueError, match="signature does not verify"):
        op.open_response(refusal | {"code": 0}, NODE.public_key, None)
    with pytest.raises(ValueError, match="none was given"):
        op.seal_response(
            "p44", NODE.private_key, None, request, METHOD, 0, "success", data,
            now_ms=NOW, nonce="answer-0003",
        )  # fmt: skip


# -- real nodes -----------------------------------------------------------------------
async def _until(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _database_bytes(node) -> bytes:
    path = Path(node.db_path)
    return b"".join(f.read_bytes() for f in path.parent.glob(path.name + "*") if f.is_file())


async def test_a_province_holds_each_channels_sm4_key_sealed_and_decrypts_with_it(
    cluster, tmp_path
):
    kit = await start_nation(cluster, tmp_path, population=40)
    p44 = await cluster.start_province("44")
    await known(p44, WECHAT)
    national_key = kit.national.national.channel_key(WECHAT)
    assert national_key is not None and len(national_key.sm4_key) == 16
    wechat = p44.provincial.channel_key(WECHAT)
    assert wechat is not None and wechat.sm4_key == national_key.sm4_key
    # seeding kept it beside the channel's signing key (what the approval gives a channel)
    kept = sm4_key_file(tmp_path / "pki", WECHAT)
    assert kept.parent == key_file(tmp_path / "pki", WECHAT).parent
    assert load_sm4_key(kept) == wechat.sm4_key and kept.stat().st_mode & 0o777 == 0o600

    # a channel approved now: the province is told its SM4 key with its record
    bank = sm2_generate_keypair()
    applied = await cluster.stubs(p44).admin.ApplyChannel(
        apb.ApplyChannelRequest(
            name="某银行",
            publicKey=bank.public_key.hex(),
            scopes=["ecnet.v1.QrService/*", "ecnet.v1.VoucherService/RealNameCheck"],
        ),
        timeout=10,
    )
    approved = await kit.admin().ApproveChannelApplication(
        apb.ApproveChannelApplicationRequest(
            applicationId=applied.application.applicationId, appId="BANK"
        ),
        timeout=10,
    )
    sm4 = bytes.fromhex(approved.sm4Key)
    await known(p44, "BANK")
    assert p44.provincial.channel_key("BANK").sm4_key == sm4

    # the province's database holds it sealed only (its file and WAL, read as bytes)
    raw = _database_bytes(p44)
    assert raw, "no database file"
    for key in (sm4, wechat.sm4_key):
        assert (
            key not in raw
            and key.hex().encode() not in raw
            and key.hex().upper().encode() not in raw
        )

    # ChannelCheck at the province decrypts an SM4 field with the key it was told
    p = kit.person(3)
    check = ChannelCheck(p44.provincial.channel_key, p44.clock.now_ms)
    request = vpb.RealNameCheckRequest(**identity(p, idNo=sm4_seal(sm4, p.id_no)))
    md = sign_message(
        "BANK", bank.private_key, VOUCHER + "RealNameCheck", request,
        now_ms=p44.clock.now_ms(), enc_type="SM4",
    )  # fmt: skip
    caller = check.check(VOUCHER + "RealNameCheck", md, request, Caller())
    assert caller.channel_id == "BANK" and request.idNo == p.id_no
    # under another key: 500072
    wrong = vpb.RealNameCheckRequest(**identity(p, idNo=sm4_seal(b"k" * 16, p.id_no)))
    md = sign_message(
        "BANK", bank.private_key, VOUCHER + "RealNameCheck", wrong,
        now_ms=p44.clock.now_ms(), enc_type="SM4",
    )  # fmt: skip
    refused(500072, check.check, VOUCHER + "RealNameCheck", md, wrong, Caller())

    # a signed QR call that says ec-enc-type SM4 is taken at the province (it was -2:
    # "encrypted fields are taken by the national node only")
    act = await activate(kit, kit.person(4), channel_id=WECHAT)
    qr = qr_service_pb2_grpc.QrServiceStub(cluster.stubs(p44).channel)
    req = qpb.IssueQrCodeRequest(authCode=act.authCode)
    md = signed(cluster.root, WECHAT, QR + "IssueQrCode", req, p44.clock, enc_type="SM4")
    assert (await qr.IssueQrCode(req, metadata=md, timeout=10)).ecQrCode

    # rotation: a new SM4 key, which the province is told; the old one no longer opens
    rotated = await kit.admin().RotateChannelKey(
        apb.RotateChannelKeyRequest(
            appId="BANK", publicKey=sm2_generate_keypair().public_key.hex()
        ),
        timeout=10,
    )
    new = bytes.fromhex(rotated.sm4Key)
    assert new != sm4 and new == sm4_key_for(kit.national.national.store.keys.master, "BANK", 2)
    await _until(
        lambda: p44.provincial.channel_key("BANK").sm4_key == new, "p44 never got the new key"
    )
    assert new not in _database_bytes(p44)


async def test_the_channel_door_round_trip_against_a_province(cluster, tmp_path):
    """An envelope sealed as WeChat, read by what province 44 knows of WeChat (its key
    and SM4 key from national), answered signed with p44's own key; and each attack."""
    await start_nation(cluster, tmp_path, population=40)
    p44 = await cluster.start_province("44")
    await known(p44, WECHAT)
    wechat = p44.provincial.channel_key(WECHAT)
    sm4 = load_sm4_key(sm4_key_file(tmp_path / "pki", WECHAT))
    check = ChannelCheck(p44.provincial.channel_key, p44.clock.now_ms)

    def envelope(**kw) -> dict:
        return op.seal_request(
            WECHAT, private_key(cluster.root, WECHAT), sm4, METHOD, BODY,
            now_ms=p44.clock.now_ms(), **kw,
        )  # fmt: skip

    caller, message = door_check(check, envelope(), wechat.sm4_key)
    assert caller.channel_id == WECHAT and message_body(message) == BODY
    for change in ({"version": "9"}, {"encType": "SM4 "}, {"nonce": "altered-nonce"}):
        env = envelope() | change
        code = -2 if change.get("encType") else 500036
        refused(code, door_check, check, env, wechat.sm4_key)
    env = envelope()
    env["encData"] = env["encData"][:-32]  # its padding block cut off
    refused(500072, door_check, check, env, wechat.sm4_key)
    env = envelope(nonce="replayed-nonce")
    door_check(check, env, wechat.sm4_key)
    refused(-4, door_check, check, env, wechat.sm4_key)
    # a channel national never approved: unknown here
    stranger = op.seal_request(
        "NO-SUCH", sm2_generate_keypair().private_key, sm4, METHOD, BODY,
        now_ms=p44.clock.now_ms(),
    )  # fmt: skip
    request = op.read_request(stranger)
    assert p44.provincial.channel_key(request.app_id) is None
    assert "NO-SUCH" in refused(500012, op.open_request, stranger, p44.provincial.channel_key)
    refused(
        500012,
        check.check,
        "/" + METHOD,
        request.metadata(),
        qpb.IssueQrCodeRequest(**BODY),
        Caller(),
        envelope=request.envelope_fields(),
    )

    # p44 answers, signed with its event-signing key
    answer = op.seal_response(
        p44.config.name, p44.signer.private_key, wechat.sm4_key, op.read_request(envelope()),
        METHOD, 0, "success", {"ecQrCode": "Q" * 40}, now_ms=p44.clock.now_ms(),
        nonce="answer-nonce-1",
    )  # fmt: skip
    assert op.open_response(answer, p44.signer.public_key, sm4) == (
        0,
        "success",
        {"ecQrCode": "Q" * 40},
    )
    national_signer = cluster.national.signer
    with pytest.raises(ValueError, match="signature does not verify"):
        op.open_response(answer, national_signer.public_key, sm4)


async def test_ecnet_channels_envelope_and_open(cluster, tmp_path):
    """A channel approved with its key in the nation's folder gets its SM4 key kept
    there (and the new one at rotation); ``envelope`` seals a call as it, ``open`` checks
    a node's answer with the node's key (from the nation's folder, or --key)."""
    kit = await start_nation(cluster, tmp_path, population=40)
    p44 = await cluster.start_province("44")
    await known(p44, WECHAT)
    data = write_nation(tmp_path / "nation", kit.national, p44)
    flags = ("--data", str(data))

    key_path = tmp_path / "bank.sign.key"
    rc, out, err = await ecnet(
        "channels", "apply", "--province", "44", "--name", "某银行", "--key-file", str(key_path),
        "--scopes", "ecnet.v1.QrService/*", *flags,
    )  # fmt: skip
    assert rc == 0, err
    rc, out, err = await ecnet(
        "channels", "approve", "CA0000000001", "--app-id", "BANK", "--key-file", str(key_path),
        *flags,
    )  # fmt: skip
    assert rc == 0, err
    given = out.split("given once): ", 1)[1].split()[0]
    kept = data / "pki" / "channels" / "BANK.sm4.key"
    assert load_sm4_key(kept).hex() == given and kept.stat().st_mode & 0o777 == 0o600
    await known(p44, "BANK")
    assert p44.provincial.channel_key("BANK").sm4_key.hex() == given

    rc, out, err = await ecnet("channels", "rotate-key", "BANK", *flags)
    assert rc == 0, err
    rotated = out.rsplit("new SM4 key: ", 1)[1].split()[0]
    assert rotated != given and load_sm4_key(kept).hex() == rotated
    await _until(
        lambda: p44.provincial.channel_key("BANK").sm4_key.hex() == rotated,
        "p44 never got the rotated key",
    )

    # envelope: sealed as BANK, read by what p44 knows of BANK
    body = json.dumps({"authCode": "C" * 32})
    rc, out, err = await ecnet(
        "channels", "envelope", "BANK", "QrService/IssueQrCode", body, *flags
    )
    assert rc == 0, err
    env = json.loads(out)
    check = ChannelCheck(p44.provincial.channel_key, p44.clock.now_ms)
    bank = p44.provincial.channel_key("BANK")
    caller, message = door_check(check, env, bank.sm4_key)
    assert caller.channel_id == "BANK" and message.authCode == "C" * 32
    rc, out, err = await ecnet("channels", "envelope", "BANK", "IssueQrCode", body, *flags)
    assert rc != 0 and "not a method" in err
    rc, out, err = await ecnet("channels", "envelope", "NOBODY", METHOD, body, *flags)
    assert rc != 0 and "no signing key of channel NOBODY" in err

    # open: p44's answer, its key from the nation's folder (DIR/pki/nodes/p44.sign.key)
    answer = op.seal_response(
        "p44", p44.signer.private_key, bank.sm4_key, op.read_request(env), METHOD, 0,
        "success", {"ecQrCode": "Q" * 40}, now_ms=p44.clock.now_ms(), nonce="answer-nonce-2",
    )  # fmt: skip
    nodes = cluster.root / "pki" / "nodes"  # beside p44's data folder, as nation up has it
    os.makedirs(nodes, exist_ok=True)
    (nodes / "p44.sign.key").write_text(p44.signer.private_key.hex() + "\n")
    rc, out, err = await ecnet(
        "channels", "open", "BANK", "--node", "p44", *flags, stdin=json.dumps(answer)
    )
    assert rc == 0, err
    assert json.loads(out) == {"code": 0, "message": "success", "data": {"ecQrCode": "Q" * 40}}
    # or --key; a tampered answer, another node's key, another node's name: refused
    key = ("--key", p44.signer.public_key.hex())
    rc, out, err = await ecnet(
        "channels", "open", "BANK", "--node", "p44", *key, *flags, stdin=json.dumps(answer)
    )
    assert rc == 0, err
    rc, out, err = await ecnet(
        "channels", "open", "BANK", "--node", "p44", *key, *flags,
        stdin=json.dumps(answer | {"code": 500040}),
    )  # fmt: skip
    assert rc != 0 and "does not verify" in err
    other = ("--key", cluster.national.signer.public_key.hex())
    rc, out, err = await ecnet(
        "channels", "open", "BANK", "--node", "p44", *other, *flags, stdin=json.dumps(answer)
    )
    assert rc != 0 and "does not verify" in err
    rc, out, err = await ecnet(
        "channels", "open", "BANK", "--node", "national", *key, *flags, stdin=json.dumps(answer)
    )
    assert rc != 0 and "not national" in err
    rc, out, err = await ecnet(
        "channels", "open", "BANK", "--node", "p31", *flags, stdin=json.dumps(answer)
    )
    assert rc != 0 and "--key" in err


async def test_a_record_told_without_its_sm4_key_is_told_again(cluster, tmp_path):
    """A nation whose provinces were told WeChat's record by a national that sent no SM4
    keys (before national m014): at start, national tells it again as a new version, now
    with the key, and the province takes it."""
    import sqlite3

    def told_before(db: Path) -> None:
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE channels SET announced_version = status_version, sm4_announced = 0 "
                "WHERE channel_id = ?",
                (WECHAT,),
            )

    kit = await start_nation(cluster, tmp_path, population=40, before_start=told_before)
    p44 = await cluster.start_province("44")
    await known(p44, WECHAT)
    wechat = p44.provincial.channel_key(WECHAT)
    assert wechat is not None
    assert wechat.sm4_key == kit.national.national.channel_key(WECHAT).sm4_key
    status = p44.provincial.store.channel_status_now(WECHAT)
    assert status is not None and status.version == 2
