"""National's node directory.

A provincial node registers (province, address, version, instance id) when it starts
and then sends a heartbeat every ``interval`` seconds; it is *up* while its last
heartbeat is younger than the lease (``lease_intervals`` × interval), *down* after, and
*stopped* once it deregisters on a graceful shutdown. The directory is stored in
national's SQLite, so a restarted hub still knows where every province lives.

A second node for a province that is already live is refused. "Live" is not guessed
from timestamps alone: when the registered instance's lease is still fresh, national
asks the registered address who it is (``Identify``). Only if the same instance answers
is the newcomer refused; a node that was killed and restarted on the same address is
therefore accepted at once, without waiting for its old lease to run out.

``on_registered`` holds coroutines ``fn(province)`` awaited after each accepted
registration: a registration is the surest sign a province is back, so delivery uses
it to drop its backoff for that province and send at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.client import PeerClient
from federation.keepalive import KEEPALIVE_MS
from node.clock import Clock
from node.config import ConfigError, parse_address
from node.domain.regions import is_province, province_name
from node.errors import EcError, invalid
from node.storage.national import NationalStore, NodeRow
from node.tls import Dialer

__all__ = ["Directory", "NodeStatus"]

log = logging.getLogger("ecnet.directory")


class NodeStatus:
    UP = "up"
    DOWN = "down"
    STOPPED = "stopped"


class Directory:
    def __init__(
        self,
        store: NationalStore,
        clock: Clock,
        interval: float,
        lease_intervals: float,
        *,
        dialer: Dialer,
        probe_timeout: float = 1.0,
        keepalive_ms: int = KEEPALIVE_MS,
    ) -> None:
        self.store = store
        self.dialer = dialer
        self.keepalive_ms = keepalive_ms
        self.clock = clock
        self.interval = interval
        self.lease_ms = int(interval * lease_intervals * 1000)
        self.probe_timeout = probe_timeout
        self._locks: dict[str, asyncio.Lock] = {}
        self.on_registered: list[Callable[[str], Awaitable[None]]] = []

    def status_of(self, row: NodeRow) -> str:
        if row.state == "stopped":
            return NodeStatus.STOPPED
        if self.clock.now_ms() - row.last_heartbeat_at > self.lease_ms:
            return NodeStatus.DOWN
        return NodeStatus.UP

    async def register(self, province: str, address: str, version: str, instance_id: str) -> None:
        if not is_province(province):
            raise invalid(f"{province!r} is not a province code of GB/T 2260")
        try:
            parse_address(address)
        except ConfigError as exc:
            raise invalid(str(exc)) from None
        if not instance_id:
            raise invalid("instance_id is required")
        lock = self._locks.setdefault(province, asyncio.Lock())
        async with lock:
            current = await self.store.get_node(province)
            if (
                current is not None
                and current.instance_id != instance_id
                and self.status_of(current) == NodeStatus.UP
                and await self._answers(current)
            ):
                raise EcError(
                    -4,
                    f"province {province} ({province_name(province)}) is already served by a "
                    f"live node at {current.address} (instance {current.instance_id[:8]}); "
                    "stop it before starting another",
                    conflict="live",
                    address=current.address,
                )
            await self.store.put_node(province, address, version, instance_id, self.clock.now_ms())
        log.info(
            "province registered",
            extra={"fields": {"province": province, "address": address, "version": version}},
        )
        for callback in list(self.on_registered):
            try:
                await callback(province)
            except Exception:  # a listener's bug must not refuse a valid registration
                log.exception(
                    "on_registered callback failed", extra={"fields": {"province": province}}
                )

    async def _answers(self, row: NodeRow) -> bool:
        """Does the registered instance still answer at its address?"""
        peer = PeerClient(
            row.address, f"p{row.province}", self.dialer, keepalive_ms=self.keepalive_ms
        )
        try:
            who = await peer.federation.Identify(
                fed_pb.IdentifyRequest(), timeout=self.probe_timeout, metadata=peer.metadata
            )
            return who.instanceId == row.instance_id
        except grpc.RpcError:
            return False
        finally:
            await peer.close()

    async def heartbeat(self, province: str, instance_id: str, applied: int) -> bool:
        return await self.store.heartbeat(province, instance_id, applied, self.clock.now_ms())

    async def deregister(self, province: str, instance_id: str) -> bool:
        done = await self.store.deregister(province, instance_id, self.clock.now_ms())
        if done:
            log.info("province deregistered", extra={"fields": {"province": province}})
        return done

    async def nodes(self) -> list[tuple[NodeRow, str]]:
        return [(row, self.status_of(row)) for row in await self.store.list_nodes()]

    async def address_of(self, province: str) -> str | None:
        """Where a live province is served, or None."""
        row = await self.store.get_node(province)
        if row is None or self.status_of(row) != NodeStatus.UP:
            return None
        return row.address
