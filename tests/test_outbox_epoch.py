"""Outbox epochs: a sender whose database was recreated (its outbox seqs restart at 1)
is recognised by the receiver, which restarts its position for that origin instead of
dropping the new events as duplicates (``federation.delivery``, "an idempotent
receiver"). Real nodes over real gRPC, as in test_delivery and test_settlement_notices.
"""

from __future__ import annotations

import logging
import sqlite3

from test_delivery import (
    card,
    enqueue,
    event,
    eventually,
    node_entries,
    scalar,
)
from test_settlement_notices import as_event, notice, received, send

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.inbox import wait_applied
from node.settlement.notice import list_notices
from node.storage.outbox import EPOCH_KEY, OutboxStore


def delete_db(node) -> None:
    """What a wiped or re-provisioned node looks like: its database files are gone."""
    path = node.db_path
    for suffix in ("", "-wal", "-shm"):
        f = path.with_name(path.name + suffix)
        f.unlink(missing_ok=True)
    assert not path.exists()


async def epoch_of(node) -> str | None:
    """The node's own outbox epoch (None until it first sends)."""
    row = await node.store.db.read(
        lambda conn: conn.execute("SELECT value FROM meta WHERE key = ?", (EPOCH_KEY,)).fetchone()
    )
    return row[0] if row else None


async def stored_epoch(node, origin: str) -> str:
    return await scalar(node, "SELECT epoch FROM inbox_position WHERE origin = ?", origin)


def restarts(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "outbox epoch changed" in r.getMessage()]


async def test_a_recreated_national_reaches_a_province_that_kept_its_database(cluster, caplog):
    caplog.set_level(logging.WARNING)
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p44 = await cluster.start_province("44")
    old_seq = await enqueue(national, [event(card(n), 1, event_id=f"old-{n}") for n in range(10)])
    await wait_applied(p44.provincial.inbox, old_seq)
    old_epoch = await epoch_of(national)
    assert old_epoch and await stored_epoch(p44, "national") == old_epoch
    assert old_seq == 10

    # A restart on the same database keeps the epoch: nothing restarts.
    address = national.address
    await national.stop(grace=0)
    cluster.nodes.remove(national)
    national = await cluster.start_national(listen=address, delivery_scan_interval=0.2)
    seq = await enqueue(national, [event(card(10), 1)])
    await wait_applied(p44.provincial.inbox, seq)
    assert seq == 11 and await epoch_of(national) == old_epoch and not restarts(caplog)

    # Now national's database is lost and recreated; the province keeps its own.
    await national.stop(grace=0)
    cluster.nodes.remove(national)
    delete_db(national)
    national = await cluster.start_national(listen=address, delivery_scan_interval=0.2)
    # Versions 2 of three vouchers the province has at version 1, at seqs 1..3 (below
    # the province's position 11), and one event id it applied before: a genuine repeat.
    new = [event(card(n), 2) for n in range(3)]
    repeat = event(card(5), 7, event_id="old-5", name="李四")
    seq = await enqueue(national, [*new, repeat])
    assert seq == 4

    async def applied():
        v = [await p44.store.get_voucher(card(n)) for n in range(3)]
        return all(x.version == 2 for x in v)

    await eventually(applied, what="the recreated national's events applied at p44")
    new_epoch = await epoch_of(national)
    assert new_epoch and new_epoch != old_epoch
    # The repeated event id is still dropped, the position restarted in the new epoch.
    assert (await p44.store.get_voucher(card(5))).version == 1
    assert await stored_epoch(p44, "national") == new_epoch
    assert await p44.store.load_applied_position() == 4
    assert p44.provincial.inbox.position == 4
    [warning] = restarts(caplog)
    assert warning.fields["old_epoch"] == old_epoch and warning.fields["new_epoch"] == new_epoch

    # National's cursor and the heartbeated position converge on the new epoch's 4.
    store = OutboxStore(national.store.db)

    async def converged():
        state = await store.state("44")
        entry = (await node_entries(cluster, national)).get("44")
        return state.acked_seq == 4 and not state.pending and entry and entry.appliedPosition == 4

    await eventually(converged, what="cursor and heartbeat at 4")
    # And delivery goes on in the new epoch.
    seq = await enqueue(national, [event(card(n), 3) for n in range(3)])
    await wait_applied(p44.provincial.inbox, seq)
    assert (await p44.store.get_voucher(card(0))).version == 3
    assert len(restarts(caplog)) == 1


