"""Scanning across the federation: consistency between the issuer's and the serving
province's data (6.3.2 c, 500023), concurrent scans of one code, an issuer that is
stopped, silent or unknown, and a voucher whose state changed after its code was shown."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from scankit import eventually, insured_in, start_scan_nation
from voucherkit import OFFICIAL, PASSWORD, WECHAT, fails, identity, update_person

from ecnet.v1 import acceptance_service_pb2 as acc_pb
from ecnet.v1 import acceptance_service_pb2_grpc, common_pb2
from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import voucher_service_pb2 as vpb
from node.clock import SeededEntropy
from node.domain.qrcode import new_code
from node.errors import from_rpc_error
from node.storage.provincial import VoucherSnapshot


def _region(code: str) -> list[common_pb2.InsuredRegion]:
    return [common_pb2.InsuredRegion(insuOrg=code, insuType="390")]


async def _version_at(node, auth_code: str, version: int) -> None:
    async def there():
        m = await node.store.get_by_auth_code(auth_code)
        return m is not None and m.voucher.version >= version

    await eventually(there, what=f"version {version} at {node.config.name}")


# Runs on SQLite and on PostgreSQL (tests/conftest.py, "backends").
pytestmark = pytest.mark.backends


async def test_regions_changed_after_display_ask_for_a_new_code(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    p = next(x for x in insured_in(sk.kit, "44") if x.insured[0].insu_org != "440300")
    auth = await sk.activated(p, "44")
    p44, p31 = sk.provinces["44"], sk.provinces["31"]

    # the holder once displayed a code in Shanghai: 31 fetched the voucher (national
    # keeps it informed from then on)
    await sk.issue("31", auth)
    before = await p31.store.get_voucher(
        (await p31.store.get_by_auth_code(auth)).voucher.ec_card_no
    )

    shown = await sk.issue("44", auth)
    changed = await update_person(sk.kit, p, insuredRegions=_region("440300"))
    assert changed.version == before.version + 1
    await _version_at(p44, auth, changed.version)

    # local: the code was issued for version v, the issuer now holds v+1
    message = await fails(sk.scanner("44").query(shown), 500023)
    assert "display a new code" in message

    # routed: a code issued for v+1, while 31 has not applied the change yet (delivery
    # lag, simulated: 31's copy is put back to version v)
    await _version_at(p31, auth, changed.version)
    await _rewind(p31, before)
    fresh = await sk.issue("44", auth)
    await fails(sk.scanner("31").query(fresh), 500023)
    cached = (await p31.store.get_by_auth_code(auth)).voucher
    assert cached.version == changed.version and cached.insured_regions == (("440300", "390"),)

    # both copies agree now: the next code scans in either province, with the new region
    got = await sk.scanner("31").query(await sk.issue("44", auth))
    assert got.insuOrg == "440300"
    assert (await sk.scanner("44").query(await sk.issue("44", auth))).insuOrg == "440300"


async def _rewind(node, old) -> None:
    """Put a province's cached voucher back to an older snapshot (a delivery not yet applied)."""

    def drop(conn):
        conn.execute("DELETE FROM voucher_cache WHERE ec_card_no = ?", (old.ec_card_no,))

    await node.store.db.write(drop)
    snap = VoucherSnapshot(
        old.ec_card_no,
        old.state,
        old.user_name,
        old.id_type,
        old.id_no,
        old.gender,
        old.birthday,
        old.nationality,
        old.insured_regions,
        old.version,
        old.authorizations,
    )
    assert await node.store.put_voucher(snap, old.source, node.clock.now_ms())


