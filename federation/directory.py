"""National's node directory.

A provincial node registers (province, address, version, instance id) when it starts
and then sends a heartbeat every ``interval`` seconds; it is *up* while its last
heartbeat is younger than the lease (``lease_intervals`` × interval), *down* after, and
*stopped* once it deregisters on a graceful shutdown. The directory is stored in
national's SQLite, so a restarted hub still knows where every province lives. With each
registration and heartbeat it keeps when the province's certificate expires (the one the
call came with; none on --insecure), for the operators' Nation page.

A second node for a province that is already live is refused. "Live" is not guessed
from timestamps alone: when the registered instance's lease is still fresh, national
asks the registered address who it is (``Identify``). Only if the same instance answers
is the newcomer refused; a node that was killed and restarted on the same address is
therefore accepted at once, without waiting for its old lease to run out.

``on_registered`` holds coroutines ``fn(province, applied)`` awaited after each
accepted registration: a registration is the surest sign a province is back, so
delivery uses it to drop its backoff for that province and send at once; ``applied``
is the position of national's events the province reports having applied (None when
it reports none), from which delivery sends again what a province restored from a
backup no longer has.
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
from node.domain.sm import sm2_public_key_valid, sm3_hex
from node.errors import EcError, invalid
from node.storage.national import NationalStore, NodeRow
from node.tls import Dialer

__all__ = ["Directory", "NodeStatus", "key_id"]

log = logging.getLogger("ecnet.directory")


def key_id(key: bytes) -> str:
    """A short name of a public key for the logs: the first 16 hex digits of its SM3."""
    return sm3_hex(key)[:16] if key else "none"


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
        self.on_registered: list[Callable[[str, int | None], Awaitable[None]]] = []

    def status_of(self, row: NodeRow) -> str:
        if row.state == "stopped":
            return NodeStatus.STOPPED
        if self.clock.now_ms() - row.last_heartbeat_at > self.lease_ms:
            return NodeStatus.DOWN
        return NodeStatus.UP

    async def register(
        self,
        province: str,
        address: str,
        version: str,
        instance_id: str,
        sign_key: bytes,
        cert_not_after_ms: int = 0,
        applied: int | None = None,
    ) -> None:
        """Register the node of ``province``; ``cert_not_after_ms``: when the certificate
        it called with expires (0: none, --insecure), kept for the directory's listing;
        ``applied``: the position of national's events it has applied, when it says."""
        if not is_province(province):
            raise invalid(f"{province!r} is not a province code of GB/T 2260")
        if not sm2_public_key_valid(sign_key):
            raise invalid(
                "signKey must be the node's SM2 public key (65 bytes 04||x||y), "
                f"not {len(sign_key)} bytes that are no point of the curve",
                field="signKey",
            )
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
            rotated = current is not None and current.sign_key not in (b"", sign_key)
            await self.store.put_node(
                province,
                address,
                version,
                instance_id,
                self.clock.now_ms(),
                sign_key,
                synced=current is None or current.sign_key != sign_key,
                cert_not_after=cert_not_after_ms,
            )
        if rotated and current is not None:
            log.warning(
                "province's signing key changed: its events are verified with the new one",
                extra={
                    "fields": {
                        "province": province,
                        "old_key": key_id(current.sign_key),
                        "new_key": key_id(sign_key),
                    }
                },
            )
        log.info(
            "province registered",
            extra={"fields": {"province": province, "address": address, "version": version}},
        )
        for callback in list(self.on_registered):
            try:
                await callback(province, applied)
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

    async def heartbeat(
        self, province: str, instance_id: str, applied: int, cert_not_after_ms: int = 0
    ) -> bool:
        """A heartbeat of the registered instance (False: not it); ``cert_not_after_ms``
        as for :meth:`register` (a certificate renewed since is known from now)."""
        return await self.store.heartbeat(
            province, instance_id, applied, self.clock.now_ms(), cert_not_after_ms
        )

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
