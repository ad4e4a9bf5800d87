"""Operators' roles and the audit log (issue 13, parts 3 and 7), by attacking real nodes.

AdminService answered anyone: ListPersons paged out every person's name, id number and
phone; UpdatePerson renamed a person and moved another's insured region;
SetChannelStatus suspended WECHAT. Now each method checks the caller's role (the one
table, ``node.services.access.ADMIN_ROLES``), ListPersons masks personal data for every
role, and every call is written to the node's hash-chained audit log."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import grpc
import pytest
from voucherkit import fails, start_nation

from conftest import Cluster, TestPki
from ecnet.v1 import admin_service_pb2 as pb
from ecnet.v1 import admin_service_pb2_grpc, common_pb2
from node.domain.masking import mask_id_no, mask_name, mask_phone
from node.errors import from_rpc_error
from node.pki import CertificateAuthority, Identity
from node.services.access import ADMIN_ROLES

SUPPORT = Identity.operator("zhao", duty="support")
AUDITOR = Identity.operator("qian", duty="auditor")
P44 = Identity.operator("sun", duty="p44")
ADMIN = Identity.operator("li", duty="admin")


def admin_as(cluster, node, who) -> admin_service_pb2_grpc.AdminServiceStub:
    return cluster.stubs(node, as_=who).admin


def insured_only_in(kit, province: str):
    return [p for p in kit.population if {r.insu_org[:2] for r in p.insured} == {province}]


def test_every_admin_method_is_in_the_table():
    methods = {m.name for m in pb.DESCRIPTOR.services_by_name["AdminService"].methods}
    assert set(ADMIN_ROLES) == methods


def test_masks():
    assert mask_name("杨凤雪") == "杨*雪" and mask_name("王艳") == "王*"
    assert mask_name("欧阳娜娜") == "欧**娜" and mask_name("杨") == "*"
    assert mask_id_no("441426199112073706") == "441426********3706"
    assert mask_phone("13812345678") == "138****5678"


async def test_list_persons_is_masked_for_every_role(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=60)
    real = {p.id_no[-4:] + p.id_no[:6]: p for p in kit.population}
    for who in ("operator", SUPPORT, AUDITOR, P44, ADMIN):
        resp = await admin_as(cluster, kit.national, who).ListPersons(
            pb.ListPersonsRequest(pageSize=50), timeout=10
        )
        assert resp.persons, who
        for shown in resp.persons:
            p = real[shown.idNo[-4:] + shown.idNo[:6]]
            assert shown.idNo == mask_id_no(p.id_no) and "*" in shown.idNo, who
            assert shown.userName == mask_name(p.user_name), who
            assert shown.phone == mask_phone(p.phone), who

    # support: masked data only, whatever it asks
    support = admin_as(cluster, kit.national, SUPPORT)
    reveal = pb.ListPersonsRequest(pageSize=5, reveal=True, reason="a holder called the hotline")
    await fails(support.ListPersons(reveal, timeout=10), -4)
    await fails(admin_as(cluster, kit.national, P44).ListPersons(reveal, timeout=10), -4)

    # an administrator or auditor reveals with a reason only; the view is audited
    admin = admin_as(cluster, kit.national, "operator")
    no_reason = pb.ListPersonsRequest(pageSize=5, reveal=True, reason="  ")
    assert "reason" in await fails(admin.ListPersons(no_reason, timeout=10), -2)
    for who in ("operator", AUDITOR):
        shown = (await admin_as(cluster, kit.national, who).ListPersons(reveal, timeout=10)).persons
        assert [p.idNo for p in shown] == [p.id_no for p in kit.population[:5]]
        assert [p.userName for p in shown] == [p.user_name for p in kit.population[:5]]
    records = (await admin.ListAudit(pb.ListAuditRequest(limit=50), timeout=10)).records
    reveals = [r for r in records if "revealed 5 person(s) unmasked" in r.subject]
    assert [r.who for r in reveals] == ["ecnet://operator/tester", str(AUDITOR)]
    assert all("reason=a holder called the hotline" in r.subject for r in reveals)
    refused = [r for r in records if r.code == -4 and r.method.endswith("/ListPersons")]
    assert {r.who for r in refused} == {str(SUPPORT), str(P44)}


async def test_a_province_operator_keeps_to_its_province(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=120)
    p44 = admin_as(cluster, kit.national, P44)
    # its own province's persons, whatever it leaves out
    shown = (await p44.ListPersons(pb.ListPersonsRequest(pageSize=200), timeout=10)).persons
    assert shown and all(any(r.insuOrg[:2] == "44" for r in p.insuredRegions) for p in shown)
    everyone = await admin_as(cluster, kit.national, "operator").ListPersons(
        pb.ListPersonsRequest(pageSize=200), timeout=10
    )
    assert len(shown) < len(everyone.persons)
    await fails(p44.ListPersons(pb.ListPersonsRequest(insuredProvince="31"), timeout=10), -4)
    await fails(p44.ListTerminals(pb.ListTerminalsRequest(province="31"), timeout=10), -4)
    terminals = (await p44.ListTerminals(pb.ListTerminalsRequest(), timeout=10)).terminals
    assert terminals and {t.province for t in terminals} == {"44"}

    # UpdatePerson in 31: refused, nothing changed
    far = insured_only_in(kit, "31")[0]
    rename = pb.UpdatePersonRequest(idType=far.id_type, idNo=far.id_no, newUserName="张三")
    assert "31" in await fails(p44.UpdatePerson(rename, timeout=10), -4)
    # nor move a person of 44 to 31
    near = insured_only_in(kit, "44")[0]
    move = pb.UpdatePersonRequest(
        idType=near.id_type,
        idNo=near.id_no,
        insuredRegions=[common_pb2.InsuredRegion(insuOrg="310000", insuType="310")],
    )
    await fails(p44.UpdatePerson(move, timeout=10), -4)
    # a person of 44 it may rename
    own = pb.UpdatePersonRequest(idType=near.id_type, idNo=near.id_no, newUserName="李四")
    assert (await p44.UpdatePerson(own, timeout=10)).person.userName == "李四"

    def names(conn):
        return dict(conn.execute("SELECT id_no, user_name FROM persons").fetchall())

    stored = names(sqlite3.connect(kit.national.db_path))
    assert stored[far.id_no] == far.user_name and stored[near.id_no] == "李四"


async def test_an_auditor_reads_and_changes_nothing(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=30)
    auditor = admin_as(cluster, kit.national, AUDITOR)
    p = kit.population[0]
    await fails(
        auditor.UpdatePerson(
            pb.UpdatePersonRequest(idType=p.id_type, idNo=p.id_no, newUserName="张三"), timeout=10
        ),
        -4,
    )
    await fails(
        auditor.SetChannelStatus(
            pb.SetChannelStatusRequest(channelId="WECHAT", status="suspended"), timeout=10
        ),
        -4,
    )
    await fails(auditor.RetryParked(pb.RetryParkedRequest(destination="44"), timeout=10), -4)
    channels = (await auditor.ListChannels(pb.ListChannelsRequest(), timeout=10)).channels
    assert {c.channelId: c.status for c in channels}["WECHAT"] == "approved"
    assert (await auditor.VerifyAudit(pb.VerifyAuditRequest(), timeout=10)).intact


async def test_no_role_no_management_center(cluster, tmp_path):
    """A node's certificate is no operator's; support changes nothing either."""
    kit = await start_nation(cluster, tmp_path, population=30)
    p = kit.population[0]
    update = pb.UpdatePersonRequest(idType=p.id_type, idNo=p.id_no, newUserName="张三")
    suspend = pb.SetChannelStatusRequest(channelId="WECHAT", status="suspended")
    for who in ("p44", SUPPORT):
        s = admin_as(cluster, kit.national, who)
        await fails(s.UpdatePerson(update, timeout=10), -4)
        await fails(s.SetChannelStatus(suspend, timeout=10), -4)
        await fails(s.ListAudit(pb.ListAuditRequest(), timeout=10), -4)
    node = admin_as(cluster, kit.national, "p44")
    await fails(node.ListPersons(pb.ListPersonsRequest(), timeout=10), -4)
    await fails(node.ListNodes(pb.ListNodesRequest(), timeout=10), -4)
    # what a province needs of national still works, for its own province only
    assert (await node.ListTerminals(pb.ListTerminalsRequest(province="44"), timeout=10)).terminals
    await fails(node.ListTerminals(pb.ListTerminalsRequest(province="31"), timeout=10), -4)
    await node.Ping(pb.PingRequest(), timeout=10)
    admin = admin_as(cluster, kit.national, "operator")
    channels = (await admin.ListChannels(pb.ListChannelsRequest(), timeout=10)).channels
    assert {c.channelId: c.status for c in channels}["WECHAT"] == "approved"


# -- the audit log -----------------------------------------------------------------------


async def test_every_admin_call_and_refusal_is_audited(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=30)
    admin = admin_as(cluster, kit.national, "operator")
    p = kit.population[0]
    await admin.ListChannels(pb.ListChannelsRequest(), timeout=10)
    await admin.Ping(pb.PingRequest(), timeout=10)  # the no-op: not audited
    await fails(
        admin_as(cluster, kit.national, SUPPORT).UpdatePerson(
            pb.UpdatePersonRequest(idType=p.id_type, idNo=p.id_no, newUserName="张三"), timeout=10
        ),
        -4,
    )
    records = (await admin.ListAudit(pb.ListAuditRequest(), timeout=10)).records
    got = [(r.who, r.method.rsplit("/", 1)[1], r.outcome, r.code) for r in records]
    assert got == [
        ("ecnet://operator/tester", "ListChannels", "OK", 0),
        (str(SUPPORT), "UpdatePerson", "PERMISSION_DENIED", -4),
    ]
    refused = records[1]
    # id numbers and names masked; the peer is the caller's address
    assert f"idNo={mask_id_no(p.id_no)}" in refused.subject and p.id_no not in refused.subject
    assert "newUserName=张*" in refused.subject and "张三" not in refused.subject
    assert refused.peer.startswith("ipv4:127.0.0.1:")
    assert [r.sequence for r in records] == [1, 2]
    assert records[0].previousDigest == "0" * 64
    assert records[1].previousDigest == records[0].digest


async def _audit_some(cluster, kit, n: int = 5) -> admin_service_pb2_grpc.AdminServiceStub:
    admin = admin_as(cluster, kit.national, "operator")
    for _ in range(n):
        await admin.ListChannels(pb.ListChannelsRequest(), timeout=10)
    assert (await admin.VerifyAudit(pb.VerifyAuditRequest(), timeout=10)).intact
    return admin


def tamper(db_path, *statements: str) -> None:
    """Edit the database as someone with the file would: around the triggers."""
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("DROP TRIGGER audit_log_no_delete")
        for sql in statements:
            conn.execute(sql)
    conn.close()


async def test_the_log_refuses_edits_from_the_program(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path, population=30)
    await _audit_some(cluster, kit, 1)
    conn = sqlite3.connect(kit.national.db_path)
    for sql in ("UPDATE audit_log SET who = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    conn.close()


@pytest.mark.parametrize(
    ("edit", "bad", "words"),
    [
        ("UPDATE audit_log SET who = 'ecnet://operator/nobody' WHERE seq = 3", 3, "changed"),
        (
            "UPDATE audit_log SET code = -4, outcome = 'PERMISSION_DENIED' WHERE seq = 2",
            2,
            "changed",
        ),
        ("DELETE FROM audit_log WHERE seq = 3", 3, "missing"),
        ("DELETE FROM audit_log WHERE seq = 5", 5, "missing"),  # the last one
    ],
)
async def test_verify_names_the_first_record_changed_or_removed(
    cluster, tmp_path, edit, bad, words
):
    kit = await start_nation(cluster, tmp_path, population=30)
    admin = await _audit_some(cluster, kit, 4)  # 4 records, and VerifyAudit's is the 5th
    tamper(kit.national.db_path, edit)
    got = await admin.VerifyAudit(pb.VerifyAuditRequest(), timeout=10)
    assert (got.intact, got.firstBadSequence) == (False, bad), got
    assert f"record {bad}" in got.problem and words in got.problem


async def test_a_digest_rewritten_is_found_by_the_next_link(cluster, tmp_path):
    """Someone who rewrites a record and its digest breaks the next record's link."""
    kit = await start_nation(cluster, tmp_path, population=30)
    admin = await _audit_some(cluster, kit, 3)
    conn = sqlite3.connect(kit.national.db_path)
    row = conn.execute(
        "SELECT seq, at, who, peer, method, subject, outcome, code, prev_digest "
        "FROM audit_log WHERE seq = 2"
    ).fetchone()
    conn.close()
    from node.storage.audit import AuditEntry, record_digest

    entry = AuditEntry("ecnet://operator/nobody", row[3], row[4], row[5], row[6], row[7])
    forged = record_digest(2, row[1], entry, row[8])
    tamper(
        kit.national.db_path,
        f"UPDATE audit_log SET who = 'ecnet://operator/nobody', digest = '{forged}' WHERE seq = 2",
    )
    got = await admin.VerifyAudit(pb.VerifyAuditRequest(), timeout=10)
    assert (got.intact, got.firstBadSequence) == (False, 3), got


