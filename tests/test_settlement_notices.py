"""Settlement notices (standard 6.3.2 d): the other insured provinces of a person are
told of a settlement or its reversal, through national, durably.

Notices are queued as the settling province's write transaction does
(``enqueue_notice`` inside ``db.write``, then the uplink woken) and travel over real
gRPC between real nodes: province outbox -> uplink -> national (relay into its own
outbox) -> delivery -> destination province.
"""

from __future__ import annotations

import dataclasses

import pytest
from signkit import relayed, signed
from test_delivery import eventually, rpc_error, scalar

from ecnet.v1 import federation_service_pb2 as fed_pb
from ecnet.v1 import settlement_service_pb2 as pb
from node.errors import EcError
from node.settlement.notice import Notice, enqueue_notice
from node.settlement.wire import notice_to_proto
from node.storage.outbox import OutboxStore
from node.wire.events import inbound_from_proto, notice_event

ID_TYPE, ID_NO = "01", "110101198001010015"
CARD = "EC" + "7" * 62


def notice(
    settlement_id: str = "S-1",
    state: str = "settled",
    settled_by: str = "44",
    at_ms: int = 1_700_000_000_000,
):
    return Notice(
        settlement_id=settlement_id,
        ec_card_no=CARD,
        id_type=ID_TYPE,
        id_no=ID_NO,
        insu_org=f"{settled_by}0100",
        settled_by=settled_by,
        med_type="outpatient",
        fee_sumamt=12_345,
        fund_pay=8_000,
        psn_acct_pay=2_000,
        own_pay_amt=2_345,
        state=state,
        at_ms=at_ms,
    )


async def send(province_node, n: Notice, destinations) -> None:
    """What the settling province does: queue in its write transaction, wake after commit."""
    now = province_node.clock.now_ms()
    await province_node.store.db.write(
        lambda conn: enqueue_notice(conn, n, destinations, now, province_node.signer)
    )
    province_node.provincial.uplink.wake()


async def list_notices(node, id_type: str, id_no: str, limit: int = 50):
    """ListNotices at ``node``, as the servicer answers it."""
    received = await node.provincial.settlements.notices(id_type, id_no, limit)
    return [notice_to_proto(r.notice, r.received_at) for r in received]


async def received(node, count: int = 1, what: str = "notices"):
    async def check():
        got = await list_notices(node, ID_TYPE, ID_NO)
        return got if len(got) >= count else None

    return await eventually(check, what=f"{what} at p{node.config.province}")


async def notice_rows(node) -> int:
    return await scalar(node, "SELECT count(*) FROM settlement_notices")


def as_event(n: Notice, destination: str, seq: int, by=None) -> fed_pb.Event:
    """The notice event for ``destination`` at ``seq``, signed by node ``by`` if given."""
    e = notice_event(n, destination, 0)
    if by is not None:
        signed(by, e)
    e.sequence = seq
    return e


# Runs on SQLite and on PostgreSQL (tests/conftest.py, "backends").
pytestmark = pytest.mark.backends


async def test_a_notice_reaches_the_other_insured_provinces_through_national(cluster):
    national = await cluster.start_national()
    p11 = await cluster.start_province("11")
    p31 = await cluster.start_province("31")
    p44 = await cluster.start_province("44")
    n = notice()
    await send(p44, n, ["11", "31"])

    [got] = await received(p11)
    assert got.settlementId == "S-1" and got.ecCardNo == CARD
    assert (got.insuOrg, got.settledBy) == ("440100", "44")
    assert got.medType == pb.MEDICAL_TYPE_OUTPATIENT and got.state == pb.SETTLEMENT_STATE_SETTLED
    assert (got.feeSumamt, got.fundPay, got.psnAcctPay, got.ownPayAmt) == (
        12_345,
        8_000,
        2_000,
        2_345,
    )
    assert got.at.ToMilliseconds() == n.at_ms and got.receivedAt.ToMilliseconds() > 0
    [got31] = await received(p31)
    assert got31.settlementId == "S-1"
    # Not to the settling province itself, and not to a province the person is not insured in.
    assert await notice_rows(p44) == 0

    # Through national: its outbox holds one row per destination, from origin p44.
    rows = await national.store.db.read(
        lambda conn: conn.execute(
            "SELECT destination, event_id, kind FROM outbox ORDER BY destination"
        ).fetchall()
    )
    assert [tuple(r) for r in rows] == [
        ("11", "notice:S-1:settled", "settlement.notice"),
        ("31", "notice:S-1:settled", "settlement.notice"),
    ]
    assert await national.store.load_inbox_position("p44") == 2

    async def uplink_acked():
        state = await OutboxStore(p44.store.db, lane="national").state("national")
        return state if state.acked_seq == 2 and not state.pending else None

    await eventually(uplink_acked, what="p44's uplink acknowledged")

    # The reversal: the list shows the settlement once, in its current state; both rows kept.
    reversed_at = n.at_ms + 60_000
    await send(p44, dataclasses.replace(n, state="reversed", at_ms=reversed_at), ["11", "31"])

    async def reversed_at_11():
        got = await list_notices(p11, ID_TYPE, ID_NO)
        return got if got and got[0].state == pb.SETTLEMENT_STATE_REVERSED else None

    [got] = await eventually(reversed_at_11, what="the reversal at p11")
    assert got.at.ToMilliseconds() == reversed_at and got.feeSumamt == 12_345
    assert await notice_rows(p11) == 2

    # Newest first; another person's notices are not listed.
    await send(p44, notice("S-2", at_ms=reversed_at + 1), ["11"])
    got = await received(p11, 2)
    assert [g.settlementId for g in got] == ["S-2", "S-1"]
    assert await list_notices(p11, ID_TYPE, "110101198001010023") == []
    assert [g.settlementId for g in await list_notices(p11, ID_TYPE, ID_NO, limit=1)] == ["S-2"]


