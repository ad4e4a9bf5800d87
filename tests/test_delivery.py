"""Durable delivery of voucher changes from national's outbox to the provinces.

Events are written straight into national's outbox in a write transaction, as the
lifecycle code does alongside each change, and travel over real gRPC between real nodes.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import grpc
import pytest
from signkit import signed

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import common_pb2
from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.inbox import wait_applied
from node.clock import FakeClock
from node.errors import from_rpc_error
from node.storage import outbox
from node.storage.db import Database
from node.storage.national import MIGRATIONS as NATIONAL_MIGRATIONS
from node.storage.outbox import OutboxStore

ACTIVATED = common_pb2.VOUCHER_STATE_ACTIVATED
_ids = itertools.count(1)


def card(n: int) -> str:
    return f"EC{n:062d}"


def voucher(
    ec_card_no: str, version: int, regions=("440100",), auths=(), state=ACTIVATED, name="张三"
):
    return common_pb2.VoucherData(
        ecCardNo=ec_card_no,
        state=state,
        userName=name,
        idType="01",
        idNo="440106198001010012",
        gender="1",
        birthday="1980-01-01",
        nationality="CHN",
        insuredRegions=[common_pb2.InsuredRegion(insuOrg=r, insuType="310") for r in regions],
        version=version,
        authorizations=[
            common_pb2.Authorization(
                channelId=ch, channelName=f"channel {ch}", authCode=code, revoked=revoked
            )
            for ch, code, revoked in auths
        ],
    )


def event(ec_card_no: str, version: int, event_id: str = "", kind: str = "voucher.activated", **kw):
    return fed_pb.Event(
        eventId=event_id or f"ev-{next(_ids)}",
        kind=kind,
        ecCardNo=ec_card_no,
        version=version,
        voucher=voucher(ec_card_no, version, **kw),
    )


async def enqueue(national, events, destinations=("44",)) -> int:
    """Queue events in one transaction, wake delivery; returns the last seq for
    ``destinations[0]``."""
    now = national.clock.now_ms()

    signed(national, *events)  # as national's lifecycle signs what it queues

    def write(conn):
        for e in events:
            outbox.enqueue(conn, e, destinations, now)

    await national.store.db.write(write)
    national.national.delivery.wake()
    return await OutboxStore(national.store.db).last_seq(destinations[0])


async def eventually(check, timeout: float = 10.0, what: str = "condition"):
    """Poll ``check`` (a coroutine function) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {result!r})")
        await asyncio.sleep(0.02)


async def scalar(node, sql: str, *args):
    return await node.store.db.read(lambda conn: conn.execute(sql, args).fetchone()[0])


async def node_entries(cluster, national) -> dict[str, admin_pb.NodeEntry]:
    resp = await cluster.stubs(national).admin.ListNodes(admin_pb.ListNodesRequest())
    return {n.province: n for n in resp.nodes}


