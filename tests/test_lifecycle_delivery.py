"""Real activations, authorizations and revocations reach the provinces that need them.

The delivery tests (test_delivery.py) drive the transport with hand-made events; these
drive it end to end: VoucherService calls at national, real provincial nodes applying
what national's outbox sends them.
"""

from __future__ import annotations

import asyncio
import time

from voucherkit import OFFICIAL, PASSWORD, WECHAT, activate, identity, start_nation, update_person

from ecnet.v1 import common_pb2
from ecnet.v1 import voucher_service_pb2 as pb

ACTIVATED = common_pb2.VOUCHER_STATE_ACTIVATED


async def eventually(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def insured_in(kit, province: str, count: int):
    return [
        p
        for p in kit.population
        if len(p.insured) == 1 and p.insured[0].insu_org.startswith(province)
    ][:count]


async def test_a_province_stopped_during_activations_receives_all_of_them(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    data_dir = p44.config.data_dir
    await p44.stop(grace=0)
    cluster.nodes.remove(p44)

    persons = insured_in(kit, "44", 5)
    cards = [(await activate(kit, p)).ecCardNo for p in persons]

    again = await cluster.start_province("44", data_dir=data_dir)

    async def all_there():
        got = [await again.store.get_voucher(c) for c in cards]
        return all(v is not None and v.state == ACTIVATED for v in got) and got

    vouchers = await eventually(all_there, what="activations at p44 after its restart")
    for v in vouchers:
        assert v.source == "pushed"
        assert [a.channel_id for a in v.authorizations] == [OFFICIAL]


async def test_insured_in_three_provinces_and_the_business_place_all_hear(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    provinces = {code: await cluster.start_province(code) for code in ("44", "31", "11", "51")}
    p = insured_in(kit, "44", 1)[0]
    regions = [
        common_pb2.InsuredRegion(insuOrg=org, insuType="390")
        for org in ("440100", "310000", "110000")
    ]
    await update_person(kit, p, insuredRegions=regions)
    card = (await activate(kit, p, business_province="51")).ecCardNo

    async def everywhere():
        got = {code: await node.store.get_voucher(card) for code, node in provinces.items()}
        return all(v is not None and v.state == ACTIVATED for v in got.values()) and got

    got = await eventually(everywhere, what="the voucher in 44, 31, 11 and the business place 51")
    assert {r[0] for r in got["31"].insured_regions} == {"440100", "310000", "110000"}


async def test_authorization_and_revocation_follow(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p = insured_in(kit, "44", 1)[0]
    official = await activate(kit, p)
    wechat = await kit.channel(WECHAT).Authorize(
        pb.AuthorizeRequest(**identity(p), password=PASSWORD)
    )

    async def authorized():
        match = await p44.store.get_by_auth_code(wechat.authCode)
        return match is not None and not match.revoked and match

    match = await eventually(authorized, what="the WeChat code at p44")
    assert match.channel_id == WECHAT

    await kit.channel(OFFICIAL).RevokeAuthorization(
        pb.RevokeAuthorizationRequest(authCode=official.authCode, channelId=WECHAT)
    )

    async def revoked():
        m = await p44.store.get_by_auth_code(wechat.authCode)
        return m is not None and m.revoked

    await eventually(revoked, what="the revocation at p44")