async def test_a_stopped_province_receives_the_notice_once_after_restart(cluster):
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p11 = await cluster.start_province("11")
    p31 = await cluster.start_province("31")
    p44 = await cluster.start_province("44")
    await p31.stop()

    await send(p44, notice(), ["11", "31"])
    await received(p11)
    store = OutboxStore(national.store.db)

    async def waiting_for_31():
        return (await store.pending_counts()).get("31") == 1

    await eventually(waiting_for_31, what="the notice queued at national for p31")

    again = await cluster.start_province("31")  # the same data folder
    assert again.config.data_dir == p31.config.data_dir
    [got] = await received(again)
    assert got.settlementId == "S-1" and got.state == pb.SETTLEMENT_STATE_SETTLED
    assert (
        await scalar(
            again, "SELECT count(*) FROM inbox_events WHERE event_id = 'notice:S-1:settled'"
        )
        == 1
    )

    # Even national losing its cursor for p31 applies nothing twice.
    seq = await store.last_seq("31")
    await national.store.db.write(lambda conn: conn.execute("UPDATE delivery SET acked_seq = 0"))
    national.national.delivery.wake("31")

    async def resent():
        return (await store.state("31")).acked_seq == seq

    await eventually(resent, what="the resend acknowledged")
    assert await notice_rows(again) == 1
    assert len(await list_notices(again, ID_TYPE, ID_NO)) == 1


async def test_a_notice_committed_while_national_is_down_arrives_after_it_restarts(cluster):
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p11 = await cluster.start_province("11")
    p44 = await cluster.start_province("44", delivery_scan_interval=0.2)
    address = national.address
    await national.stop(grace=0)

    await send(p44, notice(), ["11"])
    uplink = OutboxStore(p44.store.db, lane="national")

    async def failed_once():
        state = await uplink.state("national")
        return state if state.attempts >= 1 else None

    state = await eventually(failed_once, what="a failed attempt of p44's uplink")
    assert state.pending and state.last_error and state.next_attempt_at > 0

    await cluster.start_national(listen=address, delivery_scan_interval=0.2)
    [got] = await received(p11)
    assert got.settlementId == "S-1"

    async def acknowledged():
        s = await uplink.state("national")
        return s if not s.pending else None

    state = await eventually(acknowledged, what="p44's uplink acknowledged")
    assert (state.attempts, state.next_attempt_at, state.last_error) == (0, 0, "")


async def test_a_duplicate_batch_is_applied_once_at_national_and_at_the_destination(cluster):
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p11 = await cluster.start_province("11")
    p44 = await cluster.start_province("44")
    s = cluster.stubs(national, as_="p44")
    request = fed_pb.DeliverEventsRequest(
        origin="p44", batchId="p44:national:1-1", events=[as_event(notice(), "11", 1, p44)]
    )
    first = await s.federation.DeliverEvents(request, metadata=s.metadata)
    again = await s.federation.DeliverEvents(request, metadata=s.metadata)
    assert first.appliedPosition == again.appliedPosition == 1
    # The same event under a new seq (a province that lost its cursor) is not queued again.
    replay = fed_pb.DeliverEventsRequest(
        origin="p44", batchId="b-2", events=[as_event(notice(), "11", 2, p44)]
    )
    assert (await s.federation.DeliverEvents(replay, metadata=s.metadata)).appliedPosition == 2

    await received(p11)
    assert await scalar(national, "SELECT count(*) FROM outbox WHERE destination = '11'") == 1
    assert await national.store.load_inbox_position("p44") == 2

    # The destination too: national's batch delivered again is applied once.
    store = OutboxStore(national.store.db)
    seq = await store.last_seq("11")
    delivered = fed_pb.DeliverEventsRequest(
        origin="national", batchId="x", events=relayed(national, p44, as_event(notice(), "11", seq))
    )
    to_11 = cluster.stubs(p11, as_="national")
    resp = await to_11.federation.DeliverEvents(delivered, metadata=to_11.metadata)
    assert resp.appliedPosition == seq
    assert await notice_rows(p11) == 1
    assert len(await list_notices(p11, ID_TYPE, ID_NO)) == 1
    # p44's own uplink was not involved (its outbox is empty).
    assert await scalar(p44, "SELECT count(*) FROM outbox") == 0