async def test_provinces_keep_an_audit_log_too(cluster, tmp_path):
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    admin = admin_as(cluster, p44, "operator")
    await admin.GetNodeInfo(pb.GetNodeInfoRequest(), timeout=10)
    await fails(
        admin_as(cluster, p44, SUPPORT).RetryParked(pb.RetryParkedRequest(), timeout=10), -4
    )
    records = (await admin.ListAudit(pb.ListAuditRequest(), timeout=10)).records
    assert [(r.method.rsplit("/", 1)[1], r.code) for r in records] == [
        ("GetNodeInfo", 0),
        ("RetryParked", -4),
    ]
    assert (await admin.VerifyAudit(pb.VerifyAuditRequest(), timeout=10)).intact


async def test_insecure_node_without_a_claim_is_administered_as_before(cluster, tmp_path):
    national = await cluster.start_national(insecure=True)
    s = cluster.stubs(national)
    await s.admin.ListNodes(pb.ListNodesRequest(), timeout=10)
    # a terminal is no operator, claim or not (a channel is only what its signature
    # proves, on VoucherService and QrService: an ec-channel-id header names none)
    metadata = (("ec-terminal-id", "4" * 20),)
    await fails(s.admin.ListNodes(pb.ListNodesRequest(), metadata=metadata, timeout=10), -4)


