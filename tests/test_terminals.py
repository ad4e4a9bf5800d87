"""Terminals (7.2.1.1, issue 13 part 2) against real nodes: registration at the
management center (table 1; national allocates the number), the terminal's certificate
as the only proof of which terminal calls, and revocation reaching the provinces.

The attacks: a published terminal number in the ``ec-terminal-id`` header with another
certificate is refused, on every terminal method; a revoked terminal is refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from clikit import ecnet, readme_session, write_nation
from scankit import QUERY_FIELDS, Terminal, eventually, insured_in, start_scan_nation
from settlekit import A, item, settle_request, settlement_stub
from voucherkit import fails

from conftest import Cluster, TestPki
from ecnet.v1 import acceptance_service_pb2 as pb
from ecnet.v1 import acceptance_service_pb2_grpc, settlement_service_pb2_grpc
from ecnet.v1 import admin_service_pb2 as admin_pb
from node.clock import BEIJING
from node.errors import from_rpc_error
from node.pki import Identity

# Every other terminal fetch at once: a terminal registered (or revoked) a moment ago
# reaches the province's copy at its next scan.
FAST_COPY = {"terminal_refresh": "0.2", "terminal_miss_refresh": "0.1"}


def table_1(**change) -> admin_pb.RegisterTerminalRequest:
    fields = {
        "province": "44",
        "orgId": "H44010099999",
        "orgName": "某某医院",
        "name": "挂号自助终端",
        "purpose": "用于患者自助进行挂号等操作",
        "version": "1.2",
        "developer": "某某开发有限公司",
        "mac": "F8:34:41:BD:E1:88",
        **change,
    }
    return admin_pb.RegisterTerminalRequest(**fields)


def scanner_stub(cluster, node, who: str):
    return acceptance_service_pb2_grpc.AcceptanceServiceStub(cluster.stubs(node, as_=who).channel)


def query(org_id: str, code: str) -> pb.QueryRequest:
    return pb.QueryRequest(orgId=org_id, ecQrCode=code, **QUERY_FIELDS)


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_scan_nation(cluster, tmp_path, ("44", "31"), extra=FAST_COPY)


async def test_registration_allocates_the_number_and_the_province_accepts_its_certificate(
    nation, cluster
):
    admin = nation.kit.admin()
    t = (await admin.RegisterTerminal(table_1(), timeout=10)).terminal
    today = dt.datetime.fromtimestamp(nation.kit.clock.now(), BEIJING).date()
    # province (2) + year (4) + 9 random digits + the province's serial (5)
    assert len(t.terminalId) == 20 and t.terminalId.isdigit()
    assert t.terminalId[:2] == "44" and t.terminalId[2:6] == f"{today.year:04d}"
    assert int(t.terminalId[-5:]) == len(nation.terminals["44"]) + 1
    assert (t.registeredOn, t.mac, t.orgId, t.province) == (
        today.isoformat(),
        "f8:34:41:bd:e1:88",
        "H44010099999",
        "44",
    )
    assert (t.name, t.purpose, t.version, t.developer, t.orgName) == (
        "挂号自助终端",
        "用于患者自助进行挂号等操作",
        "1.2",
        "某某开发有限公司",
        "某某医院",
    )
    again = (await admin.RegisterTerminal(table_1(), timeout=10)).terminal
    assert (
        again.terminalId != t.terminalId
        and int(again.terminalId[-5:]) == int(t.terminalId[-5:]) + 1
    )
    listed = await admin.ListTerminals(admin_pb.ListTerminalsRequest(province="44"), timeout=10)
    assert t.terminalId in {x.terminalId for x in listed.terminals}

    # the new terminal, with its certificate, scans in its province at once
    p = insured_in(nation.kit, "44")[0]
    code = await nation.issue("44", await nation.activated(p, "44"))
    who = cluster.pki.terminal(t.terminalId, t.orgId)
    got = await scanner_stub(cluster, nation.provinces["44"], who).Query(
        query(t.orgId, code), timeout=10
    )
    assert got.idNo == p.id_no


async def test_registration_is_checked_and_for_operators_at_national(nation, cluster):
    admin = nation.kit.admin()
    message = await fails(
        admin.RegisterTerminal(
            table_1(province="99", orgId="H 1", version="1", mac="f8-34", name=""), timeout=10
        ),
        -2,
    )
    for field in ("province", "orgId", "version", "mac", "name"):
        assert field in message, message
    await fails(admin.RegisterTerminal(table_1(purpose="x" * 201), timeout=10), -2)
    await fails(admin.RegisterTerminal(table_1(orgName="医院\x00"), timeout=10), -2)
    # nobody but an operator registers or revokes one
    t = nation.terminals["44"][0]
    for who in ("p44", cluster.pki.terminal(t.terminal_id, t.org_id)):
        stranger = cluster.stubs(nation.kit.national, as_=who).admin
        await fails(stranger.RegisterTerminal(table_1(), timeout=10), -4)
        revoke = admin_pb.RevokeTerminalRequest(terminalId=t.terminal_id)
        await fails(stranger.RevokeTerminal(revoke, timeout=10), -4)
    # the management center is national's
    province = cluster.stubs(nation.provinces["44"]).admin
    await fails(province.RegisterTerminal(table_1(), timeout=10), -5)
    await fails(
        admin.RevokeTerminal(
            admin_pb.RevokeTerminalRequest(terminalId="44202400000000099999"), timeout=10
        ),
        500100,
    )


async def test_a_published_terminal_number_with_another_certificate_is_refused(nation, cluster):
    p44 = nation.provinces["44"]
    t, other = nation.terminals["44"][0], nation.terminals["44"][-1]
    assert t.org_id != other.org_id
    p = insured_in(nation.kit, "44")[1]
    auth = await nation.activated(p, "44")
    code = await nation.issue("44", auth)
    header = (("ec-terminal-id", t.terminal_id),)  # the number is public (ListTerminals)

    # the operator's certificate with the header: every terminal method refuses
    as_operator = scanner_stub(cluster, p44, "operator")
    message = await fails(as_operator.Query(query(t.org_id, code), metadata=header), -4)
    assert "alone grants nothing" in message
    check = pb.CheckTokenRequest(
        ecToken="440000ec" + "0" * 30, idType=p.id_type, idNo=p.id_no, userName=p.user_name
    )
    await fails(as_operator.CheckToken(check, metadata=header), -4)
    envelope = pb.TransRequest(orgId=t.org_id, transType="ec.query")
    envelope.data.update({**QUERY_FIELDS, "orgId": t.org_id, "ecQrCode": code})
    answer = await as_operator.Trans(envelope, metadata=header, timeout=10)
    assert answer.code == -4
    settle = settlement_service_pb2_grpc.SettlementServiceStub(cluster.stubs(p44).channel)
    request = settle_request("440000ec" + "0" * 30, t.org_id, "r-1", [item("A1", A, 100)])
    await fails(settle.Settle(request, metadata=header), -4)
    # a province's certificate is no terminal either
    await fails(scanner_stub(cluster, p44, "p44").Query(query(t.org_id, code), metadata=header), -4)

    # another terminal's certificate with t's number in the header: the certificate's
    # number is the one checked, and it is not bound to t's institution
    as_other = scanner_stub(cluster, p44, cluster.pki.terminal(other.terminal_id, other.org_id))
    message = await fails(as_other.Query(query(t.org_id, code), metadata=header), 500100)
    assert other.terminal_id in message and t.org_id in message
    await fails(
        settlement_stub(nation, "44", other).Settle(request, metadata=header, timeout=10), 500100
    )
    # none of these spent the code: t itself scans it
    assert (await nation.scanner("44").query(code)).idNo == p.id_no


async def test_a_certificate_naming_another_institution_is_refused(nation, cluster):
    """A certificate issued with the wrong orgId for a registered number (the CA's
    mistake, or a request forged before signing) speaks for neither institution."""
    t = nation.terminals["44"][0]
    p = insured_in(nation.kit, "44")[4]
    code = await nation.issue("44", await nation.activated(p, "44"))
    wrong = cluster.pki.terminal(t.terminal_id, "H44999900001")
    stub = scanner_stub(cluster, nation.provinces["44"], wrong)
    for org in ("H44999900001", t.org_id):
        message = await fails(stub.Query(query(org, code), timeout=10), 500100)
        assert "bound to institution" in message, message
    check = pb.CheckTokenRequest(
        ecToken="440000ec" + "0" * 30, idType=p.id_type, idNo=p.id_no, userName=p.user_name
    )
    await fails(stub.CheckToken(check, timeout=10), 500100)
    settle = settlement_service_pb2_grpc.SettlementServiceStub(
        cluster.stubs(nation.provinces["44"], as_=wrong).channel
    )
    request = settle_request("440000ec" + "0" * 30, t.org_id, "w-1", [item("A1", A, 100)])
    await fails(settle.Settle(request, timeout=10), 500100)
    assert (await nation.scanner("44").query(code)).idNo == p.id_no  # not spent


async def test_a_terminal_revoked_in_the_registry_leaves_its_province(nation, cluster):
    """RevokeTerminal alone (its certificate still good): the province's copy drops it."""
    admin = nation.kit.admin()
    t = (await admin.RegisterTerminal(table_1(), timeout=10)).terminal
    stub = scanner_stub(
        cluster, nation.provinces["44"], cluster.pki.terminal(t.terminalId, t.orgId)
    )
    p = insured_in(nation.kit, "44")[2]
    auth = await nation.activated(p, "44")
    assert (await stub.Query(query(t.orgId, await nation.issue("44", auth)), timeout=10)).ecToken

    revoked = await admin.RevokeTerminal(
        admin_pb.RevokeTerminalRequest(terminalId=t.terminalId, reason="stolen"), timeout=10
    )
    assert revoked.terminal.HasField("revokedAt") and revoked.terminal.revokeReason == "stolen"
    assert not revoked.alreadyRevoked
    again = await admin.RevokeTerminal(
        admin_pb.RevokeTerminalRequest(terminalId=t.terminalId), timeout=10
    )
    assert again.alreadyRevoked and again.terminal.revokeReason == "stolen"

    code = await nation.issue("44", auth)

    async def refused() -> bool:
        try:
            await stub.Query(query(t.orgId, code), timeout=10)
        except Exception as exc:  # noqa: BLE001 - the refusal is the point
            got, message = from_rpc_error(exc)
            return got == 500100 and "revoked" in message
        return False

    await eventually(refused, what="the province to drop the revoked terminal")