async def test_a_serving_cache_newer_than_the_issuer_is_kept(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    p = insured_in(sk.kit, "44")[0]
    auth = await sk.activated(p, "44")
    p31 = sk.provinces["31"]
    await sk.issue("31", auth)  # 31 holds the voucher (fetched for a code displayed there)
    cached = (await p31.store.get_by_auth_code(auth)).voucher
    # 31 learnt of a change the issuer has not received yet
    newer = VoucherSnapshot(
        cached.ec_card_no,
        cached.state,
        cached.user_name,
        cached.id_type,
        cached.id_no,
        cached.gender,
        cached.birthday,
        cached.nationality,
        cached.insured_regions,
        cached.version + 5,
        cached.authorizations,
    )
    assert await p31.store.put_voucher(newer, "fetched", p31.clock.now_ms())
    await fails(sk.scanner("31").query(await sk.issue("44", auth)), 500023)
    assert (await p31.store.get_by_auth_code(auth)).voucher.version == cached.version + 5


async def test_concurrent_scans_of_one_code_exactly_one_succeeds(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    scanners = [sk.scanner("44", 0), sk.scanner("31", 0), sk.scanner("44", 1), sk.scanner("31", 1)]
    for i, p in enumerate(insured_in(sk.kit, "44")[:3]):
        auth = await sk.activated(p, "44")
        code = await sk.issue("44", auth)
        # ~10 scans at once from terminals of both provinces (local and routed)
        calls = [scanners[(i + j) % len(scanners)].query(code) for j in range(10)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        ok = [r for r in results if not isinstance(r, BaseException)]
        assert len(ok) == 1, results
        assert ok[0].userName == p.user_name
        for r in results:
            if isinstance(r, BaseException):
                assert isinstance(r, grpc.aio.AioRpcError) and from_rpc_error(r)[0] == 500005, r


async def test_a_stopped_issuer_gives_minus_3_at_once(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    p = insured_in(sk.kit, "44")[0]
    auth = await sk.activated(p, "44")
    code = await sk.issue("44", auth)
    p44 = sk.provinces["44"]
    await p44.stop(grace=0)
    cluster.nodes.remove(p44)

    started = time.monotonic()
    message = await fails(sk.scanner("31").query(code), -3)
    assert time.monotonic() - started < 2.5
    assert "44" in message and "no live node" in message


async def test_an_issuer_that_does_not_answer_gives_minus_3_within_the_deadline(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"), extra={"route_deadline": "1"})
    p = insured_in(sk.kit, "44")[0]
    auth = await sk.activated(p, "44")
    code = await sk.issue("44", auth)
    acceptance = sk.provinces["44"].provincial.acceptance

    async def hang(*args):
        await asyncio.sleep(30)

    acceptance.decode_routed = hang
    started = time.monotonic()
    message = await fails(sk.scanner("31").query(code), -3)
    assert time.monotonic() - started < 1.8, "the serving province's 1 s deadline bounds the wait"
    assert "44" in message


async def test_a_code_of_a_province_without_a_node(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    # shaped like a code of Beijing (11), which runs no node in this nation
    value = new_code(b"k" * 16, "11", SeededEntropy(1))
    started = time.monotonic()
    message = await fails(sk.scanner("31").query(value), -3)
    assert time.monotonic() - started < 2.5
    assert "province 11" in message


async def test_revoked_authorization_and_superseded_voucher_refuse_their_codes(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    kit = sk.kit
    p44 = sk.provinces["44"]
    p = insured_in(kit, "44")[0]
    official = await sk.activated(p, "44")
    wechat = await kit.channel(WECHAT).Authorize(
        vpb.AuthorizeRequest(**identity(p), password=PASSWORD, businessProvince="44")
    )
    await _version_at(p44, wechat.authCode, 0)
    shown = await sk.issue("44", wechat.authCode, channel=WECHAT)
    await kit.channel(OFFICIAL).RevokeAuthorization(
        vpb.RevokeAuthorizationRequest(authCode=official, channelId=WECHAT)
    )

    async def revoked():
        m = await p44.store.get_by_auth_code(wechat.authCode)
        return m is not None and m.revoked

    await eventually(revoked, what="the revocation at 44")
    assert "revoked" in await fails(sk.scanner("31").query(shown), 500022)

    q = insured_in(kit, "44")[1]
    auth = await sk.activated(q, "44")
    shown = await sk.issue("44", auth)
    renamed = kit.changed(q, user_name=q.user_name + "新")
    assert (await update_person(kit, q, newUserName=renamed.user_name)).superseded

    async def superseded():
        m = await p44.store.get_by_auth_code(auth)
        return m is not None and m.voucher.state == common_pb2.VOUCHER_STATE_SUPERSEDED

    await eventually(superseded, what="the supersession at 44")
    assert "superseded" in await fails(sk.scanner("44").query(shown), 500002)


async def test_route_query_is_for_nodes_only_and_scans_for_provinces(cluster, tmp_path):
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    code = new_code(b"k" * 16, "44", SeededEntropy(2))
    request = fed_pb.RouteQueryRequest(
        servingProvince="31", query=acc_pb.QueryRequest(ecQrCode=code)
    )
    national = cluster.stubs(sk.kit.national)
    await fails(national.federation.RouteQuery(request, timeout=5), -4)  # an operator
    as_11 = cluster.stubs(sk.kit.national, as_="p11")
    await fails(as_11.federation.RouteQuery(request, timeout=5), -4)  # another province
    p44 = cluster.stubs(sk.provinces["44"], as_="p31")
    await fails(p44.federation.RouteQuery(request, timeout=5), -4)  # not through national
    # national answers no scan itself: scans go to the terminal's province
    t = sk.terminals["44"][0]
    stub = acceptance_service_pb2_grpc.AcceptanceServiceStub(national.channel)
    await fails(
        stub.Query(
            acc_pb.QueryRequest(
                orgId=t.org_id,
                businessType="01101",
                operatorId="a",
                operatorName="b",
                ecQrCode=code,
            ),
            metadata=(("ec-terminal-id", t.terminal_id),),
            timeout=5,
        ),
        -5,
    )


async def test_routed_scans_travel_on_links_and_find_a_restarted_issuer(cluster, tmp_path):
    """31 → national → 44 on Link streams (federation.link); after 44 restarts on a new
    port, a routed scan reaches the new instance on a new link."""
    sk = await start_scan_nation(cluster, tmp_path, ("44", "31"))
    national, p44 = sk.kit.national, sk.provinces["44"]
    p = insured_in(sk.kit, "44")[0]
    auth = await sk.activated(p, "44")
    first = await sk.scanner("31").query(await sk.issue("44", auth))
    assert first.userName == p.user_name
    assert national.links.answered["p31"] == 1 and p44.links.answered["national"] == 1

    await p44.stop()
    cluster.nodes.remove(p44)
    again = sk.provinces["44"] = await cluster.start(cluster.config("provincial", "44"))
    assert again.address != p44.address
    code = await sk.issue("44", auth)

    async def scanned():
        try:
            return await sk.scanner("31").query(code)
        except grpc.aio.AioRpcError as exc:  # national's view of 44 may lag a moment: -3
            assert from_rpc_error(exc)[0] == -3, exc
            return None

    second = await eventually(scanned, what="a routed scan reaching the restarted 44")
    assert second.userName == p.user_name
    assert again.links.answered["national"] == 1
