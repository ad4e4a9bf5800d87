"""Pruning of the outbox: rows every destination acknowledged are deleted once older
than the retention (``node.storage.outbox``), in small batches, by a task of each
``Delivery``; unacknowledged rows are never deleted.

Time is a ``FakeClock`` moved by hand (no sleeping for expiry); events travel over real
gRPC between real nodes, as in ``test_delivery`` and ``test_settlement_notices``.
"""

from __future__ import annotations

import pytest
from test_delivery import card, enqueue, event, eventually, scalar
from test_settlement_notices import notice, received, send

from federation.delivery import DeliverySettings
from federation.inbox import wait_applied
from node.clock import FakeClock
from node.config import ConfigError
from node.settings import read_settings
from node.settlement.notice import list_notices
from node.storage import outbox
from node.storage.db import Database
from node.storage.national import MIGRATIONS as NATIONAL_MIGRATIONS
from node.storage.outbox import OutboxStore

RETENTION_S = 60
# Pruned only when a test says so (the task's first pass, at start, finds nothing old).
MANUAL = {"outbox_retention": str(RETENTION_S), "outbox_prune_interval": "3600"}


async def outbox_rows(node, destination: str | None = None) -> int:
    if destination is None:
        return await scalar(node, "SELECT count(*) FROM outbox")
    return await scalar(node, "SELECT count(*) FROM outbox WHERE destination = ?", destination)


async def start_province(cluster, province: str, clock=None, **kw):
    return await cluster.start(cluster.config("provincial", province, **kw), clock)


async def acked(store: OutboxStore, lane: str, seq: int) -> None:
    async def check():
        return (await store.state(lane)).acked_seq >= seq

    await eventually(check, what=f"{lane} acknowledged {seq}")


# Runs on SQLite and on PostgreSQL (tests/conftest.py, "backends").
pytestmark = pytest.mark.backends


async def test_delivered_rows_past_the_retention_are_pruned_and_undelivered_ones_kept(cluster):
    clock = FakeClock()
    national = await cluster.start_national(clock=clock, extra=MANUAL, delivery_scan_interval=0.2)
    p44 = await cluster.start_province("44")
    p31 = await cluster.start_province("31")
    store = OutboxStore(national.store.db)
    await enqueue(national, [event(card(n), 1) for n in range(5)], destinations=("31", "44"))
    for p in (p31, p44):
        await wait_applied(p.provincial.inbox, await store.last_seq(p.config.province))
        await acked(store, p.config.province, await store.last_seq(p.config.province))
    await p31.stop()
    seq44 = await enqueue(
        national, [event(card(n), 2) for n in range(5)], destinations=("44", "31")
    )
    await wait_applied(p44.provincial.inbox, seq44)
    await acked(store, "44", seq44)
    assert await store.pending_counts() == {"31": 5, "44": 0}

    # Delivered but younger than the retention: kept.
    clock.advance(RETENTION_S - 1)
    assert await national.national.delivery.prune() == 0
    assert await outbox_rows(national) == 20

    # Older: every acknowledged row goes; p31's five undelivered ones stay, however old.
    clock.advance(2)
    assert await national.national.delivery.prune() == 15
    assert (await outbox_rows(national, "44"), await outbox_rows(national, "31")) == (0, 5)
    assert await store.pending_counts() == {"31": 5, "44": 0}
    clock.advance(30 * 86_400)
    assert await national.national.delivery.prune() == 0
    assert await outbox_rows(national, "31") == 5
    # last_seq still names the newest position queued once its rows are gone.
    assert await store.last_seq("44") == seq44

    # A young row delivered now is kept; p31's old ones go once it has them.
    young = await enqueue(national, [event(card(9), 1)], destinations=("44",))
    await wait_applied(p44.provincial.inbox, young)
    again = await cluster.start_province("31")  # the same data folder
    seq31 = await store.last_seq("31")
    await wait_applied(again.provincial.inbox, seq31)
    await acked(store, "31", seq31)
    assert (await again.store.get_voucher(card(0))).version == 2
    assert await national.national.delivery.prune() == 5
    assert await outbox_rows(national) == 1
    clock.advance(RETENTION_S + 1)
    await acked(store, "44", young)
    assert await national.national.delivery.prune() == 1
    assert await outbox_rows(national) == 0
    assert await store.pending_counts() == {"31": 0, "44": 0}


