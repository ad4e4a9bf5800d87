"""A poison event does not block its destination's queue (``federation.delivery``, "a
refused event is narrowed down, then parked"): a batch the receiver refuses with -2 is
sent again one event at a time, an event refused on every attempt is parked (kept in
the outbox and in ``outbox_parked``) and the queue goes on; RetryParked queues it again.
Transport failures never park anything.

Real nodes over real gRPC, as in test_delivery. The backoff of the lane under test is
shrunk on the running ``Delivery`` (an instance attribute), so nothing sleeps long.
"""

from __future__ import annotations

import logging

import pytest
from test_delivery import (
    card,
    enqueue,
    event,
    eventually,
    node_entries,
    rpc_error,
    scalar,
)

from ecnet.v1 import admin_service_pb2 as admin_pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from federation import inbox as province_inbox
from federation.delivery import DeliverySettings
from federation.inbox import wait_applied
from node.errors import invalid
from node.settings import read_settings
from node.storage import outbox
from node.storage.outbox import OutboxStore

PARK_AFTER = 3


async def start_national(cluster, **kw):
    national = await cluster.start_national(
        extra={"park_after_refusals": str(PARK_AFTER)}, delivery_scan_interval=0.2, **kw
    )
    national.national.delivery.backoff_base_s = 0.01
    national.national.delivery.backoff_cap_s = 0.05
    return national


def poison(ec_card_no: str, event_id: str = "poison-1") -> fed_pb.Event:
    """A voucher event without its voucher snapshot: a province refuses it with -2."""
    return fed_pb.Event(eventId=event_id, kind="voucher.activated", ecCardNo=ec_card_no, version=1)


async def parked_rows(node, destination: str = "44") -> list[tuple]:
    return await node.store.db.read(
        lambda conn: conn.execute(
            "SELECT seq, event_id, kind, error FROM outbox_parked WHERE destination = ? "
            "ORDER BY seq",
            (destination,),
        ).fetchall()
    )


async def parked_count(node, count: int, destination: str = "44") -> list[tuple]:
    async def check():
        rows = await parked_rows(node, destination)
        return rows if len(rows) == count else None

    return await eventually(check, what=f"{count} parked for {destination}")


def parked_logs(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("event parked")]


# Runs on SQLite and on PostgreSQL (tests/conftest.py, "backends").
pytestmark = pytest.mark.backends


async def test_a_poison_event_is_parked_and_the_events_around_it_are_applied(cluster, caplog):
    caplog.set_level(logging.INFO, logger="ecnet.delivery")
    national = await start_national(cluster)
    p44 = await cluster.start_province("44")
    # One transaction, so one batch: two good events, the poison one, two good ones.
    before = [event(card(n), 1) for n in (1, 2)]
    after = [event(card(n), 1) for n in (4, 5)]
    last = await enqueue(national, [*before, poison(card(3)), *after])
    poison_seq = last - 2

    [(seq, event_id, kind, error)] = await parked_count(national, 1)
    assert (seq, event_id, kind) == (poison_seq, "poison-1", "voucher.activated")
    assert "snapshot" in error
    await wait_applied(p44.provincial.inbox, last)
    for n in (1, 2, 4, 5):
        assert (await p44.store.get_voucher(card(n))).version == 1
    assert await p44.store.get_voucher(card(3)) is None

    # The batch was narrowed once; the poison event was refused PARK_AFTER times, then parked.
    narrowed = [r for r in caplog.records if r.getMessage().startswith("batch refused (-2)")]
    assert (
        len(narrowed) == 1
        and narrowed[0].fields["first"] == last - 4
        and narrowed[0].fields["last"] == last
    )
    [record] = parked_logs(caplog)
    assert record.levelno == logging.ERROR
    assert {
        k: record.fields[k] for k in ("destination", "seq", "event_id", "kind", "refusals")
    } == {
        "destination": "44",
        "seq": poison_seq,
        "event_id": "poison-1",
        "kind": "voucher.activated",
        "refusals": PARK_AFTER,
    }
    assert "snapshot" in record.fields["error"]

    # The cursor went past it, the lane is clean again, the outbox row is kept.
    store = OutboxStore(national.store.db)

    async def settled():
        s = await store.state("44")
        return s if s.acked_seq == last and not s.pending else None

    state = await eventually(settled, what="the cursor at the last event")
    assert (state.attempts, state.last_error, state.refusals) == (0, "", 0)
    assert (
        await scalar(national, "SELECT event_id FROM outbox WHERE seq = ?", poison_seq)
        == "poison-1"
    )

    # Operators see it next to the pending count.
    entry = (await node_entries(cluster, national))["44"]
    assert (entry.pendingEvents, entry.parkedEvents) == (0, 1)

    # Pruning deletes every acknowledged row but the parked one, however old.
    deleted = await store.prune(national.clock.now_ms() + 365 * 86_400_000)
    assert deleted == 4
    assert await scalar(national, "SELECT count(*) FROM outbox") == 1
    assert await store.prune(national.clock.now_ms() + 365 * 86_400_000) == 0

    # Retried, it is queued again under a new seq (same id and body) and, still refused,
    # parked again: nothing is lost, nothing blocks.
    resp = await cluster.stubs(national).admin.RetryParked(
        admin_pb.RetryParkedRequest(destination="44")
    )
    [again] = resp.events
    assert (again.sequence, again.eventId, again.kind) == (
        poison_seq,
        "poison-1",
        "voucher.activated",
    )
    assert "snapshot" in again.error
    [(new_seq, new_id, _, _)] = await parked_count(national, 1)
    assert new_seq > last and new_id == "poison-1"
    assert await scalar(national, "SELECT count(*) FROM outbox WHERE event_id = 'poison-1'") == 1
    # logged by the delivery task once its write returns, which may be after the read
    # above saw the row

    async def logged_again() -> bool:
        return len(parked_logs(caplog)) >= 2

    await eventually(logged_again, what="the second parking logged")
    assert len(parked_logs(caplog)) == 2
    # Later events still go through.
    seq = await enqueue(national, [event(card(6), 1)])
    await wait_applied(p44.provincial.inbox, seq)
    assert (await node_entries(cluster, national))["44"].parkedEvents == 1


