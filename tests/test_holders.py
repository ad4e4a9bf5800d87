"""Holders' data (issue 13, part 4), by attacking real nodes.

GetSettlement and ListNotices answered anyone's settlement history; Reverse with an
empty orgId reversed a settlement. Now a settlement, its reversal, the notices and the
day's listings answer only the institution that made it (the orgId of the calling
terminal), the insured province's node, or an operator with a role."""

from __future__ import annotations

import datetime as dt

import pytest
from scankit import insured_in
from settlekit import A, item, settle_request, settlement_stub, start_settle_nation, token_for
from voucherkit import fails

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import settlement_service_pb2 as pb
from ecnet.v1 import settlement_service_pb2_grpc
from node.pki import Identity

AUDITOR = Identity.operator("qian", duty="auditor")
SUPPORT = Identity.operator("zhao", duty="support")
P44 = Identity.operator("sun", duty="p44")
P31 = Identity.operator("zhou", duty="p31")


@pytest.fixture
async def nation(cluster, tmp_path):
    return await start_settle_nation(cluster, tmp_path, ("44", "31"))


def stub_as(nation, province: str, who) -> settlement_service_pb2_grpc.SettlementServiceStub:
    channel = nation.cluster.stubs(nation.provinces[province], as_=who).channel
    return settlement_service_pb2_grpc.SettlementServiceStub(channel)


def beijing_day(s: pb.Settlement) -> str:
    return dt.datetime.fromtimestamp(s.settledAt.seconds + 8 * 3600, dt.UTC).strftime("%Y-%m-%d")


async def test_a_settlement_answers_its_holders_only(nation):
    p = insured_in(nation.kit, "44")[0]
    auth = await nation.activated(p, "44")
    token, terminal = await token_for(nation, auth, "44")
    stub = settlement_stub(nation, "44")
    s = (
        await stub.Settle(
            settle_request(token, terminal.org_id, "h-1", [item("A1", A, 20_000)]), timeout=10
        )
    ).settlement
    other = next(t for t in nation.terminals["44"] if t.org_id != terminal.org_id)
    # each institution calls with its terminal's certificate (a made-up number: a
    # certificate of the CA for a terminal nobody registered)
    pki = nation.cluster.pki
    own = stub_as(nation, "44", pki.terminal(terminal.terminal_id, terminal.org_id))
    theirs = stub_as(nation, "44", pki.terminal(other.terminal_id, other.org_id))
    made_up = stub_as(nation, "44", pki.terminal("44" + "9" * 18, other.org_id))
    get = pb.GetSettlementRequest(settlementId=s.settlementId)

    # the institution that made it, through its terminal
    assert (await own.GetSettlement(get, timeout=10)).settlement == s
    # another institution, or a terminal number nobody registered: -4
    message = await fails(theirs.GetSettlement(get, timeout=10), -4)
    assert "another institution" in message
    await fails(made_up.GetSettlement(get, timeout=10), -4)
    # a person's notices are no institution's
    notices = pb.ListNoticesRequest(idType=p.id_type, idNo=p.id_no)
    await fails(own.ListNotices(notices, timeout=10), -4)
    await fails(theirs.ListNotices(notices, timeout=10), -4)
    # the day's listings: its own institution's only
    day = beijing_day(s)
    mine = pb.ListDaySettlementsRequest(orgId=terminal.org_id, date=day)
    listed = (await own.ListDaySettlements(mine, timeout=10)).settlements
    assert [d.settlementId for d in listed] == [s.settlementId]
    await fails(theirs.ListDaySettlements(mine, timeout=10), -4)
    province_day = pb.GetDayStatementRequest(date=day)
    await fails(own.GetDayStatement(province_day, timeout=10), -4)

    # nodes: the insured province (44, here also the serving one) yes, 31 no
    await fails(stub_as(nation, "44", "p31").GetSettlement(get, timeout=10), -4)
    await fails(stub_as(nation, "44", "p31").ListNotices(notices, timeout=10), -4)
    assert (await stub_as(nation, "44", "p44").GetSettlement(get, timeout=10)).settlement == s
    # operators with a role see it; the operator of another province does not
    for who in (AUDITOR, SUPPORT, P44, "operator"):
        got = await stub_as(nation, "44", who).GetSettlement(get, timeout=10)
        assert got.settlement == s, who
    await fails(stub_as(nation, "44", P31).GetSettlement(get, timeout=10), -4)

    # Reverse: not without its own orgId, not by another institution, not read-only roles
    await fails(stub.Reverse(pb.ReverseRequest(settlementId=s.settlementId), timeout=10), 500098)
    await fails(
        own.Reverse(pb.ReverseRequest(settlementId=s.settlementId, orgId=""), timeout=10),
        500098,
    )
    await fails(
        theirs.Reverse(
            pb.ReverseRequest(settlementId=s.settlementId, orgId=other.org_id),
            timeout=10,
        ),
        -4,
    )
    for who in (AUDITOR, SUPPORT, P31):
        await fails(
            stub_as(nation, "44", who).Reverse(
                pb.ReverseRequest(settlementId=s.settlementId, orgId=terminal.org_id), timeout=10
            ),
            -4,
        )
    assert (await stub.GetSettlement(get, timeout=10)).settlement.state == (
        pb.SETTLEMENT_STATE_SETTLED
    )
    r = await own.Reverse(
        pb.ReverseRequest(settlementId=s.settlementId, orgId=terminal.org_id),
        timeout=10,
    )
    assert r.settlement.state == pb.SETTLEMENT_STATE_REVERSED

    # each refusal for permission is in the province's audit log, no settlement call else
    admin = nation.cluster.stubs(nation.provinces["44"]).admin
    records = (await admin.ListAudit(admin_pb.ListAuditRequest(limit=100), timeout=10)).records
    refused = [r.method.rsplit("/", 1)[1] for r in records if r.code == -4]
    assert refused.count("GetSettlement") == 4 and refused.count("Reverse") == 4, refused
    assert not [r for r in records if r.code == 0 and "SettlementService" in r.method]
    assert (await admin.VerifyAudit(admin_pb.VerifyAuditRequest(), timeout=10)).intact