@pytest.fixture
async def own_ca(tmp_path):
    """A cluster whose CA is the nation folder's own (tmp_path/nation/pki): revocations
    here touch no other test, and the CLI finds the CA and the operator in the folder."""
    pki = TestPki(tmp_path / "nation")
    pki.files("operator")
    c = Cluster(tmp_path, pki)
    try:
        yield c
    finally:
        await c.close()


async def test_a_revoked_terminal_is_refused_on_every_node(own_ca, tmp_path):
    """``ecnet terminals register`` issues the certificate, ``ecnet scan`` calls with it;
    ``ecnet terminals revoke`` puts it on the CRL: the province refuses it (-4)."""
    nation = await start_scan_nation(own_ca, tmp_path, ("44",), extra=FAST_COPY)
    folder = write_nation(tmp_path / "nation", own_ca.national, nation.provinces["44"])
    rc, out, err = await ecnet(
        "terminals",
        "register",
        "--data",
        str(folder),
        "--province",
        "44",
        "--org",
        "H44010088888",
        "--org-name",
        "某某医院",
        "--name",
        "门诊收费扫码墩",
        "--purpose",
        "用于门诊收费窗口扫描医保电子凭证进行结算",
        "--version",
        "2.0",
        "--developer",
        "某某开发有限公司",
        "--mac",
        "f8:34:41:bd:e1:89",
        "--json",
    )
    assert rc == 0, err
    registered = json.loads(out)
    number = registered["terminalId"]
    cert = folder / "pki" / "terminals" / f"{number}.crt"
    assert registered["certificate"] == str(cert) and cert.exists()
    assert (folder / "pki" / "terminals" / f"{number}.key").stat().st_mode & 0o077 == 0

    p = insured_in(nation.kit, "44")[3]
    auth = await nation.activated(p, "44")
    scan = ["scan", "--data", str(folder), "--province", "44", "--terminal", number]
    scan += ["--org", "H44010088888", "--json", "--code"]
    rc, out, err = await ecnet(*scan, await nation.issue("44", auth))
    assert rc == 0, err
    assert json.loads(out)["idNo"] == p.id_no

    rc, out, err = await ecnet(
        "terminals", "revoke", number, "--reason", "stolen", "--data", str(folder), "--json"
    )
    assert rc == 0, err
    answer = json.loads(out)
    assert answer["terminalId"] == number and len(answer["revokedCertificates"]) == 1
    terminal = Terminal(number, "H44010088888", "44")
    stub = scanner_stub(
        own_ca, nation.provinces["44"], Identity.terminal(terminal.org_id, number).uri
    )
    code = await nation.issue("44", auth)
    # a value of the right shape that fails the issuer's keyed check (500049): it passes
    # the terminal's checks first, and is never spent
    probe = "424" + "0" * 19 + "440000"

    async def refused() -> str | None:
        try:
            await stub.Query(query(terminal.org_id, probe), timeout=10)
        except Exception as exc:  # noqa: BLE001 - the refusal is the point
            got, message = from_rpc_error(exc)
            return message if got == -4 else None
        return None

    message = await eventually(refused, what="the CRL to reach province 44")
    assert "revoked" in message
    rc, out, err = await ecnet(*scan, code)
    assert rc != 0 and json.loads(out)["code"] == -4, out + err
    # the other terminals of the province scan on
    assert (await nation.scanner("44").query(code)).idNo == p.id_no


async def test_the_readme_terminals_session_runs_as_written(cluster, tmp_path):
    rc, out, err = await readme_session(cluster, tmp_path, "Terminals", provinces=("44",))
    assert rc == 0, err
    number = out.splitlines()[0]
    assert len(number) == 20 and number.startswith("44"), out
    assert "userName 李桂珍" in out, out
    assert "alone grants nothing" in err, err
    assert f"revoked: terminal {number}" in out and "certificate on the CRL" in out, out
    assert "error -4: certificate refused (revoked)" in err, err
    assert out.rstrip().endswith("1"), out