async def test_a_recreated_province_notices_are_relayed_again(cluster, caplog):
    caplog.set_level(logging.WARNING)
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p11 = await cluster.start_province("11")
    p44 = await cluster.start_province("44", delivery_scan_interval=0.2)
    for i in range(3):
        await send(p44, notice(f"S-{i}", at_ms=1_700_000_000_000 + i), ["11"])
    await received(p11, 3)
    assert await national.store.load_inbox_position("p44") == 3
    old_epoch = await epoch_of(p44)
    assert old_epoch and await stored_epoch(national, "p44") == old_epoch

    # p44's database is lost; it comes back empty on the same data folder.
    await p44.stop(grace=0)
    cluster.nodes.remove(p44)
    delete_db(p44)
    p44 = await cluster.start_province("44", delivery_scan_interval=0.2)
    assert await scalar(p44, "SELECT count(*) FROM outbox") == 0
    await send(p44, notice("S-new", at_ms=1_700_000_100_000), ["11"])

    got = await received(p11, 4, what="the recreated province's notice")
    assert got[0].settlementId == "S-new"
    new_epoch = await epoch_of(p44)
    assert new_epoch and new_epoch != old_epoch
    assert await national.store.load_inbox_position("p44") == 1
    assert await stored_epoch(national, "p44") == new_epoch
    [warning] = restarts(caplog)
    assert (warning.fields["old_epoch"], warning.fields["new_epoch"]) == (old_epoch, new_epoch)

    # A settlement notice sent again from the new epoch is still relayed once.
    await send(p44, notice("S-0", at_ms=1_700_000_000_000), ["11"])
    uplink = OutboxStore(p44.store.db, lane="national")

    async def acked():
        state = await uplink.state("national")
        return state if state.acked_seq == 2 and not state.pending else None

    await eventually(acked, what="p44's uplink acknowledged in the new epoch")
    assert await national.store.load_inbox_position("p44") == 2
    assert (
        await scalar(national, "SELECT count(*) FROM outbox WHERE event_id = 'notice:S-0:settled'")
        == 1
    )
    assert await scalar(p11, "SELECT count(*) FROM settlement_notices") == 4
    assert len(await list_notices(p11.store, "01", "110101198001010015")) == 4


async def deliver(stub, events, seqs, epoch: str = "", batch: str = "b") -> int:
    for e, seq in zip(events, seqs, strict=True):
        e.sequence = seq
    request = fed_pb.DeliverEventsRequest(
        origin="national", batchId=batch, events=events, epoch=epoch
    )
    return (await stub.federation.DeliverEvents(request)).appliedPosition


async def test_same_epoch_old_seq_is_still_a_duplicate(cluster, caplog):
    caplog.set_level(logging.WARNING)
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    s = cluster.stubs(p44, as_="national")
    assert await deliver(s, [event(card(1), 1), event(card(2), 1)], [1, 2], epoch="A") == 2
    # Same epoch, a seq at or below the position: a duplicate whatever it carries.
    assert await deliver(s, [event(card(1), 5), event(card(3), 1)], [1, 2], epoch="A") == 2
    assert (await p44.store.get_voucher(card(1))).version == 1
    assert await p44.store.get_voucher(card(3)) is None
    assert await stored_epoch(p44, "national") == "A" and not restarts(caplog)
    # A mixed batch: the old seq dropped, the new one applied.
    assert await deliver(s, [event(card(4), 1), event(card(5), 1)], [2, 3], epoch="A") == 3
    assert await p44.store.get_voucher(card(4)) is None
    assert (await p44.store.get_voucher(card(5))).version == 1
    assert p44.provincial.inbox.position == 3

    # Another epoch restarts the position, keeping the id and version rules.
    first = event(card(1), 1)  # version 1 is cached: stale
    again = event(card(2), 9, event_id="dup")
    assert await deliver(s, [again], [3], epoch="A") == 3  # dropped by position
    assert await deliver(s, [first, event(card(6), 1)], [1, 2], epoch="B") == 2
    assert len(restarts(caplog)) == 1 and p44.provincial.inbox.position == 2
    assert (await p44.store.get_voucher(card(6))).version == 1
    assert await stored_epoch(p44, "national") == "B"
    # In the new epoch, its own old seqs are duplicates again.
    assert await deliver(s, [event(card(7), 1)], [2], epoch="B") == 2
    assert await p44.store.get_voucher(card(7)) is None

    # At national (a province's uplink) the same: same epoch, old seq dropped.
    national = cluster.national
    await cluster.start_province("11")
    s44 = cluster.stubs(national, as_="p44")

    async def relay(n, seq, epoch):
        r = fed_pb.DeliverEventsRequest(
            origin="p44", batchId="x", events=[as_event(n, "11", seq)], epoch=epoch
        )
        return (await s44.federation.DeliverEvents(r, metadata=s44.metadata)).appliedPosition

    assert await relay(notice("S-1"), 1, "P") == 1
    assert await relay(notice("S-2"), 1, "P") == 1  # same epoch, old seq: dropped
    assert (
        await scalar(national, "SELECT count(*) FROM outbox WHERE event_id = 'notice:S-2:settled'")
        == 0
    )
    assert await relay(notice("S-2"), 1, "Q") == 1  # another epoch: relayed
    assert (
        await scalar(national, "SELECT count(*) FROM outbox WHERE event_id = 'notice:S-2:settled'")
        == 1
    )
    assert await stored_epoch(national, "p44") == "Q"


