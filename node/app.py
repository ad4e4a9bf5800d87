"""A running node: storage, gRPC server, health, reflection, and (for a province) its
registration with national.

``Node`` is what ``ecnet-node`` runs and what tests start in-process on port 0::

    node = Node(NodeConfig(role="national", listen="127.0.0.1:0", data_dir=tmp))
    await node.start()          # health SERVING once ready
    ...                         # node.address is "127.0.0.1:<port>"
    await node.stop()           # NOT_SERVING, drain calls, deregister, close the database
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ecnet.v1 import (
    acceptance_service_pb2,
    acceptance_service_pb2_grpc,
    admin_service_pb2,
    admin_service_pb2_grpc,
    federation_service_pb2,
    federation_service_pb2_grpc,
    qr_service_pb2,
    qr_service_pb2_grpc,
    settlement_service_pb2,
    settlement_service_pb2_grpc,
    voucher_service_pb2,
    voucher_service_pb2_grpc,
)
from federation.delivery import Delivery, uplink
from federation.directory import Directory
from federation.link import LinkSettings
from federation.registrar import Registrar, RegistrationRefused
from node.clock import Clock, Entropy, SystemClock, SystemEntropy
from node.config import ConfigError, NodeConfig, parse_address
from node.interceptor import CallInterceptor
from node.reflection import enable_reflection
from node.services.acceptance import AcceptanceServicer
from node.services.admin import AdminServicer
from node.services.federation import FederationServicer
from node.services.qr import QrServicer
from node.services.settlement import SettlementServicer
from node.services.voucher import VoucherServicer
from node.storage.national import NationalStore
from node.storage.provincial import ProvincialStore
from node.storage.settings import StorageSettings

__all__ = ["Node", "NodeStartError", "SERVICE_NAMES"]

log = logging.getLogger("ecnet.node")

SERVICE_NAMES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (voucher_service_pb2, "VoucherService"),
        (qr_service_pb2, "QrService"),
        (acceptance_service_pb2, "AcceptanceService"),
        (settlement_service_pb2, "SettlementService"),
        (federation_service_pb2, "FederationService"),
        (admin_service_pb2, "AdminService"),
    )
)


class NodeStartError(Exception):
    """The node cannot start; the message says why in one line."""


class Node:
    def __init__(
        self,
        config: NodeConfig,
        clock: Clock | None = None,
        entropy: Entropy | None = None,
    ) -> None:
        self.config = config.validate()
        self.clock = clock or SystemClock()
        self.entropy = entropy or SystemEntropy()
        self.instance_id = uuid.UUID(bytes=self.entropy.token_bytes(16)).hex
        self.started_at_ms = self.clock.now_ms()
        self.address = ""
        self.port = 0
        self.store: NationalStore | ProvincialStore
        self.directory: Directory | None = None
        self.registrar: Registrar | None = None
        # National only: durable delivery of outbox events to the provinces.
        self.delivery: Delivery | None = None
        # Provincial only: delivery of this province's outbox (settlement notices) to
        # national, which relays them (node.settlement.notice).
        self.uplink: Delivery | None = None
        # National only: records freezes whose time is over (node.voucher.freeze).
        self.freeze_sweeper = None
        # The answering end of Link streams (federation.link), set by FederationServicer.
        self.links = None
        self.link_settings = LinkSettings()
        self.health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._lock_fh = None
        self._tasks: list[asyncio.Task] = []
        # Cleanups of parts built on first use (e.g. acceptance's channels to peers).
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._stopped = asyncio.Event()
        self.fatal: str | None = None
        # Highest outbox seq from national this province has applied (reported in heartbeats).
        self.applied_position = 0

    # -- start -----------------------------------------------------------------------
    @property
    def role_enum(self) -> int:
        """This node's role as the ``NodeRole`` of the contracts."""
        if self.config.role == "national":
            return federation_service_pb2.NODE_ROLE_NATIONAL
        return federation_service_pb2.NODE_ROLE_PROVINCIAL

    @property
    def db_path(self) -> Path:
        name = (
            "national.db"
            if self.config.role == "national"
            else f"provincial-{self.config.province}.db"
        )
        return self.config.data_dir / name

    def _lock_data_dir(self) -> None:
        data = self.config.data_dir
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeStartError(f"cannot create data folder {data}: {exc.strerror}") from None
        lock_path = data / "node.lock"
        try:
            fh = open(lock_path, "a+")  # noqa: SIM115 - held for the node's lifetime
        except OSError as exc:
            raise NodeStartError(f"cannot open {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise NodeStartError(
                f"data folder {data} is in use by another node ({holder}); "
                "each node needs its own --data folder"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, {self.config.name}\n")
        fh.flush()
        self._lock_fh = fh

    async def start(self) -> None:
        """Open the database, bind, serve; for a province, register with national."""
        self._lock_data_dir()
        try:
            await self._start()
        except ConfigError as exc:  # a bad setting of any part: one line, exit 2
            await self._release()
            raise NodeStartError(str(exc)) from None
        except BaseException:
            await self._release()
            raise

    async def _start(self) -> None:
        await self.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        synchronous = StorageSettings.from_config(
            self.config.extra
        ).synchronous  # ConfigError: see start()
        if self.config.role == "national":
            self.store = NationalStore(self.db_path, synchronous)
        else:
            self.store = ProvincialStore(self.db_path, synchronous)
        try:
            applied = await self.store.open()
        except Exception as exc:  # StorageError, or an OS error on the file
            raise NodeStartError(str(exc)) from None
        if applied:
            log.info(
                "database migrated", extra={"fields": {"db": str(self.db_path), "applied": applied}}
            )
        if self.config.role == "national":
            self.directory = Directory(
                self.store, self.clock, self.config.heartbeat_interval, self.config.lease_intervals
            )
            self.delivery = Delivery(self)
        else:
            # Reported in heartbeats from the first one on, not only after a new batch.
            self.applied_position = await self.store.load_applied_position()
            # The settlement policy is configuration: a bad file stops the start here,
            # before the node binds or registers.
            from node.settlement import settlements_of

            try:
                settlements_of(self)
            except (ConfigError, OSError) as exc:
                raise NodeStartError(f"settlement policy: {exc}") from None
            self.uplink = uplink(self)

        self.link_settings = LinkSettings.from_config(self.config.extra)
        server = grpc.aio.server(
            interceptors=[CallInterceptor(self.config.name, self.config.log_calls)],
            # Without this, a second node could bind the same port and share its traffic.
            options=[("grpc.so_reuseport", 0)],
        )
        admin_service_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(self), server)
        federation_service_pb2_grpc.add_FederationServiceServicer_to_server(
            FederationServicer(self), server
        )
        voucher_service_pb2_grpc.add_VoucherServiceServicer_to_server(VoucherServicer(self), server)
        qr_service_pb2_grpc.add_QrServiceServicer_to_server(QrServicer(self), server)
        acceptance_service_pb2_grpc.add_AcceptanceServiceServicer_to_server(
            AcceptanceServicer(self), server
        )
        settlement_service_pb2_grpc.add_SettlementServiceServicer_to_server(
            SettlementServicer(self), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        enable_reflection(
            (
                *SERVICE_NAMES,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        host, _ = parse_address(self.config.listen)
        try:
            port = server.add_insecure_port(self.config.listen)
        except RuntimeError:
            port = 0
        if not port:
            raise NodeStartError(
                f"cannot listen on {self.config.listen}: the port is in use or not available"
            )
        self.port = port
        advertised = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.address = f"{advertised}:{port}"
        await server.start()
        self._server = server

        if self.config.role == "provincial":
            self.registrar = Registrar(
                self.config.national,
                self.config.province,
                self.address,
                self.config.version,
                self.instance_id,
                self.config.heartbeat_interval,
                applied_position=lambda: self.applied_position,
                linger=self.link_settings.linger,
            )
            await self.registrar.register()
            self._tasks.append(asyncio.create_task(self.registrar.heartbeat_forever()))
            # Remote settlements left pending by a time-out or a crash are asked again.
            self._tasks.append(asyncio.create_task(settlements_of(self).reconcile_forever()))

        if self.delivery is not None:
            await self.delivery.start()
        if self.uplink is not None:
            await self.uplink.start()
        if self.config.role == "national":
            from node.services.voucher import lifecycle_of
            from node.voucher.freeze import FreezeSweeper

            self.freeze_sweeper = FreezeSweeper(
                lambda: lifecycle_of(self), lifecycle_of(self).settings.freeze_sweep_seconds
            )
            self.freeze_sweeper.start()

        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving",
            extra={
                "fields": {
                    "role": self.config.role,
                    "province": self.config.province,
                    "address": self.address,
                }
            },
        )

    # -- stop ------------------------------------------------------------------------
    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, finish calls in flight, deregister, close the database."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        await self.health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.links is not None:  # calls in flight on links finish; the streams end
            await self.links.drain()
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                await close()
        if self.registrar is not None and self.registrar.registered.is_set():
            await self.registrar.deregister()
        if self.freeze_sweeper is not None:
            await self.freeze_sweeper.stop()
        if self.delivery is not None:
            await self.delivery.stop()
        if self.uplink is not None:
            await self.uplink.stop()
        if self._server is not None:
            await self._server.stop(self.config.grace if grace is None else grace)
        await self._release()
        log.info("stopped")

    async def _release(self) -> None:
        if self.delivery is not None:
            await self.delivery.stop()
        if self.uplink is not None:
            await self.uplink.stop()
        if self.registrar is not None:
            await self.registrar.close()
        store = getattr(self, "store", None)
        if store is not None:
            with contextlib.suppress(Exception):
                await store.close()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Await ``close()`` when the node stops, before its server stops."""
        self._closers.append(close)

    async def wait_stopped(self) -> None:
        await self._stopped.wait()


__all__ += ["ConfigError", "RegistrationRefused"]
