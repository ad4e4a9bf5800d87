"""QR issue and refresh (6.2) at real provincial nodes, with a real national behind them:
a local person answered from the pushed cache, a visitor fetched from national, every
refusal through real RPCs, the region choice, one live code per authorization,
idempotency, and the expiry under an injected clock."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from chankit import QR, signed
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from voucherkit import (
    ALIPAY,
    OFFICIAL,
    PASSWORD,
    WECHAT,
    activate,
    fails,
    identity,
    start_nation,
    update_person,
)

from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import qr_service_pb2 as pb
from ecnet.v1 import qr_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as vpb
from node.clock import FakeClock
from node.domain.qrcode import check, issuer_of, looks_like_code
from node.domain.regions import region_name
from node.storage import national as nq
from node.vault import code_digest

UNKNOWN = "0123456789ABCDEF0123456789ABCDEF"


class Qr:
    """QrService of one province as one channel calls it."""

    def __init__(self, cluster, node, channel_id: str = OFFICIAL) -> None:
        self._stub = qr_service_pb2_grpc.QrServiceStub(cluster.stubs(node).channel)
        self.root, self.clock, self.channel_id = cluster.root, node.clock, channel_id

    def _md(self, method: str, request) -> tuple:
        if not self.channel_id:
            return ()
        return signed(self.root, self.channel_id, QR + method, request, self.clock)

    def issue(self, auth_code: str, **kw):
        request = pb.IssueQrCodeRequest(authCode=auth_code, **kw)
        return self._stub.IssueQrCode(
            request, metadata=self._md("IssueQrCode", request), timeout=10
        )

    def refresh(self, auth_code: str, **kw):
        request = pb.RefreshQrCodeRequest(authCode=auth_code, **kw)
        return self._stub.RefreshQrCode(
            request, metadata=self._md("RefreshQrCode", request), timeout=10
        )


async def eventually(check_, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := await check_()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return result


def insured_in(kit, province: str):
    return [
        p
        for p in kit.population
        if len(p.insured) == 1 and p.insured[0].insu_org.startswith(province)
    ]


async def codes_of(node, auth_code: str) -> dict[str, dict]:
    """code → row of every qr_codes row of an authorization."""

    def read(conn):
        return {
            r["code"]: dict(r)
            for r in conn.execute(
                "SELECT * FROM qr_codes WHERE code_hash = ?",
                (node.store.keys.code_hash(auth_code),),
            )
        }

    return await node.store.db.read(read)


async def provinces_told(kit, ec_card_no: str) -> set[str]:
    return await kit.national.store.query(nq.q_voucher_provinces, ec_card_no)


async def delivered(node, auth_code: str, revoked: bool = False, state: int | None = None):
    async def there():
        m = await node.store.get_by_auth_code(auth_code)
        return (
            m is not None
            and m.revoked == revoked
            and (state is None or m.voucher.state == state)
            and m
        )

    return await eventually(there, what=f"authorization {auth_code[:6]}… at {node.config.name}")


# -- the two ways to the voucher ------------------------------------------------------
# Runs on SQLite and on PostgreSQL (tests/conftest.py, "backends").
pytestmark = pytest.mark.backends


async def test_a_local_person_is_answered_from_the_pushed_cache(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p = insured_in(kit, "44")[0]
    act = await activate(kit, p)
    match = await delivered(p44, act.authCode)

    resp = await Qr(cluster, p44).issue(act.authCode)

    assert looks_like_code(resp.ecQrCode) and issuer_of(resp.ecQrCode) == "44"
    assert check(await p44.store.secret("qr_key", "00" * 16), resp.ecQrCode)
    assert resp.insuOrg == p.insured[0].insu_org
    row = (await codes_of(p44, act.authCode))[resp.ecQrCode]
    assert (
        row["state"] == "live"
        and row["ec_card_no"] == act.ecCardNo
        and row["channel_id"] == OFFICIAL
    )
    assert row["voucher_version"] == match.voucher.version == 1 and row["insu_org"] == resp.insuOrg
    assert resp.expiresAt.ToMilliseconds() == row["expires_at"] == row["issued_at"] + 60_000
    # national was not asked: no business place recorded, the cache is still the pushed copy
    assert await provinces_told(kit, act.ecCardNo) == set()
    assert (await p44.store.get_voucher(act.ecCardNo)).source == "pushed"


async def test_a_visitor_is_fetched_from_national_which_records_the_province(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p31 = await cluster.start_province("31")
    p = insured_in(kit, "44")[0]  # insured in 44, standing in Shanghai
    act = await activate(kit, p)
    assert await p31.store.get_voucher(act.ecCardNo) is None

    resp = await Qr(cluster, p31).issue(act.authCode)

    assert issuer_of(resp.ecQrCode) == "31" and resp.insuOrg == p.insured[0].insu_org
    cached = await p31.store.get_voucher(act.ecCardNo)
    assert cached.source == "fetched" and cached.version == 1
    assert [(a.code_hash, a.channel_id) for a in cached.authorizations] == [
        (p31.store.keys.code_hash(act.authCode), OFFICIAL)
    ]
    assert (await codes_of(p31, act.authCode))[resp.ecQrCode]["voucher_version"] == 1
    assert await provinces_told(kit, act.ecCardNo) == {"31"}

    # later changes of the voucher now reach 31, so WeChat is answered from the cache
    wechat = await kit.channel(WECHAT).Authorize(
        vpb.AuthorizeRequest(**identity(p), password=PASSWORD)
    )
    match = await delivered(p31, wechat.authCode)
    assert match.voucher.version == 2
    again = await Qr(cluster, p31, WECHAT).issue(wechat.authCode)
    assert (await codes_of(p31, wechat.authCode))[again.ecQrCode]["voucher_version"] == 2


# -- refusals ---------------------------------------------------------------------------
async def test_refusals_are_the_same_from_the_cache_and_from_national(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")  # has the voucher pushed
    p31 = await cluster.start_province("31")  # must fetch it
    p = insured_in(kit, "44")[0]
    official = await activate(kit, p)
    wechat = await kit.channel(WECHAT).Authorize(
        vpb.AuthorizeRequest(**identity(p), password=PASSWORD)
    )
    await kit.channel(OFFICIAL).RevokeAuthorization(
        vpb.RevokeAuthorizationRequest(authCode=official.authCode, channelId=WECHAT)
    )
    await delivered(p44, wechat.authCode, revoked=True)

    for node in (p44, p31):
        await fails(Qr(cluster, node).issue(""), -2)
        await fails(Qr(cluster, node).issue("not-a-code"), 500087)
        await fails(Qr(cluster, node).issue(UNKNOWN), 500040)
        await fails(Qr(cluster, node, channel_id="").issue(official.authCode), 500036)
        # the official code presented by another channel
        await fails(Qr(cluster, node, WECHAT).issue(official.authCode), 500003)
        # the holder revoked WeChat's authorization
        assert "authorize the channel again" in await fails(
            Qr(cluster, node, WECHAT).issue(wechat.authCode), 500022
        )
    # the refusals left nothing behind at 31 and did not make national tell it anything
    assert await p31.store.get_voucher(official.ecCardNo) is None
    assert await provinces_told(kit, official.ecCardNo) == set()
    # QrService is the provinces'
    await fails(Qr(cluster, kit.national).issue(official.authCode), -5)


async def test_superseded_and_frozen_vouchers_are_refused_and_a_lapsed_freeze_is_confirmed(
    cluster, tmp_path
):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p31 = await cluster.start_province("31")
    changed, frozen = insured_in(kit, "44")[:2]

    old = await activate(kit, changed)
    await update_person(kit, changed, newUserName=changed.user_name + "华")
    await delivered(p44, old.authCode, revoked=True, state=4)
    for node in (p44, p31):
        await fails(Qr(cluster, node).issue(old.authCode), 500002)

    act = await activate(kit, frozen)
    alipay = kit.channel(ALIPAY)
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError):
            await alipay.Authorize(vpb.AuthorizeRequest(**identity(frozen), password="000000"))
    await delivered(p44, act.authCode, state=3)
    for node in (p44, p31):
        await fails(Qr(cluster, node).issue(act.authCode), 500079)

    # the freeze is over at national before its sweeper tells anyone: the province's
    # cached freeze is confirmed with national, which lifts it, so the code is issued
    kit.clock.advance(3601)
    resp = await Qr(cluster, p44).issue(act.authCode)
    assert issuer_of(resp.ecQrCode) == "44"
    cached = await p44.store.get_voucher(act.ecCardNo)
    assert cached.state == 2 and cached.version == 3  # activated 1, frozen 2, unfrozen 3


async def test_fetch_is_national_only_and_only_for_the_calling_province(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p31 = await cluster.start_province("31")
    act = await activate(kit, insured_in(kit, "44")[0])
    req = fed_pb.FetchVoucherRequest(authCode=act.authCode, channelId=OFFICIAL, province="31")

    await fails(cluster.stubs(kit.national).federation.FetchVoucher(req, timeout=5), -4)
    await fails(
        cluster.stubs(kit.national, as_="p44").federation.FetchVoucher(req, timeout=5),
        -4,
    )
    await fails(
        cluster.stubs(p31, as_="p31").federation.FetchVoucher(req, timeout=5),
        -5,
    )
    got = await cluster.stubs(kit.national, as_="p31").federation.FetchVoucher(req, timeout=5)
    assert got.voucher.ecCardNo == act.ecCardNo and got.voucher.version == 1
    # The digest of the code travels, never the code (node.vault).
    assert [(a.authCode, a.authCodeDigest) for a in got.voucher.authorizations] == [
        ("", code_digest(act.authCode))
    ]


async def test_national_unreachable_is_minus_3_within_the_deadline(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p31 = await cluster.start_province("31", extra={"qr_fetch_timeout_seconds": "1"})
    act = await activate(kit, insured_in(kit, "44")[0])
    await kit.national.stop(grace=0)

    start = time.monotonic()
    message = await fails(Qr(cluster, p31).issue(act.authCode), -3)
    assert time.monotonic() - start < 5 and "national" in message


# -- the insured region -----------------------------------------------------------------
async def test_a_person_insured_in_several_regions_chooses_one(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p = kit.person(0, regions=2)
    regions = sorted(r.insu_org for r in p.insured)  # as national lists them
    act = await activate(kit, p)
    qr = Qr(cluster, p44)

    # no region chosen: refused (a success always carries a code), the regions named in
    # the message and listed in the ErrorInfo's metadata
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await qr.issue(act.authCode)
    status = rpc_status.from_call(info.value)
    (detail,) = status.details
    error = error_details_pb2.ErrorInfo()
    detail.Unpack(error)
    assert error.metadata["code"] == "500054" and error.metadata["insuOrgs"] == ",".join(regions)
    assert all(f"{r} {region_name(r)} (insuType " in status.message for r in regions)
    assert "insuOrg" in status.message
    await fails(qr.refresh(act.authCode), 500054)  # no earlier code whose region to keep
    assert await codes_of(p44, act.authCode) == {}

    await fails(qr.issue(act.authCode, insuOrg="999999"), -2)
    second = await qr.issue(act.authCode, insuOrg=regions[1])
    assert second.insuOrg == regions[1] and looks_like_code(second.ecQrCode)
    # a refresh keeps the chosen region unless the channel chooses another
    kept = await qr.refresh(act.authCode, ecQrCode=second.ecQrCode)
    assert kept.insuOrg == regions[1]
    assert (await qr.refresh(act.authCode)).insuOrg == regions[1]
    assert (await qr.refresh(act.authCode, insuOrg=regions[0])).insuOrg == regions[0]


async def test_a_person_without_an_insured_region_gets_500054(cluster, tmp_path):
    # Activation already refuses such a person (500054); a registry emptied behind the
    # lifecycle's back (a data fault) must still not produce a code without a region.
    kit = await start_nation(cluster, tmp_path)
    p51 = await cluster.start_province("51")
    p = insured_in(kit, "44")[0]
    act = await activate(kit, p)

    def drop_regions(conn):
        conn.execute(
            "DELETE FROM insured_regions WHERE person_id = "
            "(SELECT person_id FROM persons WHERE id_no = ?)",
            (p.id_no,),
        )

    await kit.national.store.transact(drop_regions)
    await fails(Qr(cluster, p51).issue(act.authCode), 500054)


# -- one live code per authorization ------------------------------------------------------
async def test_refresh_and_a_new_issue_kill_the_previous_code(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p = insured_in(kit, "44")[0]
    act = await activate(kit, p)
    wechat = await kit.channel(WECHAT).Authorize(
        vpb.AuthorizeRequest(**identity(p), password=PASSWORD)
    )
    qr = Qr(cluster, p44)

    a = (await qr.issue(act.authCode)).ecQrCode
    b = (await qr.refresh(act.authCode, ecQrCode=a)).ecQrCode
    states = {code: row["state"] for code, row in (await codes_of(p44, act.authCode)).items()}
    assert states == {a: "replaced", b: "live"}
    c = (await qr.issue(act.authCode)).ecQrCode
    states = {code: row["state"] for code, row in (await codes_of(p44, act.authCode)).items()}
    assert states == {a: "replaced", b: "replaced", c: "live"}

    # WeChat's code lives beside the official one: one live code per authorization
    w = (await Qr(cluster, p44, WECHAT).issue(wechat.authCode)).ecQrCode
    assert (await codes_of(p44, act.authCode))[c]["state"] == "live"
    # refresh names a code of this province for this authorization, or is refused
    forged = c[:5] + str((int(c[5]) + 1) % 10) + c[6:]
    await fails(qr.refresh(act.authCode, ecQrCode=forged), 500049)
    await fails(qr.refresh(act.authCode, ecQrCode=w), 500049)
    assert (await codes_of(p44, act.authCode))[c]["state"] == "live"


async def test_request_ids_make_issue_and_refresh_idempotent(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    p44 = await cluster.start_province("44")
    p = kit.person(0, regions=2)
    regions = sorted(r.insu_org for r in p.insured)  # as national lists them
    act = await activate(kit, p)
    qr = Qr(cluster, p44)

    first = await qr.issue(act.authCode, insuOrg=regions[0], requestId="r-1")
    again = await qr.issue(act.authCode, insuOrg=regions[0], requestId="r-1")
    assert again == first and len(await codes_of(p44, act.authCode)) == 1
    await fails(qr.issue(act.authCode, insuOrg=regions[1], requestId="r-1"), -2)

    r1 = await qr.refresh(act.authCode, ecQrCode=first.ecQrCode, requestId="r-2")
    assert await qr.refresh(act.authCode, ecQrCode=first.ecQrCode, requestId="r-2") == r1
    assert r1.ecQrCode != first.ecQrCode and len(await codes_of(p44, act.authCode)) == 2
    await fails(qr.issue(act.authCode, requestId="x" * 129), -2)


# -- expiry ----------------------------------------------------------------------------
async def test_expiry_follows_the_configured_ttl_and_old_codes_are_pruned(cluster, tmp_path):
    kit = await start_nation(cluster, tmp_path)
    clock = FakeClock(t=kit.clock.t)
    extra = {"qr_ttl_seconds": "90", "qr_retention_seconds": "300"}
    p44 = await cluster.start(cluster.config("provincial", "44", extra=extra), clock)
    act = await activate(kit, insured_in(kit, "44")[0])
    await delivered(p44, act.authCode)
    qr = Qr(cluster, p44)

    first = await qr.issue(act.authCode)
    assert first.expiresAt.ToMilliseconds() == clock.now_ms() + 90_000
    row = (await codes_of(p44, act.authCode))[first.ecQrCode]
    assert row["issued_at"] == clock.now_ms() and row["expires_at"] == clock.now_ms() + 90_000

    clock.advance(91)  # expired now: still stored, dead for a scanner (expires_at < now)
    second = await qr.issue(act.authCode)
    assert second.expiresAt.ToMilliseconds() == clock.now_ms() + 90_000
    assert set(await codes_of(p44, act.authCode)) == {first.ecQrCode, second.ecQrCode}

    clock.advance(350)  # the first expired more than the retention ago: deleted on the next issue
    third = await qr.issue(act.authCode)
    assert set(await codes_of(p44, act.authCode)) == {second.ecQrCode, third.ecQrCode}


async def test_a_bad_qr_setting_stops_the_province_at_start(cluster, tmp_path):
    from node.app import NodeStartError

    await cluster.start_national()
    with pytest.raises(NodeStartError, match="qr_ttl_seconds must be positive"):
        await cluster.start_province("44", extra={"qr_ttl_seconds": "0"})
