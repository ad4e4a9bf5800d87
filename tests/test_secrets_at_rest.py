"""Secrets at rest (issue 12, part 5; node.vault): no authorization code, QR key or face
template in any database file; a node started with another master key refuses to
start; routed answers carry no authorization code."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.message import Message
from scankit import eventually, insured_in, start_scan_nation
from voucherkit import OFFICIAL, PASSWORD, SEED, WECHAT, identity, real_person, start_nation

from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import voucher_service_pb2 as vpb
from node.app import Node, NodeStartError
from node.population import enrolled_face_template


def _database_bytes(root: Path) -> dict[Path, bytes]:
    """Every SQLite file under ``root``: databases, their WAL and shared memory."""
    files = [f for f in root.rglob("*") if f.is_file() and ".db" in f.name]
    assert any(f.name.endswith("-wal") for f in files), files
    return {f: f.read_bytes() for f in files}


def _named_fields(msg: Message, names: set[str]) -> list[tuple[str, object]]:
    """Every set field called one of ``names``, anywhere in ``msg``."""
    found: list[tuple[str, object]] = []
    for field, value in msg.ListFields():
        if field.name in names:
            found.append((field.name, value))
        if field.message_type is not None:
            values = value if field.is_repeated else [value]
            for v in values:
                found += _named_fields(v, names)
    return found


async def test_no_raw_secret_in_the_database_files(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    kit = sk.kit
    p44, p31 = sk.provinces["44"], sk.provinces["31"]
    p = insured_in(kit, "44")[0]
    official = await sk.activated(p, "44")
    request = vpb.AuthorizeRequest(
        **identity(p), password=PASSWORD, businessProvince="44", requestId="r-1"
    )
    wechat = (await kit.channel(WECHAT).Authorize(request)).authCode
    # the answer kept for the requestId is sealed, and still answers the retry
    assert (await kit.channel(WECHAT).Authorize(request)).authCode == wechat

    async def at_44():
        return await p44.store.get_by_auth_code(wechat) is not None

    await eventually(at_44, what="WeChat's authorization at 44")
    await sk.scanner("31").query(await sk.issue("44", wechat, channel=WECHAT))  # routed
    await sk.scanner("44").query(await sk.issue("44", official))  # local
    await sk.issue("31", official)  # 31 fetches the voucher from national

    qr_keys = [n.provincial.issuer.qr_key for n in (p44, p31)]
    assert all(len(k) == 16 for k in qr_keys)
    needles = {
        "authCode": [c.encode() for c in (official, wechat)]
        + [c.lower().encode() for c in (official, wechat)],
        "QR key": qr_keys + [k.hex().encode() for k in qr_keys],
        "face template": [enrolled_face_template(SEED, p.id_no)],
    }
    files = _database_bytes(tmp_path)
    # the search sees the databases' data: the voucher number is there, in clear
    card = (await p44.store.get_by_auth_code(official)).voucher.ec_card_no.encode()
    assert any(card in data for data in files.values())
    found = [
        (what, f.name)
        for f, data in files.items()
        for what, values in needles.items()
        for v in values
        if v in data
    ]
    assert found == []


async def test_a_node_started_with_another_master_key_refuses_to_start(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=50)
    data = kit.national.config.data_dir
    assert (data / "master.key").stat().st_mode & 0o777 == 0o600
    await kit.national.stop(grace=0)
    cluster.nodes.remove(kit.national)

    other = tmp_path / "other.key"
    other.write_text("00" * 16 + "\n")
    other.chmod(0o600)
    with pytest.raises(NodeStartError) as refused:
        await cluster.start_national(kit.clock, master_key=other)
    assert "another master key" in str(refused.value)
    assert "\n" not in str(refused.value)

    # the program: one line on stderr, a nonzero exit, no traceback
    run = subprocess.run(
        [sys.executable, "-m", "node", "--role", "national", "--listen", "127.0.0.1:0"]
        + ["--data", str(data), "--master-key", str(other), "--quiet", "--insecure"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "another master key" in run.stderr and "Traceback" not in run.stderr, run.stderr

    other.chmod(0o644)  # a key others may read is refused before anything is opened
    with pytest.raises(NodeStartError, match="readable by others"):
        await cluster.start_national(kit.clock, master_key=other)

    # its own key (the default file) still opens it
    node = await cluster.start_national(kit.clock)
    assert (await node.store.counts())["persons"] == 50


async def test_a_routed_answer_carries_no_authorization_code(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    kit = sk.kit
    p = insured_in(kit, "44")[0]
    official = await sk.activated(p, "44")
    wechat = await kit.channel(WECHAT).Authorize(
        vpb.AuthorizeRequest(**identity(p), password=PASSWORD, businessProvince="44")
    )

    async def both_at_44():
        m = await sk.provinces["44"].store.get_by_auth_code(wechat.authCode)
        return m is not None and len(m.voucher.authorizations) == 2

    await eventually(both_at_44, what="both authorizations at 44")
    t = sk.terminals["31"][0]
    names = {"authCode", "authCodeDigest"}
    for node, caller in ((kit.national, "p31"), (sk.provinces["44"], "national")):
        shown = await sk.issue("44", official)
        request = fed_pb.RouteQueryRequest(
            servingProvince="31",
            terminalId=t.terminal_id,
            query=acc_pb.QueryRequest(
                orgId=t.org_id,
                businessType="01101",
                operatorId="a",
                operatorName="b",
                ecQrCode=shown,
            ),
        )
        answer = await cluster.stubs(node, as_=caller).federation.RouteQuery(request, timeout=5)
        # what the serving province needs: the voucher and its channels
        assert answer.voucher.ecCardNo and len(answer.voucher.authorizations) == 2
        assert {a.channelId for a in answer.voucher.authorizations} == {OFFICIAL, WECHAT}
        assert _named_fields(answer, names) == []

    # a scan routed by 31 leaves 31 with no authorization of the voucher
    await sk.scanner("31").query(await sk.issue("44", official))
    assert await sk.provinces["31"].store.get_by_auth_code(official) is None
    assert (await sk.provinces["31"].store.counts())["channel_auths"] == 0


def _as_an_older_version_left_it(
    national: Node, province: Node, codes: list[str], face: tuple[str, bytes], answer: str
) -> None:
    """Put the secrets of two stopped nodes' databases back in clear, where an older
    version kept them (after m010 / m013 renamed the columns, before any key)."""
    nkeys, pkeys = national.store.keys, province.store.keys
    with sqlite3.connect(national.db_path) as conn:
        for code in codes:
            conn.execute(
                "UPDATE authorizations SET code_hash = ?, code_digest = NULL WHERE code_hash = ?",
                (code, nkeys.code_hash(code)),
            )
        conn.execute(
            "UPDATE persons SET face_template = ?, face_sealed = NULL WHERE id_no = ?",
            (face[1], face[0]),
        )
        conn.execute(
            "UPDATE idempotency SET result = ? WHERE request_id = 'r-old'",
            (json.dumps({"auth_code": answer, "ec_card_no": "x", "version": 2}),),
        )
        seq, body = conn.execute("SELECT seq, body FROM outbox ORDER BY seq DESC").fetchone()
        event = fed_pb.Event.FromString(body)
        for a, code in zip(event.voucher.authorizations, codes, strict=False):
            a.authCode, a.authCodeDigest = code, ""
        conn.execute("UPDATE outbox SET body = ? WHERE seq = ?", (event.SerializeToString(), seq))
        sealed = conn.execute("SELECT value FROM meta WHERE key = 'voucher_key_sealed'").fetchone()
        voucher_key = nkeys.open(bytes.fromhex(sealed[0]), "voucher_key").hex()
        conn.execute(
            "DELETE FROM meta WHERE key IN "
            "('master_key_check', 'voucher_key_sealed', 'secrets_at_rest')"
        )
        conn.execute("INSERT INTO meta (key, value) VALUES ('voucher_key', ?)", (voucher_key,))
    with sqlite3.connect(province.db_path) as conn:
        for code in codes:
            for table in ("channel_auths", "qr_codes"):
                conn.execute(
                    f"UPDATE {table} SET code_hash = ? WHERE code_hash = ?",
                    (code, pkeys.code_hash(code)),
                )
        sealed = conn.execute("SELECT value FROM meta WHERE key = 'qr_key_sealed'").fetchone()[0]
        raw = pkeys.open(bytes.fromhex(sealed), "qr_key").hex()
        conn.execute(
            "DELETE FROM meta WHERE key IN ('master_key_check', 'qr_key_sealed', 'secrets_at_rest')"
        )
        conn.execute("INSERT INTO meta (key, value) VALUES ('qr_key', ?)", (raw,))


async def test_an_older_database_is_converted_at_its_first_start(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44",))
    kit = sk.kit
    p44 = sk.provinces["44"]
    p = insured_in(kit, "44")[0]
    official = await sk.activated(p, "44")
    request = vpb.AuthorizeRequest(
        **identity(p), password=PASSWORD, businessProvince="44", requestId="r-old"
    )
    wechat = (await kit.channel(WECHAT).Authorize(request)).authCode

    async def at_44():
        m = await p44.store.get_by_auth_code(wechat)
        return m is not None

    await eventually(at_44, what="WeChat's authorization at 44")
    shown = await sk.issue("44", official)
    qr_key = p44.provincial.issuer.qr_key
    voucher_key = await kit.national.national.lifecycle.key()
    q = insured_in(kit, "44")[1]  # not activated: a real-person check of q needs its face
    face = enrolled_face_template(SEED, q.id_no)
    for node in (p44, kit.national):
        await node.stop(grace=0)
        cluster.nodes.remove(node)
    _as_an_older_version_left_it(kit.national, p44, [official, wechat], (q.id_no, face), wechat)
    raw = [official.encode(), wechat.encode(), face, qr_key.hex().encode()]
    raw.append(voucher_key.hex().encode())
    before = b"".join(_database_bytes(tmp_path).values())
    assert all(v in before for v in raw)

    await cluster.start_national(kit.clock, extra=dict(kit.extra))
    p44 = sk.provinces["44"] = await cluster.start_province("44")
    # the codes are found by their keyed hashes now, the QR key is the same
    assert (await p44.store.get_by_auth_code(wechat)).channel_id == WECHAT
    assert p44.provincial.issuer.qr_key == qr_key
    assert await cluster.national.national.lifecycle.key() == voucher_key
    # the code shown before is found with its converted authorization and decoded
    assert (await sk.scanner("44").query(shown)).ecToken
    # the answer kept for the requestId answers the retry with its code
    assert (await kit.channel(WECHAT).Authorize(request)).authCode == wechat
    # national finds the official code, and the face opens for a real-person check
    status = await kit.channel(OFFICIAL).GetVoucherStatus(
        vpb.GetVoucherStatusRequest(authCode=official)
    )
    assert status.ecCardNo
    assert (await real_person(kit, kit.channel(OFFICIAL), q)).realPersonSerial
    found = [
        (f.name, raw.index(v))
        for f, data in _database_bytes(tmp_path).items()
        for v in raw
        if v in data
    ]
    assert found == []
