"""Activation (6.1.3) through real RPCs against a real national node: the whole flow on
the official and on a third-party channel, and every error code of each step."""

from __future__ import annotations

import time

import pytest
from chankit import public_key
from voucherkit import (
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
from node.domain.channelsig import ALL_SCOPES
from node.domain.idno import check_char
from node.domain.voucher_no import is_voucher_number
from node.storage.national import ChannelRow, NationalSeeder

ACTIVATED = common_pb2.VOUCHER_STATE_ACTIVATED
UNREGISTERED = "11010119900307" + "123" + check_char("11010119900307123")


pytestmark = pytest.mark.backends


async def test_official_channel_activates_and_receives_its_code(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(0)
    official = kit.channel(OFFICIAL)
    rn = await official.RealNameCheck(pb.RealNameCheckRequest(**identity(p)))
    assert rn.realNameSerial and len(rn.livenessChallenge) == 32
    assert rn.expiresAt.ToMilliseconds() > kit.clock.now_ms()
    rp = await official.RealPersonCheck(
        pb.RealPersonCheckRequest(
            realNameSerial=rn.realNameSerial, livenessSample=kit.sample(p, rn.livenessChallenge)
        )
    )
    assert not rp.unfrozen
    pw = await official.SetPassword(
        pb.SetPasswordRequest(
            realPersonSerial=rp.realPersonSerial, password=PASSWORD, passwordConfirm=PASSWORD
        )
    )
    done = await official.Activate(
        pb.ActivateRequest(realPersonSerial=rp.realPersonSerial, passwordSerial=pw.passwordSerial)
    )

    assert is_voucher_number(done.ecCardNo) and done.state == ACTIVATED and done.version == 1
    assert len(done.authCode) == 32
    assert [r.insuOrg for r in done.insuredRegions] == [r.insu_org for r in p.insured]
    status = await official.GetVoucherStatus(pb.GetVoucherStatusRequest(authCode=done.authCode))
    assert (status.ecCardNo, status.state, status.version) == (done.ecCardNo, ACTIVATED, 1)
    assert [a.channelId for a in status.authorizations] == [OFFICIAL]
    assert status.authorizations[0].authCode == ""  # codes are never listed
    # the same person, the same number: the number derives from the identity (4.1)
    again = await official.GetVoucherStatus(pb.GetVoucherStatusRequest(**identity(p)))
    assert again.ecCardNo == done.ecCardNo


async def test_third_party_activates_through_the_password_page(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(1)
    wechat = kit.channel(WECHAT)
    rp = await real_person(kit, wechat, p)
    # a third party may not set the password without the national page (6.1.3 c)
    await fails(
        wechat.SetPassword(
            pb.SetPasswordRequest(
                realPersonSerial=rp.realPersonSerial, password=PASSWORD, passwordConfirm=PASSWORD
            )
        ),
        500082,
    )
    page = await wechat.OpenPasswordPage(
        pb.OpenPasswordPageRequest(realPersonSerial=rp.realPersonSerial)
    )
    pw = await wechat.SetPassword(
        pb.SetPasswordRequest(
            pageSession=page.pageSession, password=PASSWORD, passwordConfirm=PASSWORD
        )
    )
    # the page is one-time
    await fails(
        wechat.SetPassword(
            pb.SetPasswordRequest(
                pageSession=page.pageSession, password="246801", passwordConfirm="246801"
            )
        ),
        500081,
    )
    done = await wechat.Activate(
        pb.ActivateRequest(
            realPersonSerial=rp.realPersonSerial,
            passwordSerial=pw.passwordSerial,
            businessProvince="51",
        )
    )
    assert done.state == ACTIVATED and done.authCode
    status = await wechat.GetVoucherStatus(pb.GetVoucherStatusRequest(authCode=done.authCode))
    assert [a.channelId for a in status.authorizations] == [WECHAT]
    # the official channel needs no authorization (4.5), and this code is not its own
    await fails(
        kit.channel(OFFICIAL).GetVoucherStatus(pb.GetVoucherStatusRequest(authCode=done.authCode)),
        500003,
    )


async def test_real_name_check_errors(cluster, tmp_path):
    def add_bad_people(db):
        store = NationalSeeder(db)
        base = {
            "id_type": "01",
            "gender": "1",
            "nationality": "CHN",
            "phone": "",
            "face_template": b"t" * 32,
        }
        store.insert_persons(
            [
                # birthday disagrees with the id number
                {
                    **base,
                    "user_name": "错生日",
                    "id_no": "350582199711193519",
                    "birthday": "1997-11-20",
                    "insured": [("350500", "310")],
                },
                # no insured region
                {
                    **base,
                    "user_name": "无参保",
                    "id_no": "11010519491231002X",
                    "gender": "2",
                    "birthday": "1949-12-31",
                    "insured": [],
                },
            ],
            int(time.time() * 1000),
        )
        paused = ChannelRow(
            "PAUSED-BANK",
            "某银行",
            "third_party",
            "suspended",
            public_key("PAUSED-BANK"),
            scopes=",".join(ALL_SCOPES),
        )
        store.upsert_channels([paused], 0)
        store.close()

    kit = await start_nation(cluster, tmp_path, before_start=add_bad_people)
    p = kit.person(0)
    official = kit.channel(OFFICIAL)
    await fails(
        official.RealNameCheck(pb.RealNameCheckRequest(**identity(p, idNo="350582199711193518"))),
        -2,
    )
    await fails(official.RealNameCheck(pb.RealNameCheckRequest(**identity(p, idType="42"))), -2)
    await fails(official.RealNameCheck(pb.RealNameCheckRequest(**identity(p, userName=" "))), -2)
    # a channel that does not exist is refused before its request is read (its call's
    # signature is checked first, node.interceptor.ChannelCheck)
    await fails(
        kit.channel("NO-SUCH").RealNameCheck(pb.RealNameCheckRequest(**identity(p, idNo="1"))),
        500012,
    )
    await fails(
        kit.channel("NO-SUCH").RealNameCheck(pb.RealNameCheckRequest(**identity(p))), 500012
    )
    # no channel: an unsigned call names none (500036, node.interceptor.ChannelCheck)
    await fails(kit.channel("").RealNameCheck(pb.RealNameCheckRequest(**identity(p))), 500036)
    await fails(
        kit.channel("PAUSED-BANK").RealNameCheck(pb.RealNameCheckRequest(**identity(p))), -4
    )
    await fails(
        official.RealNameCheck(
            pb.RealNameCheckRequest(userName="某人", idType="01", idNo=UNREGISTERED)
        ),
        500050,
    )
    await fails(
        official.RealNameCheck(pb.RealNameCheckRequest(**identity(p, userName=p.user_name + "甲"))),
        500057,
    )
    await fails(
        official.RealNameCheck(
            pb.RealNameCheckRequest(userName="错生日", idType="01", idNo="350582199711193519")
        ),
        500058,
    )
    await fails(
        official.RealNameCheck(
            pb.RealNameCheckRequest(userName="无参保", idType="01", idNo="11010519491231002x")
        ),
        500054,
    )  # lowercase x normalized
    await activate(kit, p)
    await fails(official.RealNameCheck(pb.RealNameCheckRequest(**identity(p))), 500086)


async def test_real_person_check_refuses_bad_samples_and_serials(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p, other = kit.person(0), kit.person(1)
    wechat = kit.channel(WECHAT)
    rn = await wechat.RealNameCheck(pb.RealNameCheckRequest(**identity(p)))

    def check(sample: bytes, serial: str = rn.realNameSerial, stub=wechat):
        return stub.RealPersonCheck(
            pb.RealPersonCheckRequest(realNameSerial=serial, livenessSample=sample)
        )

    await fails(check(kit.sample(other, rn.livenessChallenge)), 500096)  # someone else's face
    await fails(check(kit.sample(p, "0" * 32)), 500096)  # answers another challenge
    await fails(check(kit.sample(p, rn.livenessChallenge, age_ms=61_000)), 500096)  # stale
    await fails(check(b"\x00" * 7), 500096)  # malformed
    await fails(check(kit.sample(p, rn.livenessChallenge), serial="rn-" + "0" * 32), 500037)
    await fails(
        check(kit.sample(p, rn.livenessChallenge), stub=kit.channel(OFFICIAL)), 500037
    )  # not its serial
    good = kit.sample(p, rn.livenessChallenge)
    rp = await check(good)
    assert rp.realPersonSerial.startswith("rp-")
    await fails(check(good), 500096)  # the same sample again: a replay
    kit.clock.advance(0.5)
    await fails(check(kit.sample(p, rn.livenessChallenge)), 500037)  # the real-name serial is used

    # expiry: a real-name serial lives five minutes
    rn2 = await wechat.RealNameCheck(pb.RealNameCheckRequest(**identity(other)))
    kit.clock.advance(301)
    await fails(check(kit.sample(other, rn2.livenessChallenge), serial=rn2.realNameSerial), 500037)

    # five bad samples burn a serial
    rn3 = await wechat.RealNameCheck(pb.RealNameCheckRequest(**identity(other)))
    for _ in range(5):
        await fails(check(kit.sample(p, rn3.livenessChallenge), serial=rn3.realNameSerial), 500096)
    await fails(check(kit.sample(other, rn3.livenessChallenge), serial=rn3.realNameSerial), 500037)


async def test_password_rules_and_page_sessions(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(2)
    official, wechat = kit.channel(OFFICIAL), kit.channel(WECHAT)
    rp = await real_person(kit, official, p)

    def set_pw(password: str, confirm: str | None = None, **kw):
        kw.setdefault("realPersonSerial", rp.realPersonSerial)
        return official.SetPassword(
            pb.SetPasswordRequest(
                password=password, passwordConfirm=password if confirm is None else confirm, **kw
            )
        )

    assert "six digits" in await fails(set_pw("12345"), -2)
    assert "six digits" in await fails(set_pw("12a456"), -2)
    await fails(set_pw("135792", "135793"), 500089)
    for trivial in (
        "111111",
        "123456",
        "654321",
        "890123",
        "121212",
        "123123",
        p.id_no[-6:],
        p.id_no[8:14],
    ):
        if trivial.isdigit():
            assert (
                "easy to guess" in (msg := await fails(set_pw(trivial), -2)) or "id number" in msg
            )
    await fails(set_pw(PASSWORD, realPersonSerial="rp-" + "1" * 32), 500037)
    await fails(set_pw(PASSWORD, realPersonSerial=""), -2)

    # Activate without a password serial, or with one of another flow
    await fails(official.Activate(pb.ActivateRequest(realPersonSerial=rp.realPersonSerial)), 500042)
    await fails(
        official.Activate(
            pb.ActivateRequest(
                realPersonSerial=rp.realPersonSerial, passwordSerial="pw-" + "2" * 32
            )
        ),
        500042,
    )
    await fails(
        official.Activate(
            pb.ActivateRequest(realPersonSerial="rp-" + "3" * 32, passwordSerial="pw-" + "2" * 32)
        ),
        500037,
    )
    await fails(
        official.Activate(
            pb.ActivateRequest(
                realPersonSerial=rp.realPersonSerial,
                passwordSerial="pw-" + "2" * 32,
                businessProvince="99",
            )
        ),
        -2,
    )

    # a page session expires
    q = kit.person(3)
    rp2 = await real_person(kit, wechat, q)
    page = await wechat.OpenPasswordPage(
        pb.OpenPasswordPageRequest(realPersonSerial=rp2.realPersonSerial)
    )
    kit.clock.advance(301)
    await fails(
        wechat.SetPassword(
            pb.SetPasswordRequest(
                pageSession=page.pageSession, password=PASSWORD, passwordConfirm=PASSWORD
            )
        ),
        500080,
    )
    await fails(
        wechat.SetPassword(
            pb.SetPasswordRequest(
                pageSession="pg-" + "4" * 32, password=PASSWORD, passwordConfirm=PASSWORD
            )
        ),
        500080,
    )
    # ... and so does the real-person serial, after five minutes
    await fails(
        wechat.OpenPasswordPage(pb.OpenPasswordPageRequest(realPersonSerial=rp2.realPersonSerial)),
        500037,
    )


async def test_activate_is_idempotent_by_request_id(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p = kit.person(4)
    official = kit.channel(OFFICIAL)
    check = pb.RealNameCheckRequest(**identity(p), requestId="rn-1")
    assert await official.RealNameCheck(check) == await official.RealNameCheck(check)
    rp = await real_person(kit, official, p)
    pw = await official.SetPassword(
        pb.SetPasswordRequest(
            realPersonSerial=rp.realPersonSerial, password=PASSWORD, passwordConfirm=PASSWORD
        )
    )
    req = pb.ActivateRequest(
        realPersonSerial=rp.realPersonSerial, passwordSerial=pw.passwordSerial, requestId="retry-1"
    )
    first = await official.Activate(req)
    assert await official.Activate(req) == first  # a lost answer, retried
    await fails(
        official.Activate(
            pb.ActivateRequest(
                realPersonSerial=rp.realPersonSerial, passwordSerial=pw.passwordSerial
            )
        ),
        500037,
    )  # no key: used
    req.businessProvince = "44"
    await fails(official.Activate(req), -2)  # the same key for another request
    assert [row[1] for row in await kit.outbox()] == ["voucher.activated"]
