"""Channel authorization (6.1.4), wrong passwords and the freeze, and the holder's
management of authorizations through the official channel (4.7), over real RPCs."""

from __future__ import annotations

import pytest
from voucherkit import (
    ALIPAY,
    OFFICIAL,
    PASSWORD,
    WECHAT,
    activate,
    fails,
    identity,
    real_person,
    start_nation,
)

from ecnet.v1 import common_pb2
from ecnet.v1 import voucher_service_pb2 as pb

ACTIVATED = common_pb2.VOUCHER_STATE_ACTIVATED
FROZEN = common_pb2.VOUCHER_STATE_FROZEN
NOT_ACTIVATED = common_pb2.VOUCHER_STATE_NOT_ACTIVATED


def authorize(stub, p, password: str = PASSWORD, **kw):
    return stub.Authorize(pb.AuthorizeRequest(**{**identity(p), "password": password, **kw}))


# Runs on SQLite and on PostgreSQL (tests/conftest.py, "backends").
pytestmark = pytest.mark.backends


async def test_third_party_authorization_and_its_errors(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(0)
    wechat, alipay = kit.channel(WECHAT), kit.channel(ALIPAY)
    await fails(authorize(wechat, p), 500002)  # not activated yet
    status = await wechat.GetVoucherStatus(pb.GetVoucherStatusRequest(**identity(p)))
    assert status.state == NOT_ACTIVATED and not status.ecCardNo
    official = await activate(kit, p)

    # unauthorized channel: state only, no number
    seen = await wechat.GetVoucherStatus(pb.GetVoucherStatusRequest(**identity(p)))
    assert seen.state == ACTIVATED and not seen.ecCardNo
    await fails(authorize(kit.channel("NO-SUCH"), p), 500012)
    await fails(authorize(wechat, p, idNo=p.id_no[:-1]), -2)
    await fails(authorize(wechat, p, userName="别人"), 500057)
    await fails(authorize(wechat, p, password=""), -2)
    msg = await fails(authorize(wechat, p, password="000000"), 500004)
    assert "4 more" in msg
    granted = await authorize(wechat, p, businessProvince="51", requestId="a-1")
    assert await authorize(wechat, p, businessProvince="51", requestId="a-1") == granted  # a retry
    assert granted.ecCardNo == official.ecCardNo and granted.authCode != official.authCode
    assert granted.version == 2
    await fails(authorize(wechat, p), 500088)  # already authorized
    mine = await wechat.GetVoucherStatus(pb.GetVoucherStatusRequest(**identity(p)))
    assert mine.ecCardNo == official.ecCardNo and [a.channelId for a in mine.authorizations] == [
        WECHAT
    ]
    # a code of another channel, a malformed code
    await fails(
        alipay.GetVoucherStatus(pb.GetVoucherStatusRequest(authCode=granted.authCode)), 500003
    )
    await fails(wechat.GetVoucherStatus(pb.GetVoucherStatusRequest(authCode="not-a-code")), 500087)
    await fails(wechat.GetVoucherStatus(pb.GetVoucherStatusRequest()), -2)

    kinds = [(dest, kind) for dest, kind, _, _ in await kit.outbox()]
    insured = p.insured[0].insu_org[:2]
    assert (insured, "voucher.authorized") in kinds and ("51", "voucher.authorized") in kinds


async def test_five_wrong_passwords_freeze_until_the_time_is_over(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(1)
    done = await activate(kit, p)
    alipay = kit.channel(ALIPAY)
    for left in (4, 3, 2, 1):
        assert f"{left} more" in await fails(authorize(alipay, p, password="000000"), 500004)
    await fails(authorize(alipay, p, password="000000"), 500079)  # the fifth freezes
    await fails(authorize(alipay, p), 500079)  # even with the right one
    status = await kit.channel(OFFICIAL).GetVoucherStatus(
        pb.GetVoucherStatusRequest(authCode=done.authCode)
    )
    assert status.state == FROZEN
    assert status.frozenUntil.ToMilliseconds() == kit.clock.now_ms() + 3600 * 1000
    await fails(alipay.RealNameCheck(pb.RealNameCheckRequest(**identity(p))), 500079)

    kit.clock.advance(3601)  # freeze_seconds of the test configuration
    assert (await authorize(alipay, p)).authCode
    kinds = [kind for _, kind, card, _ in await kit.outbox() if card == done.ecCardNo]
    assert kinds == [
        "voucher.activated",
        "voucher.frozen",
        "voucher.unfrozen",
        "voucher.authorized",
    ]


async def test_an_official_real_person_check_lifts_a_freeze(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(2)
    done = await activate(kit, p, WECHAT)
    alipay, official = kit.channel(ALIPAY), kit.channel(OFFICIAL)
    for _ in range(4):
        await fails(authorize(alipay, p, password="999990"), 500004)
    await fails(authorize(alipay, p, password="999990"), 500079)
    rp = await real_person(kit, official, p)
    assert rp.unfrozen
    status = await kit.channel(WECHAT).GetVoucherStatus(
        pb.GetVoucherStatusRequest(authCode=done.authCode)
    )
    assert status.state == ACTIVATED
    # the counter starts again from zero
    assert "4 more" in await fails(authorize(alipay, p, password="999990"), 500004)
    assert (await authorize(alipay, p)).authCode


async def test_a_frozen_voucher_stays_frozen_across_a_restart(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(3)
    done = await activate(kit, p)
    for _ in range(5):
        await fails(
            authorize(kit.channel(WECHAT), p, password="000000"), 500004 if _ < 4 else 500079
        )
    await kit.restart()
    await fails(authorize(kit.channel(WECHAT), p), 500079)
    status = await kit.channel(OFFICIAL).GetVoucherStatus(
        pb.GetVoucherStatusRequest(authCode=done.authCode)
    )
    assert status.state == FROZEN


async def test_the_holder_lists_and_revokes_through_the_official_channel(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(4)
    official = kit.channel(OFFICIAL)
    mine = await activate(kit, p, business_province="11")
    wechat_code = (await authorize(kit.channel(WECHAT), p)).authCode
    alipay_code = (await authorize(kit.channel(ALIPAY), p)).authCode

    listed = (
        await official.ListAuthorizations(pb.ListAuthorizationsRequest(authCode=mine.authCode))
    ).authorizations
    assert [a.channelId for a in listed] == [OFFICIAL, WECHAT, ALIPAY]
    assert all(a.authCode == "" and not a.revoked for a in listed)
    assert listed[1].channelName == "微信"

    # only the official channel manages authorizations
    await fails(
        kit.channel(WECHAT).ListAuthorizations(pb.ListAuthorizationsRequest(authCode=wechat_code)),
        500091,
    )
    await fails(
        kit.channel(WECHAT).RevokeAuthorization(
            pb.RevokeAuthorizationRequest(authCode=wechat_code, channelId=ALIPAY)
        ),
        500091,
    )
    await fails(
        official.ListAuthorizations(pb.ListAuthorizationsRequest(authCode=wechat_code)), 500003
    )
    await fails(official.ListAuthorizations(pb.ListAuthorizationsRequest(authCode="xyz")), 500087)
    await fails(
        official.RevokeAuthorization(
            pb.RevokeAuthorizationRequest(authCode=mine.authCode, channelId="NO-SUCH")
        ),
        500012,
    )
    await fails(
        official.RevokeAuthorization(
            pb.RevokeAuthorizationRequest(authCode=mine.authCode, channelId=OFFICIAL)
        ),
        -2,
    )

    revoked = (
        await official.RevokeAuthorization(
            pb.RevokeAuthorizationRequest(authCode=mine.authCode, channelId=WECHAT, requestId="r1")
        )
    ).authorization
    assert (
        revoked.channelId == WECHAT and revoked.revoked and revoked.revokedAt.ToMilliseconds() > 0
    )
    again = await official.RevokeAuthorization(
        pb.RevokeAuthorizationRequest(authCode=mine.authCode, channelId=WECHAT, requestId="r1")
    )
    assert again.authorization == revoked  # a retry answers the first result
    await fails(
        official.RevokeAuthorization(
            pb.RevokeAuthorizationRequest(authCode=mine.authCode, channelId=WECHAT)
        ),
        500040,
    )

    # the revoked code is dead everywhere
    await fails(
        kit.channel(WECHAT).GetVoucherStatus(pb.GetVoucherStatusRequest(authCode=wechat_code)),
        500022,
    )
    assert (
        await kit.channel(ALIPAY).GetVoucherStatus(pb.GetVoucherStatusRequest(authCode=alipay_code))
    ).state
    listed = (
        await official.ListAuthorizations(pb.ListAuthorizationsRequest(authCode=mine.authCode))
    ).authorizations
    assert [(a.channelId, a.revoked) for a in listed] == [
        (OFFICIAL, False),
        (WECHAT, True),
        (ALIPAY, False),
    ]
    # the holder may authorize the channel again: a new code
    fresh = await authorize(kit.channel(WECHAT), p)
    assert fresh.authCode != wechat_code

    # the revocation reached the insured province and the business province of the activation
    rows = [(dest, v) for dest, kind, _, v in await kit.outbox() if kind == "voucher.revoked"]
    assert sorted(rows) == sorted({(p.insured[0].insu_org[:2], 4), ("11", 4)})


async def test_the_official_channel_signs_in_again_with_the_password(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(5)
    await activate(kit, p, WECHAT)  # activated on a third party: no official code yet
    official = kit.channel(OFFICIAL)
    first = await authorize(official, p)
    second = await authorize(official, p)  # a new phone: the old official code is replaced
    await fails(
        official.ListAuthorizations(pb.ListAuthorizationsRequest(authCode=first.authCode)), 500022
    )
    listed = await official.ListAuthorizations(
        pb.ListAuthorizationsRequest(authCode=second.authCode)
    )
    assert [(a.channelId, a.revoked) for a in listed.authorizations] == [
        (WECHAT, False),
        (OFFICIAL, True),
        (OFFICIAL, False),
    ]


async def test_a_lapsed_freeze_is_lifted_on_time_and_the_provinces_hear(cluster, tmp_path):
    # The sweeper runs every second of real time; the freeze ends on the FakeClock.
    kit = await start_nation(cluster, tmp_path, extra={"freeze_sweep_seconds": "1"})
    p = kit.person(2)
    province = p.insured[0].insu_org[:2]
    node = await cluster.start_province(province)
    done = await activate(kit, p)
    alipay = kit.channel(ALIPAY)
    for _ in range(4):
        await fails(authorize(alipay, p, password="000000"), 500004)
    await fails(authorize(alipay, p, password="000000"), 500079)

    async def cached_state():
        v = await node.store.get_voucher(done.ecCardNo)
        return v.state if v else None

    async def until(check, what: str):
        import asyncio
        import time

        deadline = time.monotonic() + 10
        while not await check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    await until(lambda: _eq(cached_state(), FROZEN), "the freeze at the province")
    kit.clock.advance(3601)  # freeze_seconds of the test configuration; no call touches the voucher
    await until(lambda: _eq(cached_state(), ACTIVATED), "the on-time lift at the province")
    kinds = [kind for _, kind, card, _ in await kit.outbox() if card == done.ecCardNo]
    assert kinds.count("voucher.unfrozen") == len(
        {dest for dest, _, card, _ in await kit.outbox() if card == done.ecCardNo}
    )


async def _eq(awaitable, expected) -> bool:
    return await awaitable == expected
