"""Changes of the base registry (AdminService.UpdatePerson, 4.4) and where every change
of a voucher is queued for delivery (national's outbox rows: insured provinces and the
business-place province).

Run on both backends: on PostgreSQL the registry is partitioned by province (national
m020), so a change of regions moves the person between partitions and an id change
goes through ``person_keys``."""

from __future__ import annotations

import pytest
from voucherkit import (
    OFFICIAL,
    PASSWORD,
    WECHAT,
    activate,
    fails,
    identity,
    start_nation,
    update_person,
)

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import common_pb2
from ecnet.v1 import voucher_service_pb2 as pb
from node.domain.idno import check_char

pytestmark = pytest.mark.backends

NOT_ACTIVATED = common_pb2.VOUCHER_STATE_NOT_ACTIVATED
SUPERSEDED = common_pb2.VOUCHER_STATE_SUPERSEDED


def region(insu_org: str, insu_type: str = "310") -> common_pb2.InsuredRegion:
    return common_pb2.InsuredRegion(insuOrg=insu_org, insuType=insu_type)


async def test_activation_reaches_every_insured_province_and_the_business_place(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(0, regions=2)
    done = await activate(kit, p, WECHAT, business_province="51")
    insured = {r.insu_org[:2] for r in p.insured}
    rows = await kit.outbox()
    assert {dest for dest, *_ in rows} == insured | {"51"}
    assert {(kind, card, version) for _, kind, card, version in rows} == {
        ("voucher.activated", done.ecCardNo, 1)
    }


async def test_a_name_change_supersedes_the_voucher(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(0)
    old = await activate(kit, p, business_province="51")
    wechat = await kit.channel(WECHAT).Authorize(
        pb.AuthorizeRequest(**identity(p), password=PASSWORD)
    )

    changed = await update_person(kit, p, newUserName=p.user_name + "华")
    assert changed.superseded and changed.supersededEcCardNo == old.ecCardNo
    assert changed.ecCardNo != old.ecCardNo and changed.person.userName == p.user_name + "华"
    assert changed.version == 3  # activated 1, authorized 2, superseded 3

    # every code of the old voucher is dead
    for channel, code in ((OFFICIAL, old.authCode), (WECHAT, wechat.authCode)):
        msg = await fails(
            kit.channel(channel).GetVoucherStatus(pb.GetVoucherStatusRequest(authCode=code)), 500002
        )
        assert "superseded" in msg
    # the person must activate again, under the new name, and gets the new number
    renamed = kit.changed(p, user_name=p.user_name + "华")
    status = await kit.channel(OFFICIAL).GetVoucherStatus(
        pb.GetVoucherStatusRequest(**identity(renamed))
    )
    assert status.state == NOT_ACTIVATED
    await fails(kit.channel(OFFICIAL).RealNameCheck(pb.RealNameCheckRequest(**identity(p))), 500057)
    again = await activate(kit, renamed)  # the face is the one enrolled before
    assert again.ecCardNo == changed.ecCardNo and again.version == 1

    superseded = [
        (dest, v) for dest, kind, card, v in await kit.outbox() if kind == "voucher.superseded"
    ]
    assert sorted(superseded) == sorted([(p.insured[0].insu_org[:2], 3), ("51", 3)])

    # changing the name back brings the first number back, as a new version
    back = await update_person(kit, renamed, newUserName=p.user_name)
    assert back.superseded and back.ecCardNo == old.ecCardNo
    assert (await activate(kit, p)).version == 4


async def test_an_id_number_change_ends_a_flow_in_progress(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(1)
    stub = kit.channel(OFFICIAL)
    rn = await stub.RealNameCheck(pb.RealNameCheckRequest(**identity(p)))
    first17 = p.id_no[:14] + ("998" if p.id_no[14:17] != "998" else "996")
    new_no = first17 + check_char(first17)
    changed = await update_person(kit, p, newIdNo=new_no)
    assert not changed.superseded and changed.version == 0 and changed.person.idNo == new_no
    await fails(
        stub.RealPersonCheck(
            pb.RealPersonCheckRequest(
                realNameSerial=rn.realNameSerial, livenessSample=kit.sample(p, rn.livenessChallenge)
            )
        ),
        500058,
    )
    assert await kit.outbox() == []  # no voucher yet: nothing to tell the provinces
    await activate(kit, kit.changed(p, id_no=new_no))  # the face enrolled before


async def test_an_insured_region_change_makes_a_new_version(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(2)
    done = await activate(kit, p)
    left = p.insured[0].insu_org[:2]
    new = [region("110000"), region("510100", "390")]
    changed = await update_person(kit, p, insuredRegions=new)
    assert not changed.superseded and changed.ecCardNo == done.ecCardNo and changed.version == 2
    assert [r.insuOrg for r in changed.person.insuredRegions] == ["110000", "510100"]
    status = await kit.channel(OFFICIAL).GetVoucherStatus(
        pb.GetVoucherStatusRequest(authCode=done.authCode)
    )
    assert (status.version, [r.insuOrg for r in status.insuredRegions]) == (2, ["110000", "510100"])
    rows = [
        (dest, v) for dest, kind, _, v in await kit.outbox() if kind == "voucher.regions_changed"
    ]
    assert sorted(rows) == sorted(
        {(left, 2), ("11", 2), ("51", 2)}
    )  # the province left is told too
    # the same regions again change nothing; a retried request answers the first result
    same = await update_person(kit, p, insuredRegions=new)
    assert same.version == 2
    once = await update_person(kit, p, insuredRegions=[region("440100")], requestId="u-1")
    assert await update_person(kit, p, insuredRegions=[region("440100")], requestId="u-1") == once
    assert once.version == 3


async def test_update_person_validates_its_input(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p, other = kit.person(3), kit.person(4)
    await fails(update_person(kit, p), -2)  # nothing to change
    await fails(update_person(kit, p, newUserName="  "), -2)
    await fails(update_person(kit, p, newIdType="42"), -2)
    await fails(update_person(kit, p, newIdNo=p.id_no[:-1]), -2)
    await fails(update_person(kit, p, newIdNo=other.id_no), -2)  # someone else's number
    await fails(update_person(kit, p, insuredRegions=[region("440199")]), -2)
    await fails(update_person(kit, p, insuredRegions=[region("440100", "999")]), -2)
    await fails(
        update_person(kit, p, insuredRegions=[region("440100"), region("440100", "390")]), -2
    )
    admin = kit.admin()
    await fails(
        admin.UpdatePerson(admin_pb.UpdatePersonRequest(idType="01", idNo="1", newUserName="x")), -2
    )
    first17 = "11010119900307123"
    await fails(
        admin.UpdatePerson(
            admin_pb.UpdatePersonRequest(
                idType="01", idNo=first17 + check_char(first17), newUserName="x"
            )
        ),
        500050,
    )