async def test_a_province_delivers_only_its_own_notices_to_national(cluster):
    national = await cluster.start_national()
    await cluster.start_province("11")
    p44 = await cluster.start_province("44")
    mine = fed_pb.DeliverEventsRequest(
        origin="p44", batchId="b", events=[as_event(notice(), "11", 1, p44)]
    )

    def stub(name: str):
        return cluster.stubs(national, as_=name or "operator")

    s44 = stub("p44")
    # As another origin.
    other = fed_pb.DeliverEventsRequest(
        origin="p31", batchId="b", events=[as_event(notice(settled_by="31"), "11", 1, p44)]
    )
    code, message = await rpc_error(s44.federation.DeliverEvents(other, metadata=s44.metadata))
    assert code == -4 and "p31" in message
    # Its origin, but another province's settlement.
    forged = fed_pb.DeliverEventsRequest(
        origin="p44", batchId="b", events=[as_event(notice(settled_by="31"), "11", 1, p44)]
    )
    code, _ = await rpc_error(s44.federation.DeliverEvents(forged, metadata=s44.metadata))
    assert code == -4
    # A province that is not registered, and an anonymous caller.
    for name in ("p31", ""):
        s = stub(name)
        request = fed_pb.DeliverEventsRequest(origin=name, events=mine.events)
        code, _ = await rpc_error(s.federation.DeliverEvents(request, metadata=s.metadata))
        assert code == -4
    # National relays only notices, and only well-formed ones.
    voucher_event = fed_pb.Event(
        eventId="v-1", sequence=1, kind="voucher.activated", ecCardNo=CARD, version=1
    )
    code, _ = await rpc_error(
        s44.federation.DeliverEvents(
            fed_pb.DeliverEventsRequest(origin="p44", events=[voucher_event]), metadata=s44.metadata
        )
    )
    assert code == -2
    bad = as_event(notice(), "11", 1)
    bad.payloadJson = '{"settlement_id": "S-1"}'
    signed(p44, bad)  # well signed, badly formed
    code, _ = await rpc_error(
        s44.federation.DeliverEvents(
            fed_pb.DeliverEventsRequest(origin="p44", events=[bad]), metadata=s44.metadata
        )
    )
    assert code == -2
    nowhere = as_event(notice(), "99", 1, p44)
    code, _ = await rpc_error(
        s44.federation.DeliverEvents(
            fed_pb.DeliverEventsRequest(origin="p44", events=[nowhere]), metadata=s44.metadata
        )
    )
    assert code == -2
    assert await scalar(national, "SELECT count(*) FROM outbox") == 0
    assert await national.store.load_inbox_position("p44") == 0

    # A notice naming its own origin is taken (the position moves) but never sent back.
    home = fed_pb.DeliverEventsRequest(origin="p44", events=[as_event(notice(), "44", 1, p44)])
    assert (await s44.federation.DeliverEvents(home, metadata=s44.metadata)).appliedPosition == 1
    assert await scalar(national, "SELECT count(*) FROM outbox") == 0
    # The well-formed batch is relayed.
    mine.events[0].sequence = 2
    assert (await s44.federation.DeliverEvents(mine, metadata=s44.metadata)).appliedPosition == 2
    assert await scalar(national, "SELECT count(*) FROM outbox WHERE destination = '11'") == 1


def test_notice_events_need_no_snapshot_but_voucher_events_still_do():
    e = as_event(notice(state="reversed"), "11", 5)
    inbound = inbound_from_proto(e)
    assert inbound.voucher is None and inbound.notice == notice(state="reversed")
    assert (e.eventId, e.version, e.HasField("voucher")) == ("notice:S-1:reversed", 2, False)
    bare = fed_pb.Event(eventId="v", sequence=1, kind="voucher.activated", ecCardNo=CARD, version=1)
    for broken in (
        bare,
        fed_pb.Event(eventId="v", sequence=1, kind="voucher.activated", ecCardNo=CARD),
    ):
        try:
            inbound_from_proto(broken)
        except EcError as exc:
            assert exc.code == -2
        else:
            raise AssertionError("a voucher event without snapshot or version was accepted")
    wrong_version = as_event(notice(), "11", 1)
    wrong_version.version = 2
    try:
        inbound_from_proto(wrong_version)
    except EcError as exc:
        assert exc.code == -2
    else:
        raise AssertionError("a settled notice with the reversal's version was accepted")


async def test_enqueue_skips_the_settling_province_and_refuses_bad_destinations(cluster):
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    now = p44.clock.now_ms()
    key = p44.signer
    await p44.store.db.write(lambda conn: enqueue_notice(conn, notice(), [], now, key))
    await p44.store.db.write(lambda conn: enqueue_notice(conn, notice(), ["44"], now, key))
    assert await scalar(p44, "SELECT count(*) FROM outbox") == 0
    try:
        await p44.store.db.write(
            lambda conn: enqueue_notice(conn, notice(), ["11", "99"], now, key)
        )
    except ValueError:
        pass
    else:
        raise AssertionError("a destination that is no province was accepted")
    assert await scalar(p44, "SELECT count(*) FROM outbox") == 0