async def test_a_parked_event_is_applied_once_the_receiver_is_fixed(cluster, monkeypatch):
    national = await start_national(cluster)
    p44 = await cluster.start_province("44")
    # An older province: it does not know the kind "voucher.migrated" and refuses it.
    real = province_inbox.inbound_from_proto
    upgraded = False

    def older(e):
        if e.kind == "voucher.migrated" and not upgraded:
            raise invalid(f"unknown event kind {e.kind!r} ({e.eventId})")
        return real(e)

    monkeypatch.setattr(province_inbox, "inbound_from_proto", older)
    new_kind = event(card(2), 1, event_id="migrated-2", kind="voucher.migrated")
    last = await enqueue(national, [event(card(1), 1), new_kind, event(card(3), 1)])
    await parked_count(national, 1)
    await wait_applied(p44.provincial.inbox, last)
    assert await p44.store.get_voucher(card(2)) is None
    assert (await p44.store.get_voucher(card(3))).version == 1
    # Meanwhile a newer version of the same voucher, of a kind the province knows.
    newer = await enqueue(national, [event(card(7), 1), event(card(2), 2, name="王五")])
    await wait_applied(p44.provincial.inbox, newer)
    assert (await p44.store.get_voucher(card(2))).version == 2

    # The province is upgraded; the parked event is retried and now taken. Its older
    # snapshot (version 1) changes nothing: a province keeps only a newer version.
    upgraded = True
    resp = await cluster.stubs(national).admin.RetryParked(
        admin_pb.RetryParkedRequest(destination="44")
    )
    assert [e.eventId for e in resp.events] == ["migrated-2"]
    store = OutboxStore(national.store.db)
    requeued = await store.last_seq("44")
    assert requeued > newer
    await wait_applied(p44.provincial.inbox, requeued)
    assert await parked_rows(national) == []
    assert (await p44.store.get_voucher(card(2))).version == 2
    assert await scalar(p44, "SELECT count(*) FROM inbox_events WHERE event_id = 'migrated-2'") == 1

    async def clean():
        e = (await node_entries(cluster, national))["44"]
        return e if (e.pendingEvents, e.parkedEvents) == (0, 0) else None

    await eventually(clean, what="nothing pending or parked")
    # Nothing parked: a retry is a no-op.
    resp = await cluster.stubs(national).admin.RetryParked(
        admin_pb.RetryParkedRequest(destination="44")
    )
    assert list(resp.events) == []


async def test_a_single_refused_event_alone_in_its_batch_is_parked(cluster):
    national = await start_national(cluster)
    p44 = await cluster.start_province("44")
    seq = await enqueue(national, [poison(card(1), "lonely")])
    [(parked_seq, event_id, _, _)] = await parked_count(national, 1)
    assert (parked_seq, event_id) == (seq, "lonely")
    later = await enqueue(national, [event(card(2), 1)])
    await wait_applied(p44.provincial.inbox, later)


