"""Secrets at rest (issue 12, part 5; node.vault): no authorization code, QR key or face
template in any database file; a node started with another master key refuses to
start; routed answers carry no authorization code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.message import Message
from scankit import eventually, insured_in, start_scan_nation
from voucherkit import OFFICIAL, PASSWORD, SEED, WECHAT, identity, start_nation

from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import voucher_service_pb2 as vpb
from node.app import NodeStartError
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
        + ["--data", str(data), "--master-key", str(other), "--quiet"],
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
        answer = await cluster.stubs(node).federation.RouteQuery(
            request, timeout=5, metadata=(("ec-node", caller),)
        )
        # what the serving province needs: the voucher and its channels
        assert answer.voucher.ecCardNo and len(answer.voucher.authorizations) == 2
        assert {a.channelId for a in answer.voucher.authorizations} == {OFFICIAL, WECHAT}
        assert _named_fields(answer, names) == []

    # a scan routed by 31 leaves 31 with no authorization of the voucher
    await sk.scanner("31").query(await sk.issue("44", official))
    assert await sk.provinces["31"].store.get_by_auth_code(official) is None
    assert (await sk.provinces["31"].store.counts())["channel_auths"] == 0