async def test_pruning_goes_in_batches_of_the_configured_size(cluster):
    clock = FakeClock()
    national = await cluster.start_national(
        clock=clock, extra={**MANUAL, "outbox_prune_batch": "7"}
    )
    p44 = await cluster.start_province("44")
    seq = await enqueue(national, [event(card(n), 1) for n in range(30)])
    await wait_applied(p44.provincial.inbox, seq)
    await acked(OutboxStore(national.store.db), "44", seq)

    db = national.store.db
    write = db.write_unsynced  # pruning is bookkeeping: not synced to disk at each commit
    batches: list[int] = []

    async def spy(fn, *args):
        result = await write(fn, *args)
        if fn is outbox._q_prune:
            batches.append(result)
        return result

    db.write_unsynced = spy
    clock.advance(RETENTION_S + 1)
    assert await national.national.delivery.prune() == 30
    # One write transaction per batch, oldest first, until a short one.
    assert batches == [7, 7, 7, 7, 2]
    assert await outbox_rows(national) == 0
    # Nothing left: no write at all (a reader finds the lane has nothing to prune).
    assert await national.national.delivery.prune() == 0
    assert batches == [7, 7, 7, 7, 2]


async def test_seq_keeps_growing_after_every_row_is_pruned(cluster):
    clock = FakeClock()
    national = await cluster.start_national(clock=clock, extra=MANUAL)
    p44 = await cluster.start_province("44")
    store = OutboxStore(national.store.db)
    seq = await enqueue(national, [event(card(n), 1) for n in range(5)])
    await wait_applied(p44.provincial.inbox, seq)
    await acked(store, "44", seq)
    clock.advance(RETENTION_S + 1)
    assert await national.national.delivery.prune() == 5
    assert await outbox_rows(national) == 0

    # AUTOINCREMENT: the empty table does not hand out seq 1 again (which p44, at
    # position ``seq``, would take for a duplicate and drop).
    assert await scalar(national, "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'") == seq
    newer = await enqueue(national, [event(card(1), 2)])
    assert newer == seq + 1
    await wait_applied(p44.provincial.inbox, newer)
    assert (await p44.store.get_voucher(card(1))).version == 2


async def test_the_prune_task_runs_with_the_delivery_and_stops_with_it(cluster):
    clock = FakeClock()
    extra = {"outbox_retention": str(RETENTION_S), "outbox_prune_interval": "0.05"}
    national = await cluster.start_national(clock=clock, extra=extra)
    p44 = await cluster.start_province("44")
    seq = await enqueue(national, [event(card(n), 1) for n in range(3)])
    await wait_applied(p44.provincial.inbox, seq)
    await acked(OutboxStore(national.store.db), "44", seq)
    assert await outbox_rows(national) == 3
    clock.advance(RETENTION_S + 1)

    async def pruned():
        return await outbox_rows(national) == 0

    await eventually(pruned, what="the outbox pruned by the delivery's own task")
    pruner = national.national.delivery._pruner
    await national.national.delivery.stop()
    assert pruner.done()


