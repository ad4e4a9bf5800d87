"""A provincial node's registration with national.

At start the province registers and keeps retrying (jittered backoff, capped) while
national is unreachable; it reports SERVING only once registered. A refusal because
another live node serves the province is fatal: the node stops with that message.
After that it heartbeats every interval; when national answers that it no longer knows
this instance (national's directory was reset, or a lease expired and another node
took over) it registers again. A refusal then (another node holds the province, or was
let to take it) does not end the heartbeats: the node logs it once, reports it
(:attr:`Registrar.state`, in GetNodeInfo and ``nation status``), refuses what needs
the registration, and registers again every interval until national accepts it. On
shutdown it deregisters, best effort.

National hands the province its CRL at registration and, when it has a newer one, in
the answer to a heartbeat (``crl``: the holder the node names its callers with,
``node.tls.Trust``): a revocation reaches every province within a heartbeat interval.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

import grpc

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.client import NationalClient, PeerClient
from node.errors import from_rpc_error

__all__ = ["Registrar", "RegistrationRefused"]

log = logging.getLogger("ecnet.registrar")


class CrlHolder(Protocol):
    """Where a node keeps the CRL it names callers with (``node.tls.Trust``)."""

    @property
    def crl_number(self) -> int: ...

    def take_crl_der(self, data: bytes) -> bool: ...


class RegistrationRefused(Exception):
    """National refused this node (another live node serves the province)."""


class Registrar:
    """A province's registration and heartbeats, through its :class:`NationalClient`
    (whose ``registered`` event it sets); ``applied_position()`` is reported in every
    heartbeat (``federation.inbox``)."""

    def __init__(
        self,
        national: NationalClient,
        province: str,
        version: str,
        instance_id: str,
        interval: float,
        applied_position: Callable[[], int] = lambda: 0,
        crl: CrlHolder | None = None,
        national_key: Callable[[bytes], Awaitable[None]] | None = None,
        sign_key: bytes = b"",
    ) -> None:
        # This node's SM2 public key, sent with every Register (node.wire.signing).
        self.sign_key = sign_key
        # Given national's signing key from each answer (federation.inbox keeps it).
        self.national_key = national_key
        self.national = national
        self.crl = crl
        self.province = province
        self.address = ""
        self.version = version
        self.instance_id = instance_id
        self.interval = interval
        self.applied_position = applied_position
        self.refusal = ""  # national's reason, while it refuses this node

    @property
    def state(self) -> str:
        """``registered``, ``refused: <national's reason>`` or ``registering``."""
        if self.registered.is_set():
            return "registered"
        return f"refused: {self.refusal}" if self.refusal else "registering"

    @property
    def peer(self) -> PeerClient:
        return self.national.peer

    @property
    def registered(self) -> asyncio.Event:
        return self.national.registered

    async def register(self, address: str = "") -> None:
        """Register this node, served at ``address`` (by default the one registered
        before), retrying until national answers; raises RegistrationRefused."""
        if address:
            self.address = address
        delay = 0.2
        while True:
            try:
                resp = await self.peer.federation.Register(
                    fed_pb.RegisterRequest(
                        province=self.province,
                        address=self.address,
                        version=self.version,
                        instanceId=self.instance_id,
                        signKey=self.sign_key,
                        appliedPosition=self.applied_position(),
                    ),
                    timeout=5,
                    metadata=self.peer.metadata,
                )
            except grpc.RpcError as exc:
                code, message = from_rpc_error(exc)
                if code in (-4, -2):
                    raise RegistrationRefused(message) from None
                log.warning(
                    "national not reachable, retrying",
                    extra={
                        "fields": {
                            "national": self.peer.address,
                            "error": message,
                            "retry_s": round(delay, 2),
                        }
                    },
                )
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, 5.0)
                continue
            if self.national_key is not None:
                await self.national_key(resp.nationalSignKey)
            if resp.heartbeatIntervalSeconds > 0:
                self.interval = min(self.interval, float(resp.heartbeatIntervalSeconds))
            if self.crl is not None:
                self.crl.take_crl_der(resp.crl)
            self.registered.set()
            log.info("registered with national", extra={"fields": {"national": self.peer.address}})
            return

    async def heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.registered.is_set():
                await self._register_again()
                continue
            try:
                resp = await self.peer.federation.Heartbeat(
                    fed_pb.HeartbeatRequest(
                        province=self.province,
                        instanceId=self.instance_id,
                        appliedPosition=self.applied_position(),
                        crlNumber=self.crl.crl_number if self.crl is not None else 0,
                    ),
                    timeout=max(self.interval, 1.0),
                    metadata=self.peer.metadata,
                )
            except grpc.RpcError as exc:
                code, message = from_rpc_error(exc)
                if code == -4:  # refused for who this node is (its certificate revoked, say)
                    self.registered.clear()
                    await self._register_again()  # says so once, and keeps trying
                    continue
                log.warning("heartbeat failed", extra={"fields": {"error": message}})
                continue
            if self.crl is not None:
                self.crl.take_crl_der(resp.crl)
            if self.national_key is not None:
                await self.national_key(resp.nationalSignKey)
            if not resp.known:
                log.warning("national does not know this instance; registering again")
                self.registered.clear()
                await self._register_again()

    async def _register_again(self) -> None:
        try:
            await self.register()
        except RegistrationRefused as exc:
            if str(exc) != self.refusal:  # once per reason, not every interval
                log.error(
                    "national refused this node's registration; trying again every interval",
                    extra={"fields": {"reason": str(exc), "retry_s": self.interval}},
                )
            self.refusal = str(exc)
            self.registered.clear()
            return
        if self.refusal:
            log.info("registered again after a refusal", extra={"fields": {"was": self.refusal}})
        self.refusal = ""

    async def deregister(self) -> None:
        try:
            await self.peer.federation.Deregister(
                fed_pb.DeregisterRequest(province=self.province, instanceId=self.instance_id),
                timeout=2,
                metadata=self.peer.metadata,
            )
        except grpc.RpcError as exc:
            log.warning(
                "deregistration failed", extra={"fields": {"error": from_rpc_error(exc)[1]}}
            )
