"""Durable delivery of outbox events: voucher changes from national to the provinces,
and settlement notices from a province up to national (the *uplink*, 6.3.2 d), which
national relays to the other insured provinces through its own outbox.

The design follows what Synapse learned about federation the hard way:

* **The outbox is the truth.** A change and its outbox rows (one per destination
  province) commit in one SQLite transaction (``node.storage.outbox.enqueue``). Nothing
  here is held only in memory: after a crash or restart the loop simply reads the
  outbox again, so nothing is lost and no catch-up mode is needed.
* **One batch in flight per destination.** Each province has its own worker task,
  which sends up to ``batch_size`` events with ``seq`` beyond the destination's cursor,
  in ``seq`` order, and waits for the answer before sending more. A slow or dead
  province therefore never delays the others, and a province sees its events in order.
* **A durable cursor.** ``delivery.acked_seq`` moves to the ``appliedPosition`` the
  province answers (never backwards, and never beyond the last seq of the batch it
  answers: a position this outbox never sent, say one of a previous epoch answered by
  a receiver that knows no epochs, must not skip events). Seqs are global, so a
  destination's seqs have gaps; they still only grow, because SQLite has one writer
  and a transaction's seqs become visible only when it commits, after every smaller
  seq: a cursor can never skip an event committed late.
* **Persisted, jittered backoff, reset on contact.** A failed send stores
  ``attempts``, ``next_attempt_at`` (``base * 2**attempts`` capped, times a jitter
  factor from the node's entropy) and ``last_error``, so a restarted national does not
  hammer a dead province. When the province registers again (it restarted), the
  directory's ``on_registered`` hook resets its backoff and wakes its worker at once.
  A province that is not registered or is down has no address: its events wait,
  without counting as failures, until it registers. A registration reports the
  position the province has applied; below the cursor (its database was restored from
  a backup, or lost commits), the cursor goes back to it and the events after it are
  sent again (``OutboxStore.rewind``; the receiver applies each once).
* **An idempotent receiver.** The province applies each event once (by its position
  per origin and by event id) and per voucher only a newer ``version``
  (``node.storage.provincial``), so a resent batch, a duplicate or an old snapshot
  arriving late changes nothing. Redelivery is therefore always safe, which is what
  makes "at least once" here mean "exactly once" in effect. National relaying a
  province's notices is the same receiver (``node.storage.national``, with
  ``UNIQUE (destination, event_id)`` of its outbox as the event-id line).

  Positions count in the sender's outbox *epoch*: a random id created once with the
  sender's database (``node.storage.outbox``), sent as ``DeliverEventsRequest.epoch``
  and stored by the receiver with its position for that origin. A receiver drops an
  event at or below its position only within the same epoch. A batch naming another
  epoch than the stored one means the sender's outbox started over (its database was
  wiped or re-provisioned, so its seqs restart at 1): the receiver restarts that
  origin's position at 0, takes the batch from its sequences as new, records the new
  epoch and logs a warning with both epochs. The event-id dedupe and the per-voucher
  version rule stay on, so an event genuinely seen before is still harmless. Without
  this rule the receiver would silently drop every event of the new sender until its
  seqs passed the old position. An empty epoch (an older sender) or none stored yet (a
  position from before epochs) is compared as it always was. The receiver answers its
  position in the request's epoch, so after the reset it answers the new epoch's
  position, which the sender's cursor (and the province's heartbeated
  ``appliedPosition``) then follows.

* **Signed at the origin.** Each event was signed by the node that originated it when
  it was queued (``node.wire.signing``); delivery sends the stored body as it is. At
  national, ``prepare`` adds its endorsement of a relayed notice's origin key as the
  event is sent. A receiver refuses an event whose signature does not hold as it
  refuses a malformed one (-2), so it is narrowed down and parked as below.
* **A refused event is narrowed down, then parked.** A receiver refuses a whole batch
  when one of its events is malformed or unacceptable to it (say a kind an older
  province does not know during a rolling upgrade): it answers a C.4 ``-2`` in the
  status's ``ErrorInfo``, a definite refusal, not a transport failure. Retrying that
  batch would block every later event of the destination behind it forever. So:

  1. A batch of more than one event refused with ``-2`` is *narrowed*: the lane's
     ``delivery.narrow_until`` becomes the batch's last seq, and the lane sends its
     events one at a time (a batch of 1) until its cursor reaches it, at once, with no
     backoff. The events before the bad one are applied and acknowledged as usual.
  2. A single event refused with ``-2`` counts a refusal (``delivery.refused_seq``,
     ``refusals``) and backs off as any failure. On the ``park_after_refusals``-th
     consecutive refusal (``DeliverySettings``, 5 by default; an acknowledged answer
     resets the count) it is *parked*: one transaction records it in
     ``outbox_parked`` (lane, seq, event id, kind, the receiver's message, when) and
     moves the lane's cursor past it, so the lane goes on with the next event. An
     error line names the lane, seq, event id, kind and the receiver's message.
  3. Nothing is lost. The outbox row stays, and pruning never deletes it while it is
     parked (``node.storage.outbox``). ``ListNodes`` reports the parked count per
     province next to the pending one. Once the receiver is fixed or upgraded,
     :meth:`Delivery.retry_parked` (``AdminService.RetryParked``, ``ecnet nation
     retry-parked``) queues each parked event again as a new outbox row (a new seq, the
     same event id and body) and clears its parked row, in one transaction. This is
     safe because receivers are idempotent by event id and voucher version. The
     re-queued event then arrives after the events sent meanwhile, so a voucher
     snapshot older than one already applied changes nothing.

  Only ``-2`` with an ``ErrorInfo`` is a refusal. A transport failure (``-3``), ``-1``,
  a status without our ``ErrorInfo`` and every other code keep the plain retry with
  backoff and never park anything: they say nothing about the events themselves.

Wake-ups: after committing, a writer calls :meth:`Delivery.wake`; an ``asyncio.Event``
per destination makes delivery immediate. A periodic scan (``delivery_scan_interval``)
finds destinations new to this process and due retries, so correctness never depends
on an in-memory signal.

The same loop serves both directions. National's :class:`Delivery` has one lane per
destination province, resolved through the directory. A province's uplink
(:func:`uplink`) has a single lane, ``"national"``, whatever the final destination
named by each row: national keeps one applied position per origin province, so that
province's events must reach it in one ordered stream. Its address is the configured
national; it has no registration signal, so its backoff is capped lower
(``UPLINK_BACKOFF_CAP_S``): a hub back from a restart gets the notices within seconds.

National as a cluster: several national processes on one PostgreSQL database share
the outbox. Each province's lane is sent by one replica at a time, the holder of its
lease (``node.storage.outbox``, "Leases"): a worker claims the lane before each batch
and, when another live replica holds it, waits until that lease would expire (or the
next scan); each replica renews the leases it holds every third of
``DeliverySettings.lease_ttl`` and gives a lane back once nothing is left to send, or
when it stops. A replica killed outright keeps its lanes for at most ``lease_ttl``
seconds; another then goes on from the durable cursor, and the receiver's applied
position drops anything sent twice, in order. A stalled holder whose lease ran out
while its batch was in flight may overlap with its successor for that one batch: still
harmless, for the same reason. On SQLite national is one process and takes no lease.

Pruning: acknowledged rows older than ``DeliverySettings.outbox_retention`` are
deleted in small batches by a task of each :class:`Delivery` (every
``outbox_prune_interval`` seconds, started and stopped with it), so the outbox holds
the undelivered events and the retention window's traffic, not the whole history. The
rule, and why redelivery after a prune stays harmless, is in ``node.storage.outbox``.

Lag from commit to applied at a province: per event, the province's
``inbox_events.applied_at`` minus national's ``outbox.created_at`` (same event id); live,
``federation.inbox.wait_applied`` waits for a province to reach an outbox position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import grpc

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.client import PeerClient
from federation.directory import Directory
from federation.keepalive import KEEPALIVE_MS
from node.clock import Clock, Entropy
from node.errors import EcError, from_rpc_error, node_answer
from node.settings import read_settings
from node.storage.db import NodeDatabase
from node.storage.outbox import (
    PRUNE_BATCH,
    UPLINK_LANE,
    DeliveryState,
    OutboxStore,
    Parked,
    Pending,
)
from node.tls import Dialer

__all__ = [
    "Delivery",
    "DeliverySettings",
    "refusal_of",
    "uplink",
    "UPLINK_LANE",
]

log = logging.getLogger("ecnet.delivery")

ORIGIN = "national"
UPLINK_BACKOFF_CAP_S = 5.0


@dataclass(frozen=True)
class DeliverySettings:
    """Outbox pruning, from ``NodeConfig.extra`` (tests pass ``extra={"outbox_retention":
    "60"}``), else ``ECNET_DELIVERY_<NAME>`` (``ECNET_DELIVERY_OUTBOX_RETENTION``), else
    the defaults below (``node.settings.read_settings``)."""

    # Seconds an acknowledged outbox row is kept after it was queued (7 days).
    outbox_retention: int = 7 * 86_400
    # Seconds between prunes of the outbox.
    outbox_prune_interval: float = 60.0
    # Rows deleted per write transaction.
    outbox_prune_batch: int = PRUNE_BATCH
    # Consecutive -2 refusals of one event, sent alone, before it is parked.
    park_after_refusals: int = 5
    # Seconds a national replica's lease of a province's lane lasts unless renewed (on
    # PostgreSQL, national as a cluster): how soon another replica takes over a dead one's.
    lease_ttl: float = 3.0

    @classmethod
    def from_config(
        cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> DeliverySettings:
        return read_settings(cls, "delivery", extra, environ)


def refusal_of(exc: grpc.RpcError) -> str | None:
    """The receiver's message when it refused the request definitely: a C.4 ``-2`` in
    our ``ErrorInfo``. None for anything else: a transport failure, a status without
    our ``ErrorInfo`` (``from_rpc_error`` maps a bare INVALID_ARGUMENT to -2 too, but
    that is no answer of an ecnet receiver), or another code."""
    answer = node_answer(exc)
    return answer[1] if answer is not None and answer[0] == -2 else None


class _Failures:
    """How the delivery loops log what failed: the database gone (-3) in one line once
    per outage and loop (the node logs the outage itself, and each loop tries again
    every second or so); anything else whole, with its traceback, each time."""

    def __init__(self) -> None:
        self._down: set[tuple[str, str]] = set()

    def failed(self, what: str, exc: Exception, province: str = "") -> None:
        fields = {"province": province} if province else {}
        if isinstance(exc, EcError) and exc.code == -3:
            if (what, province) not in self._down:
                self._down.add((what, province))
                log.warning(what, extra={"fields": {**fields, "why": exc.message}})
            return
        log.error(what, exc_info=exc, extra={"fields": fields})

    def ok(self, what: str, province: str = "") -> None:
        self._down.discard((what, province))


class Delivery:
    """A delivery loop: one worker per lane (at national, per destination province).

    ``origin`` is this node's name as the receivers know it; ``address_of(lane)``
    resolves where a lane is served (None: not now, wait without counting a failure).
    By default this is national's loop, over the directory.
    """

    batch_size = 200
    backoff_base_s = 0.5
    backoff_cap_s = 60.0
    call_timeout_s = 10.0

    def __init__(
        self,
        outbox: OutboxStore,
        clock: Clock,
        entropy: Entropy,
        *,
        address_of: Callable[[str], Awaitable[str | None]],
        settings: DeliverySettings,
        scan_interval: float,
        origin: str = ORIGIN,
        directory: Directory | None = None,
        dialer: Dialer,
        backoff_cap_s: float | None = None,
        keepalive_ms: int = KEEPALIVE_MS,
        prepare: Callable[[fed_pb.Event], None] | None = None,
    ) -> None:
        self.origin = origin
        self.dialer = dialer
        # Called on each event as it is sent (national: its endorsement of a relayed
        # event's origin key, node.wire.signing); the stored body is not changed.
        self._prepare = prepare
        self.keepalive_ms = keepalive_ms
        self.store = outbox
        self.clock = clock
        self.entropy = entropy
        self.directory = directory
        self._address_of = address_of
        if backoff_cap_s is not None:
            self.backoff_cap_s = backoff_cap_s
        self.scan_interval = scan_interval
        self.settings = settings
        self._wakes: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._peers: dict[str, PeerClient] = {}
        # Bumped when a province registers: a failure of a send that began before the
        # registration must not put back the backoff the registration just cleared.
        self._contact: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._scan_now = asyncio.Event()
        self._failures = _Failures()
        # Leases of the lanes (national on PostgreSQL, which may be a cluster): this
        # process's holder id, and the lanes it holds as last claimed or renewed.
        self.leases = outbox.lane is None and getattr(outbox.db, "dialect", "") == "postgresql"
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._scanner: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._running = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Start the scan (which starts a worker for every destination in the outbox)."""
        self._running = True
        if self.directory is not None:
            self.directory.on_registered.append(self._registered)
        self._scanner = asyncio.create_task(
            self._scan_forever(), name=f"delivery-scan-{self.origin}"
        )
        self._pruner = asyncio.create_task(
            self._prune_forever(), name=f"outbox-prune-{self.origin}"
        )
        if self.leases:
            self._renewer = asyncio.create_task(
                self._renew_forever(), name=f"delivery-leases-{self.origin}"
            )

    async def stop(self) -> None:
        """Cancel the loop; batches in flight are simply sent again after a restart."""
        self._running = False
        if self.directory is not None:
            with contextlib.suppress(ValueError):
                self.directory.on_registered.remove(self._registered)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = [
            t
            for t in (self._scanner, self._pruner, self._renewer, *self._workers.values())
            if t is not None
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers.clear()
        if self.leases and self._held:
            # Another replica may take these lanes at once, not after the lease runs out.
            with contextlib.suppress(Exception):
                await self.store.release_leases(self.holder)
            self._held.clear()
        for peer in self._peers.values():
            await peer.close()
        self._peers.clear()

    def wake(self, destination: str | None = None) -> None:
        """New events were committed for ``destination`` (None: for any): send now."""
        if not self._running:
            return
        if destination is not None and destination in self._wakes:
            self._wakes[destination].set()
        else:
            self._scan_now.set()

    async def pending_counts(self) -> dict[str, int]:
        """Events not yet acknowledged, per destination province."""
        return await self.store.pending_counts()

    async def parked_counts(self) -> dict[str, int]:
        """Parked events (refused by their receiver, set aside), per destination."""
        return await self.store.parked_counts()

    async def backlog(self) -> list[tuple[str, int, int, int]]:
        """Per destination: (destination, events not yet acknowledged, ``created_at`` of
        the oldest of them (0: none), parked events), in one read."""
        return await self.store.backlog()

    async def parked(self, destination: str | None = None) -> list[Parked]:
        return await self.store.parked(destination)

    async def retry_parked(self, destination: str) -> list[Parked]:
        """Queue ``destination``'s parked events again (new seqs, the same event ids and
        bodies) and send at once; returns them. For after the receiver was fixed."""
        requeued = await self.store.retry_parked(destination, self.clock.now_ms())
        if requeued:
            # The operator says the receiver takes them now: no backoff to wait out.
            await self.store.reset_backoff(destination)
            log.warning(
                "parked events queued again",
                extra={
                    "fields": {
                        "origin": self.origin,
                        "destination": destination,
                        "events": len(requeued),
                        "event_ids": ",".join(p.event_id for p in requeued),
                    }
                },
            )
            self.wake(destination)
        return requeued

    # -- pruning ---------------------------------------------------------------------
    async def prune(self) -> int:
        """One pass: delete acknowledged rows older than the retention, in batches.
        Returns the rows deleted."""
        before = self.clock.now_ms() - self.settings.outbox_retention * 1000
        deleted = await self.store.prune(before, self.settings.outbox_prune_batch)
        if deleted:
            log.info("outbox pruned", extra={"fields": {"origin": self.origin, "rows": deleted}})
        return deleted

    async def _prune_forever(self) -> None:
        while True:
            try:
                await self.prune()
                self._failures.ok("outbox prune failed")
            except Exception as exc:  # a failed prune must not end it; the next one retries
                self._failures.failed("outbox prune failed", exc)
            await asyncio.sleep(self.settings.outbox_prune_interval)

    # -- leases (national on PostgreSQL) ---------------------------------------------
    @property
    def _lease_ms(self) -> int:
        return int(self.settings.lease_ttl * 1000)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_ttl / 3)
            if not self._held:
                continue
            try:
                self._held = await self.store.renew_leases(self.holder, self._lease_ms)
                self._failures.ok("delivery leases not renewed")
            except Exception as exc:  # the database away: the next renewal, or the claim, retries
                self._failures.failed("delivery leases not renewed", exc)

    async def _claim(self, destination: str) -> bool:
        """Whether this replica may send ``destination``'s lane now (its lease, claimed
        or renewed); when another holds it, the worker is woken as that lease expires."""
        if not self.leases:
            return True
        held, wait_ms = await self.store.claim_lease(destination, self.holder, self._lease_ms)
        if held:
            if destination not in self._held:
                log.info(
                    "delivery lease taken",
                    extra={"fields": {"province": destination, "holder": self.holder}},
                )
            self._held.add(destination)
            return True
        self._held.discard(destination)
        self._wake_later(destination, wait_ms / 1000 + 0.05)
        return False

    async def _release(self, destination: str) -> None:
        if destination in self._held:
            self._held.discard(destination)
            await self.store.release_leases(self.holder, destination)

    def _wake_later(self, destination: str, delay: float) -> None:
        old = self._timers.pop(destination, None)
        if old is not None:
            old.cancel()
        self._timers[destination] = asyncio.get_running_loop().call_later(
            delay, self._wakes[destination].set
        )

    # -- scan ------------------------------------------------------------------------
    async def _scan_forever(self) -> None:
        while True:
            self._scan_now.clear()
            try:
                await self._scan()
                self._failures.ok("delivery scan failed")
            except Exception as exc:  # a failed read must not end delivery; the next scan retries
                self._failures.failed("delivery scan failed", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._scan_now.wait(), self.scan_interval)

    async def _scan(self) -> None:
        now = self.clock.now_ms()
        for state in await self.store.states():
            if state.destination not in self._workers:
                self._wakes[state.destination] = asyncio.Event()
                self._workers[state.destination] = asyncio.create_task(
                    self._work(state.destination), name=f"delivery-{state.destination}"
                )
            if state.pending and state.next_attempt_at <= now:
                self._wakes[state.destination].set()

    async def _registered(self, province: str, applied: int | None = None) -> None:
        self._contact[province] = self._contact.get(province, 0) + 1
        await self.store.reset_backoff(province)
        if applied is not None:
            cursor = await self.store.rewind(province, applied)
            if cursor is not None:
                log.warning(
                    "province has applied less than it acknowledged (restored from a "
                    "backup?): its events are sent again from its position",
                    extra={"fields": {"province": province, "applied": applied, "cursor": cursor}},
                )
        self.wake(province)

    # -- one destination -------------------------------------------------------------
    async def _work(self, destination: str) -> None:
        wake = self._wakes[destination]
        wake.set()
        while True:
            await wake.wait()
            # Cleared before reading, so a wake-up during the send is not lost.
            wake.clear()
            try:
                while await self._send_one(destination):
                    wake.clear()
                self._failures.ok("delivery failed", destination)
            except Exception as exc:
                self._failures.failed("delivery failed", exc, destination)

    async def _send_one(self, destination: str) -> bool:
        """Send one batch if one is due; True when more may be sent at once."""
        state = await self.store.state(destination)
        if state is None or not state.pending:
            await self._release(destination)  # nothing to send: any replica may take it
            return False
        if state.next_attempt_at > self.clock.now_ms():
            return False
        address = await self._address_of(destination)
        if address is None:
            return False  # not registered or down: its registration wakes us
        if not await self._claim(destination):
            return False  # another replica sends this lane now
        if self.leases:
            # Read again under the lease: the previous holder may have moved the cursor.
            state = await self.store.state(destination)
            if state is None or not state.pending:
                return False
        # Narrowing a refused batch: its events one at a time (see the module docstring).
        limit = 1 if state.acked_seq < state.narrow_until else self.batch_size
        batch = await self.store.batch(destination, state.acked_seq, limit)
        if not batch:
            return False
        events = []
        for row in batch:
            event = fed_pb.Event.FromString(row.body)
            event.sequence = row.seq
            if self._prepare is not None:
                self._prepare(event)
            events.append(event)
        first, last = batch[0].seq, batch[-1].seq
        # On PostgreSQL (a possible cluster) read each time: another replica may renew it.
        epoch, created = await self.store.epoch(fresh=self.leases)
        if created:
            log.info(
                "outbox epoch created", extra={"fields": {"origin": self.origin, "epoch": epoch}}
            )
        request = fed_pb.DeliverEventsRequest(
            origin=self.origin,
            batchId=f"{self.origin}:{destination}:{first}-{last}",
            events=events,
            epoch=epoch,
        )
        peer = await self._peer(destination, address)
        contact = self._contact.get(destination, 0)
        try:
            resp = await peer.federation.DeliverEvents(
                request, timeout=self.call_timeout_s, metadata=peer.metadata
            )
        except grpc.RpcError as exc:
            refusal = refusal_of(exc)
            if refusal is not None:
                return await self._refused(destination, state, contact, batch, refusal)
            code, message = from_rpc_error(exc)
            await self._failed(destination, state, contact, f"{code} {message}")
            return self._contact.get(destination, 0) != contact
        if resp.appliedPosition < first:
            await self._failed(
                destination,
                state,
                contact,
                f"receiver answered appliedPosition {resp.appliedPosition} "
                f"for batch {first}-{last}",
            )
            return False
        if resp.appliedPosition > last:
            # The receiver is past seqs this outbox never gave: restored from a backup.
            renewed = await self.store.renew_epoch_if_behind(resp.appliedPosition)
            if renewed is not None:
                log.warning(
                    "outbox behind its receiver (restored?): new epoch",
                    extra={
                        "fields": {
                            "province": destination,
                            "receiver_position": resp.appliedPosition,
                            "batch_last": last,
                            "old_epoch": epoch,
                            "new_epoch": renewed,
                        }
                    },
                )
                return True  # the same batch again at once, under the new epoch
        # Never beyond what this batch sent: the receiver has applied up to ``last`` of
        # this outbox; a larger position may count in another epoch (a receiver that
        # knows no epochs still answers its old one), and following it would skip events.
        # Within one epoch the cap costs at most resending batches the receiver drops.
        applied = min(resp.appliedPosition, last)
        await self.store.acked(destination, applied, self.clock.now_ms())
        log.info(
            "events delivered",
            extra={"fields": {"province": destination, "events": len(events), "applied": applied}},
        )
        return True

    async def _refused(
        self,
        destination: str,
        state: DeliveryState,
        contact: int,
        batch: list[Pending],
        message: str,
    ) -> bool:
        """The receiver refused ``batch`` with -2: narrow it down, or count a refusal of
        its one event and park that event after ``park_after_refusals`` in a row."""
        first, last = batch[0].seq, batch[-1].seq
        if len(batch) > 1:
            await self.store.narrow(destination, last)
            log.warning(
                "batch refused (-2): sending its events one at a time",
                extra={
                    "fields": {
                        "origin": self.origin,
                        "destination": destination,
                        "first": first,
                        "last": last,
                        "error": message,
                    }
                },
            )
            return True  # at once: the events before the refused one are not at fault
        row = batch[0]
        refusals = await self.store.refused(destination, row.seq)
        limit = self.settings.park_after_refusals
        if refusals >= limit and await self.store.park(
            destination, row.seq, message, self.clock.now_ms()
        ):
            log.error(
                "event parked: its receiver refused it; the queue goes on without it",
                extra={
                    "fields": {
                        "origin": self.origin,
                        "destination": destination,
                        "seq": row.seq,
                        "event_id": row.event_id,
                        "kind": row.kind,
                        "refusals": refusals,
                        "error": message,
                    }
                },
            )
            return True
        await self._failed(
            destination,
            state,
            contact,
            f"-2 {message} (event {row.event_id} seq {row.seq} {row.kind}: "
            f"refusal {refusals} of {limit})",
        )
        return self._contact.get(destination, 0) != contact

    async def _failed(
        self, destination: str, state: DeliveryState, contact: int, error: str
    ) -> None:
        if self._contact.get(destination, 0) != contact:
            return  # the province registered meanwhile: retry now, not after a backoff
        attempts = state.attempts + 1
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2**state.attempts)
        # Jitter in [0.75, 1.25): provinces that failed together do not retry together.
        delay *= 0.75 + self.entropy.randbelow(10_000) / 20_000
        next_at = self.clock.now_ms() + int(delay * 1000)
        await self.store.failed(destination, attempts, next_at, error)
        log.warning(
            "delivery failed, backing off",
            extra={
                "fields": {
                    "province": destination,
                    "attempts": attempts,
                    "retry_s": round(delay, 2),
                    "error": error,
                }
            },
        )
        # Retry on time rather than at the next scan after the backoff ends.
        self._wake_later(destination, delay)

    async def _peer(self, destination: str, address: str) -> PeerClient:
        peer = self._peers.get(destination)
        if peer is None or peer.address != address or peer.stale():
            if peer is not None:
                # Only this destination's worker uses the channel, and it has no call in flight.
                await peer.close()
            peer = self._peers[destination] = PeerClient(
                address,
                "national" if destination == UPLINK_LANE else f"p{destination}",
                self.dialer,
                keepalive_ms=self.keepalive_ms,
            )
        return peer


def uplink(
    db: NodeDatabase,
    clock: Clock,
    entropy: Entropy,
    *,
    origin: str,
    national: str,
    settings: DeliverySettings,
    scan_interval: float,
    dialer: Dialer,
    keepalive_ms: int = KEEPALIVE_MS,
) -> Delivery:
    """A province's delivery of its own outbox (settlement notices) to ``national``, as
    ``origin`` (``pNN``); national relays each event to the destination its row names."""

    async def national_address(_lane: str) -> str | None:
        return national

    return Delivery(
        OutboxStore(db, lane=UPLINK_LANE),
        clock,
        entropy,
        origin=origin,
        address_of=national_address,
        settings=settings,
        scan_interval=scan_interval,
        backoff_cap_s=UPLINK_BACKOFF_CAP_S,
        dialer=dialer,
        keepalive_ms=keepalive_ms,
    )