async def test_a_provinces_uplink_outbox_is_pruned_once_national_acknowledged(cluster):
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p11 = await cluster.start_province("11")
    clock = FakeClock()
    p44 = await start_province(cluster, "44", clock, extra=MANUAL, delivery_scan_interval=0.2)
    address = national.address
    await national.stop(grace=0)

    # National is down: the notice waits in p44's outbox, old or not.
    await send(p44, notice(), ["11"])
    uplink = OutboxStore(p44.store.db, lane="national")

    async def failed():
        return (await uplink.state("national")).attempts >= 1

    await eventually(failed, what="a failed attempt of p44's uplink")
    clock.advance(RETENTION_S + 1)
    assert await p44.provincial.uplink.prune() == 0
    assert await outbox_rows(p44) == 1
    assert (await uplink.pending_counts()) == {"national": 1}

    await cluster.start_national(listen=address, delivery_scan_interval=0.2)

    async def delivered():
        clock.advance(1)  # p44's time moves on, so each backoff of its uplink ends
        return not (await uplink.state("national")).pending

    await eventually(delivered, what="p44's uplink acknowledged")
    await received(p11)
    # The row names its final destination (11); the uplink's one cursor is what counts.
    assert await p44.provincial.uplink.prune() == 1
    assert await outbox_rows(p44) == 0


async def test_a_notice_queued_again_after_its_rows_were_pruned_is_applied_once(cluster):
    clock = FakeClock()
    national = await cluster.start_national(clock=clock, extra=MANUAL, delivery_scan_interval=0.2)
    p11 = await cluster.start_province("11")
    p44 = await start_province(cluster, "44", clock, extra=MANUAL, delivery_scan_interval=0.2)
    await send(p44, notice(), ["11"])
    await received(p11)
    to_11 = OutboxStore(national.store.db)
    first = await to_11.last_seq("11")
    await acked(OutboxStore(p44.store.db, lane="national"), "national", 1)
    await acked(to_11, "11", first)
    clock.advance(RETENTION_S + 1)
    assert await p44.provincial.uplink.prune() == 1
    assert await national.national.delivery.prune() == 1

    # The UNIQUE (destination, event_id) row is gone at both hops, so the same notice
    # is queued and relayed again under new seqs; the destination applies it once.
    await send(p44, notice(), ["11"])
    await acked(OutboxStore(p44.store.db, lane="national"), "national", 2)

    async def relayed():
        return await to_11.last_seq("11") > first

    await eventually(relayed, what="the notice queued again at national")
    await acked(to_11, "11", await to_11.last_seq("11"))
    assert await scalar(p11, "SELECT count(*) FROM settlement_notices") == 1
    assert len(await list_notices(p11.store, "01", notice().id_no)) == 1


async def test_a_lane_without_a_cursor_keeps_everything(tmp_path):
    db = Database(tmp_path / "national.db", NATIONAL_MIGRATIONS, readers=1)
    await db.open()
    try:
        await db.write(lambda conn: outbox.enqueue(conn, event(card(1), 1), ["44", "31"], 0))
        await db.write(
            lambda conn: conn.execute("UPDATE delivery SET acked_seq = 2 WHERE destination = '44'")
        )
        await db.write(lambda conn: conn.execute("DELETE FROM delivery WHERE destination = '31'"))
        store = OutboxStore(db)
        assert await store.prune(before_ms=10**15) == 1
        rows = await db.read(
            lambda conn: [tuple(r) for r in conn.execute("SELECT destination FROM outbox")]
        )
        assert rows == [("31",)]
    finally:
        await db.close()


def test_the_retention_is_a_setting():
    defaults = read_settings(DeliverySettings, "delivery", {}, {})
    assert (defaults.outbox_retention, defaults.outbox_prune_batch) == (7 * 86_400, 1000)
    env = {"ECNET_DELIVERY_OUTBOX_RETENTION": "3600", "ECNET_DELIVERY_OUTBOX_PRUNE_INTERVAL": "5"}
    s = read_settings(DeliverySettings, "delivery", {}, env)
    assert (s.outbox_retention, s.outbox_prune_interval) == (3600, 5.0)
    assert (
        read_settings(
            DeliverySettings, "delivery", {"outbox_retention": "60"}, env
        ).outbox_retention
        == 60
    )
    with pytest.raises(ConfigError, match="outbox_retention"):
        read_settings(DeliverySettings, "delivery", {"outbox_retention": "0"}, {})