async def test_a_stopped_province_is_retried_and_never_parks(cluster):
    # A long lease: national keeps the crashed province's address and keeps trying.
    national = await start_national(cluster, heartbeat_interval=30)
    p44 = await cluster.start_province("44")
    p44.provincial.registrar.registered.clear()  # a crash: no deregistration
    await p44.stop(grace=0)
    await enqueue(national, [event(card(1), 1), poison(card(2)), event(card(3), 1)])
    store = OutboxStore(national.store.db)

    async def retried():
        s = await store.state("44")
        return s if s.attempts >= PARK_AFTER * 3 else None

    state = await eventually(retried, what="many failed attempts")
    assert (state.acked_seq, state.narrow_until, state.refusals) == (0, 0, 0)
    assert state.last_error.startswith("-3 ")
    assert await parked_rows(national) == []
    entry = (await node_entries(cluster, national))["44"]
    assert (entry.pendingEvents, entry.parkedEvents) == (3, 0)


async def test_other_refusals_back_off_without_narrowing(cluster):
    """-4 (not -2): national refuses notices of another province's settlements; the
    uplink backs off and retries the batch whole, and parks nothing."""
    from test_settlement_notices import notice, send

    await cluster.start_national()
    p44 = await cluster.start_province(
        "44", delivery_scan_interval=0.2, extra={"park_after_refusals": str(PARK_AFTER)}
    )
    p44.provincial.uplink.backoff_base_s = 0.01
    p44.provincial.uplink.backoff_cap_s = 0.05
    for i in range(3):
        await send(p44, notice(f"S-{i}", settled_by="31"), ["11"])
    uplink = OutboxStore(p44.store.db, lane="national")

    async def retried():
        s = await uplink.state("national")
        return s if s.attempts >= PARK_AFTER * 3 else None

    state = await eventually(retried, what="the uplink backing off on -4")
    assert state.last_error.startswith("-4 ")
    assert (state.acked_seq, state.narrow_until, state.refusals) == (0, 0, 0)
    assert await parked_rows(p44, "national") == []


async def test_a_provinces_uplink_parks_what_national_refuses(cluster):
    """National relays only settlement notices: a voucher event queued at a province is
    refused with -2 and parked in the province's own outbox; the notices around it go on."""
    from test_settlement_notices import notice, received, send

    await cluster.start_national()
    p11 = await cluster.start_province("11")
    p44 = await cluster.start_province(
        "44", delivery_scan_interval=0.2, extra={"park_after_refusals": str(PARK_AFTER)}
    )
    p44.provincial.uplink.backoff_base_s = 0.01
    p44.provincial.uplink.backoff_cap_s = 0.05
    await send(p44, notice("S-1"), ["11"])
    now = p44.clock.now_ms()

    def write(conn):
        outbox.enqueue(conn, event(card(1), 1, event_id="stray"), ["11"], now, lane="national")

    await p44.store.db.write(write)
    await send(p44, notice("S-2"), ["11"])
    [(_, event_id, kind, error)] = await parked_count(p44, 1, "national")
    assert (event_id, kind) == ("stray", "voucher.activated") and "relays only" in error
    got = await received(p11, 2)
    assert sorted(n.settlementId for n in got) == ["S-1", "S-2"]
    # operators see it in the province's own counts (nation status, "records")
    info = await cluster.stubs(p44).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
    assert info.counts["outbox_parked"] == 1

    # A province retries its own uplink's parked events (destination "" or "national").
    stubs = cluster.stubs(p44)
    code, _ = await rpc_error(
        stubs.admin.RetryParked(admin_pb.RetryParkedRequest(destination="11"))
    )
    assert code == -2
    resp = await stubs.admin.RetryParked(admin_pb.RetryParkedRequest())
    assert [e.eventId for e in resp.events] == ["stray"]
    await parked_count(p44, 1, "national")  # refused again, parked again


async def test_retry_parked_checks_its_destination(cluster):
    national = await cluster.start_national()
    code, message = await rpc_error(
        cluster.stubs(national).admin.RetryParked(admin_pb.RetryParkedRequest(destination="99"))
    )
    assert code == -2 and "99" in message


def test_park_after_refusals_is_a_setting():
    assert read_settings(DeliverySettings, "delivery", {}, {}).park_after_refusals == 5
    assert (
        read_settings(
            DeliverySettings, "delivery", {"park_after_refusals": "2"}, {}
        ).park_after_refusals
        == 2
    )
    env = {"ECNET_DELIVERY_PARK_AFTER_REFUSALS": "7"}
    assert read_settings(DeliverySettings, "delivery", {}, env).park_after_refusals == 7


@pytest.mark.parametrize(
    "answer, parks", [("-2 in ErrorInfo", True), ("bare INVALID_ARGUMENT", False)]
)
def test_only_an_ecnet_minus_2_is_a_refusal(answer, parks):
    import grpc
    from grpc_status import rpc_status
    from test_errors import FakeRpcError as Failed

    from federation.delivery import refusal_of
    from node.errors import to_status

    if parks:
        status = to_status(invalid("bad event"))
    else:
        from google.rpc import status_pb2

        status = rpc_status.to_status(
            status_pb2.Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message="bad event")
        )
    assert refusal_of(Failed(status)) == ("bad event" if parks else None)