async def test_a_batch_without_epoch_behaves_as_before(cluster, caplog):
    caplog.set_level(logging.WARNING)
    await cluster.start_national()
    p44 = await cluster.start_province("44")
    s = cluster.stubs(p44, as_="national")
    # An older sender: no epoch; none is stored.
    assert await deliver(s, [event(card(1), 1), event(card(2), 1)], [1, 2]) == 2
    assert await stored_epoch(p44, "national") == ""
    assert await deliver(s, [event(card(3), 1)], [2]) == 2
    assert await p44.store.get_voucher(card(3)) is None
    # The first epoch after an upgrade continues the stored position (none to compare).
    assert await deliver(s, [event(card(3), 1)], [1], epoch="A") == 2
    assert await p44.store.get_voucher(card(3)) is None
    assert await deliver(s, [event(card(3), 1)], [3], epoch="A") == 3
    assert await stored_epoch(p44, "national") == "A"
    # No epoch after one was stored: compared with the position as before, epoch kept.
    assert await deliver(s, [event(card(4), 1)], [3]) == 3
    assert await p44.store.get_voucher(card(4)) is None
    assert await deliver(s, [event(card(4), 1)], [4]) == 4
    assert (await p44.store.get_voucher(card(4))).version == 1
    assert await stored_epoch(p44, "national") == "A"
    assert p44.provincial.inbox.position == 4 and not restarts(caplog)

    # National relaying a province's notices: the same.
    national = cluster.national
    await cluster.start_province("11")
    s44 = cluster.stubs(national, as_="p44")

    async def relay(n, seq, epoch=""):
        r = fed_pb.DeliverEventsRequest(
            origin="p44", batchId="x", events=[as_event(n, "11", seq)], epoch=epoch
        )
        return (await s44.federation.DeliverEvents(r, metadata=s44.metadata)).appliedPosition

    assert await relay(notice("S-1"), 1) == 1
    assert await relay(notice("S-2"), 1) == 1
    assert await relay(notice("S-2"), 2) == 2
    assert await scalar(national, "SELECT count(*) FROM outbox WHERE destination = '11'") == 2
    assert await stored_epoch(national, "p44") == "" and not restarts(caplog)


async def test_the_cursor_never_moves_beyond_the_batch_it_sent(cluster):
    # A receiver answering a position this outbox never reached (an old epoch's, from a
    # receiver that knows no epochs) must not make national skip the events between.
    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    seq = await enqueue(national, [event(card(n), 1) for n in range(3)])
    await wait_applied(p44.provincial.inbox, seq)
    await p44.store.db.write(
        lambda conn: conn.execute("UPDATE inbox_position SET applied_seq = 50, epoch = ''")
    )
    store = OutboxStore(national.store.db)
    seq = await enqueue(national, [event(card(9), 1)])

    async def acked():
        state = await store.state("44")
        return state if state.acked_seq >= seq else None

    state = await eventually(acked, what="the batch acknowledged")
    assert state.acked_seq == seq == 4


async def test_a_national_restored_from_a_backup_renews_its_epoch(cluster, caplog):
    # A backup taken after seq 3: restored, national gives seqs 4, 5… again, under the
    # epoch the province already holds at position 10. The province answers 10, beyond
    # any seq national has; national takes a new epoch and the events are applied.
    caplog.set_level(logging.WARNING)
    national = await cluster.start_national(delivery_scan_interval=0.2)
    p44 = await cluster.start_province("44")
    seq = await enqueue(national, [event(card(n), 1) for n in range(10)])
    await wait_applied(p44.provincial.inbox, seq)
    old_epoch = await epoch_of(national)

    address = national.address
    await national.stop(grace=0)
    cluster.nodes.remove(national)

    def restore(conn):  # what the database held when the backup was taken
        conn.execute("DELETE FROM outbox WHERE seq > 3")
        conn.execute("UPDATE sqlite_sequence SET seq = 3 WHERE name = 'outbox'")
        conn.execute("UPDATE delivery SET acked_seq = 3")

    with sqlite3.connect(national.db_path) as conn:
        restore(conn)
    national = await cluster.start_national(listen=address, delivery_scan_interval=0.2)
    seq = await enqueue(national, [event(card(n), 2) for n in range(2)])
    assert seq == 5

    async def applied():
        return [(await p44.store.get_voucher(card(n))).version for n in range(2)] == [2, 2]

    await eventually(applied, what="the restored national's events at p44")
    new_epoch = await epoch_of(national)
    assert new_epoch != old_epoch and await stored_epoch(p44, "national") == new_epoch
    assert any("new epoch" in r.getMessage() for r in caplog.records)
    # a receiver answering a seq this outbox did give changes nothing
    store = OutboxStore(national.store.db)
    assert await store.renew_epoch_if_behind(5) is None and await epoch_of(national) == new_epoch