async def test_a_revoked_operator_is_refused_and_audited(tmp_path):
    """An operator whose certificate was revoked is refused before any role is looked
    at; the refusal is in the audit log under the certificate's subject."""
    cluster = Cluster(tmp_path, TestPki(tmp_path / "own-ca"))
    try:
        national = await cluster.start_national()
        gone = Identity.operator("wu", duty="admin")
        s = admin_as(cluster, national, gone)
        await s.ListNodes(pb.ListNodesRequest(), timeout=10)
        CertificateAuthority.open(cluster.pki.root).revoke(identity=gone)
        deadline = time.monotonic() + 10
        while True:  # national reads its CRL file again within a second
            try:
                await s.ListNodes(pb.ListNodesRequest(), timeout=10)
            except grpc.aio.AioRpcError as exc:
                assert from_rpc_error(exc)[0] == -4 and "revoked" in from_rpc_error(exc)[1]
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        admin = admin_as(cluster, national, "operator")
        records = (await admin.ListAudit(pb.ListAuditRequest(), timeout=10)).records
        assert records[0].who == str(gone) and records[0].code == 0
        refused = records[-1]
        assert refused.who.startswith("certificate ") and "operator-admin-wu" in refused.who
        assert (refused.outcome, refused.code) == ("PERMISSION_DENIED", -4)
        assert "revoked" in refused.subject
    finally:
        await cluster.close()