async def rpc_error(call) -> tuple[int, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return from_rpc_error(info.value)


async def test_events_reach_a_province_with_their_authorizations(cluster):
    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    auths = (("official01", "AUTH-OFFICIAL", False), ("thirdparty07", "AUTH-THIRD", True))
    seq = await enqueue(national, [event(card(1), 1, regions=("440100", "440300"), auths=auths)])
    await wait_applied(p44.provincial.inbox, seq)

    cached = await p44.store.get_voucher(card(1))
    assert (cached.state, cached.version, cached.source) == (ACTIVATED, 1, "pushed")
    assert cached.insured_regions == (("440100", "310"), ("440300", "310"))
    hashed = p44.store.keys.code_hash
    assert [(a.channel_id, a.code_hash, a.revoked) for a in cached.authorizations] == [
        ("official01", hashed("AUTH-OFFICIAL"), False),
        ("thirdparty07", hashed("AUTH-THIRD"), True),
    ]
    match = await p44.store.get_by_auth_code("AUTH-OFFICIAL")
    assert (match.voucher.ec_card_no, match.channel_id, match.revoked) == (
        card(1),
        "official01",
        False,
    )
    assert (await p44.store.get_by_auth_code("AUTH-THIRD")).revoked
    assert await p44.store.get_by_auth_code("AUTH-NOBODY") is None
    assert await wait_applied(p44.store, seq) >= 0  # the durable position, not only memory

    # A newer version replaces the authorizations: revoking the official one.
    seq = await enqueue(
        national, [event(card(1), 2, auths=(("official01", "AUTH-OFFICIAL", True),))]
    )
    await wait_applied(p44.provincial.inbox, seq)
    assert (await p44.store.get_by_auth_code("AUTH-OFFICIAL")).revoked
    assert await p44.store.get_by_auth_code("AUTH-THIRD") is None

    # National records the acknowledgement when the answer is back, just after the
    # province applied the batch (which wait_applied saw).
    async def acknowledged():
        state = await OutboxStore(national.store.db).state("44")
        return state if state.acked_seq == seq else None

    state = await eventually(acknowledged, what="the batch acknowledged")
    assert (state.acked_seq, state.attempts, state.pending) == (seq, 0, False)


async def test_a_stopped_province_receives_everything_after_restart(cluster):
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p44 = await cluster.start_province("44")
    seq = await enqueue(national, [event(card(n), 1) for n in range(10)])
    await wait_applied(p44.provincial.inbox, seq)
    await p44.stop()

    # 50 more while it is down: versions 2..6 of ten vouchers, in five commits.
    for version in range(2, 7):
        seq = await enqueue(national, [event(card(n), version) for n in range(10)])
    assert (await node_entries(cluster, national))["44"].pendingEvents == 50

    again = await cluster.start_province("44")  # the same data folder
    assert again.config.data_dir == p44.config.data_dir
    await wait_applied(again.provincial.inbox, seq)
    assert await scalar(again, "SELECT count(*) FROM inbox_events") == 60
    assert await scalar(again, "SELECT count(DISTINCT event_id) FROM inbox_events") == 60
    versions = await again.store.db.read(
        lambda conn: [r[0] for r in conn.execute("SELECT version FROM voucher_cache")]
    )
    assert versions == [6] * 10

    # Even national losing its cursor applies nothing twice: the province skips the resend.
    await national.store.db.write(lambda conn: conn.execute("UPDATE delivery SET acked_seq = 0"))
    national.national.delivery.wake("44")

    async def resent():
        state = await OutboxStore(national.store.db).state("44")
        return state.acked_seq == seq

    await eventually(resent, what="the resend acknowledged")
    assert await scalar(again, "SELECT count(*) FROM inbox_events") == 60
    assert again.provincial.inbox.position == seq


async def test_a_duplicate_batch_is_ignored(cluster):
    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    s = cluster.stubs(p44, as_="national")
    batch = signed(national, event(card(1), 1), event(card(2), 1))
    for seq, e in enumerate(batch, start=101):
        e.sequence = seq
    request = fed_pb.DeliverEventsRequest(origin="national", batchId="b-1", events=batch)

    first = await s.federation.DeliverEvents(request)
    assert first.appliedPosition == 102
    before = await p44.store.get_voucher(card(1))
    again = await s.federation.DeliverEvents(request)
    assert again.appliedPosition == 102
    assert await p44.store.get_voucher(card(1)) == before
    assert await scalar(p44, "SELECT count(*) FROM inbox_events") == 2

    # The same event id under a new seq is not applied again (even with other content).
    [replay] = signed(national, event(card(1), 2, event_id=batch[0].eventId, name="李四"))
    replay.sequence = 103
    resp = await s.federation.DeliverEvents(
        fed_pb.DeliverEventsRequest(origin="national", batchId="b-2", events=[replay]),
    )
    assert resp.appliedPosition == 103
    assert await p44.store.get_voucher(card(1)) == before
    assert p44.provincial.inbox.position == 103

    # A seq at or below the position is a duplicate whatever its id says.
    [late] = signed(national, event(card(1), 5))
    late.sequence = 102
    resp = await s.federation.DeliverEvents(
        fed_pb.DeliverEventsRequest(origin="national", batchId="b-3", events=[late]),
    )
    assert resp.appliedPosition == 103
    assert (await p44.store.get_voucher(card(1))).version == 1
    assert await scalar(p44, "SELECT count(*) FROM inbox_events") == 2


async def test_out_of_order_versions_end_in_the_newest(cluster):
    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    v3 = event(card(1), 3, kind="voucher.authorized", auths=(("thirdparty07", "AUTH-3", False),))
    v2 = event(card(1), 2, kind="voucher.activated", auths=(("official01", "AUTH-2", False),))
    seq = await enqueue(national, [v3, v2])  # v3 gets the smaller seq: it arrives first
    await wait_applied(p44.provincial.inbox, seq)
    cached = await p44.store.get_voucher(card(1))
    assert cached.version == 3
    assert [a.code_hash for a in cached.authorizations] == [p44.store.keys.code_hash("AUTH-3")]
    assert await p44.store.get_by_auth_code("AUTH-2") is None
    # The late one is recorded as received, so it is never offered again.
    assert await scalar(p44, "SELECT count(*) FROM inbox_events") == 2


async def test_a_person_insured_in_three_provinces_reaches_all_three(cluster):
    national = await cluster.start_national()
    provinces = {p: await cluster.start_province(p) for p in ("11", "31", "44")}
    e = event(
        card(7), 1, regions=("110100", "310100", "440100"), auths=(("official01", "AUTH-7", False),)
    )
    await enqueue(national, [e], destinations=list(provinces))
    store = OutboxStore(national.store.db)
    for code, province in provinces.items():
        await wait_applied(province.provincial.inbox, await store.last_seq(code))
        cached = await province.store.get_voucher(card(7))
        assert cached.version == 1 and len(cached.insured_regions) == 3
        assert (await province.store.get_by_auth_code("AUTH-7")).channel_id == "official01"
    # national records each acknowledgement after the province has applied the batch
    deadline = time.monotonic() + 10
    while (pending := await store.pending_counts()) != {"11": 0, "31": 0, "44": 0}:
        assert time.monotonic() < deadline, pending
        await asyncio.sleep(0.02)


async def test_only_national_delivers_events(cluster):
    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    [e] = signed(national, event(card(1), 1))
    e.sequence = 1
    request = fed_pb.DeliverEventsRequest(origin="national", batchId="x", events=[e])
    for who in ("p31", "operator"):  # another province; a person, not a node
        s = cluster.stubs(p44, as_=who)
        code, message = await rpc_error(s.federation.DeliverEvents(request))
        assert code == -4 and ("only national" in message or "nodes only" in message)
    assert await p44.store.get_voucher(card(1)) is None
    code, _ = await rpc_error(
        cluster.stubs(national, as_="national").federation.DeliverEvents(request)
    )
    assert code == -5
    # A malformed event is refused whole, before anything is applied.
    [bare] = signed(
        national,
        fed_pb.Event(
            eventId="no-snapshot", sequence=2, kind="voucher.activated", ecCardNo=card(2), version=1
        ),
    )
    as_national = cluster.stubs(p44, as_="national")
    code, message = await rpc_error(
        as_national.federation.DeliverEvents(
            fed_pb.DeliverEventsRequest(origin="national", events=[e, bare])
        )
    )
    assert code == -2 and "snapshot" in message
    assert await p44.store.get_voucher(card(1)) is None


async def test_backoff_is_persisted_and_reset_when_the_province_registers(cluster):
    clock = FakeClock()
    national = await cluster.start_national(clock=clock)
    p44 = await cluster.start_province("44")
    # A crash: no deregistration, so national still lists the old address as up.
    p44.provincial.registrar.registered.clear()
    await p44.stop(grace=0)
    seq = await enqueue(national, [event(card(1), 1)])
    store = OutboxStore(national.store.db)

    async def backing_off():
        state = await store.state("44")
        return state if state.attempts >= 1 else None

    state = await eventually(backing_off, what="a failed attempt recorded")
    assert state.next_attempt_at > clock.now_ms()
    assert state.last_error and state.acked_seq == 0
    # Persisted: the row says so, not only the running loop.
    row = await scalar(national, "SELECT attempts FROM delivery WHERE destination = '44'")
    assert row >= 1

    # The clock does not move, so only the registration can clear the backoff.
    again = await cluster.start_province("44")
    await wait_applied(again.provincial.inbox, seq)

    async def acknowledged():
        s = await store.state("44")
        return s if s.acked_seq == seq else None

    state = await eventually(acknowledged, what="the delivery acknowledged")
    assert (state.attempts, state.next_attempt_at, state.last_error) == (0, 0, "")


async def test_list_nodes_shows_pending_and_applied(cluster):
    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    await p44.stop()
    seq = await enqueue(national, [event(card(n), 1) for n in range(3)])
    entry = (await node_entries(cluster, national))["44"]
    assert (entry.state, entry.pendingEvents, entry.appliedPosition) == (
        admin_pb.NODE_STATE_STOPPED,
        3,
        0,
    )

    await cluster.start_province("44")

    async def caught_up():
        e = (await node_entries(cluster, national))["44"]
        return e if e.pendingEvents == 0 and e.appliedPosition == seq else None

    entry = await eventually(caught_up, what="pending 0 and the position heartbeated")
    assert entry.state == admin_pb.NODE_STATE_UP


async def test_events_committed_while_national_was_down_are_delivered(cluster):
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p44 = await cluster.start_province("44")
    address, data_dir = national.address, national.config.data_dir
    await national.stop(grace=0)

    # Written to the file with no delivery loop running: only the outbox knows.
    db = Database(data_dir / "national.db", NATIONAL_MIGRATIONS, readers=1)
    db.open_sync()
    [e] = signed(national, event(card(9), 1))  # its key stays in its data folder
    db.write_sync(lambda conn: outbox.enqueue(conn, e, ["44"], 0))
    seq = db.read_sync(lambda conn: conn.execute("SELECT max(seq) FROM outbox").fetchone()[0])
    db.close_sync()

    await cluster.start_national(listen=address, delivery_scan_interval=0.2)
    await wait_applied(p44.provincial.inbox, seq)
    assert (await p44.store.get_voucher(card(9))).version == 1
