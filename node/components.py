"""The composition root: every part of a node, built per role in one place.

:class:`~node.app.Node` opens the role's store and calls :func:`build`, which reads
every setting (a bad one is a :class:`~node.config.ConfigError`, before the node binds
its port) and builds the role's components, each given what it needs in its
constructor. The node then registers :meth:`servicers` on its gRPC server, and calls
:meth:`start` once it listens, :meth:`stop` before its server stops and :meth:`close`
last.

National (:class:`NationalComponents`): the node directory, the delivery of its outbox
to the provinces, the voucher lifecycle and its freeze sweeper, the hub that forwards
routed calls, the relay of the provinces' notices. It serves ``VoucherService``,
``FederationService`` and ``AdminService``.

A province (:class:`ProvincialComponents`): its inbox of national's events, its client
of national with the registrar, its uplink (its own outbox, up to national), the QR
issuer, acceptance and settlement. It serves ``QrService``, ``AcceptanceService``,
``SettlementService``, ``FederationService`` and ``AdminService``.

A service a role does not serve answers -5 and where to go (``node.services.unserved``).
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc

from ecnet.v1 import (
    acceptance_service_pb2_grpc,
    admin_service_pb2_grpc,
    federation_service_pb2_grpc,
    qr_service_pb2,
    qr_service_pb2_grpc,
    settlement_service_pb2,
    settlement_service_pb2_grpc,
    voucher_service_pb2,
    voucher_service_pb2_grpc,
)
from federation.client import NationalClient
from federation.delivery import Delivery, DeliverySettings, uplink
from federation.directory import Directory
from federation.forward import Forwarder
from federation.hub import Hub
from federation.inbox import Inbox
from federation.link import LinkServer, LinkSettings
from federation.registrar import Registrar
from federation.relay import NoticeRelay
from node.acceptance import Acceptance, AcceptanceSettings
from node.clock import Clock, Entropy
from node.config import ConfigError, NodeConfig, Role
from node.domain.channelsig import ChannelKey, sm4_key_for
from node.figures import CallTally, FigureSource
from node.qr.issuer import QR_KEY, QrIssuer
from node.qr.settings import QrSettings
from node.services.acceptance import AcceptanceServicer, acceptance_unserved
from node.services.access import Access, Holders
from node.services.admin import NationalAdminServicer, ProvincialAdminServicer
from node.services.federation import NationalFederationServicer, ProvincialFederationServicer
from node.services.figures import Figures, NationalFigures
from node.services.identity import NodeIdentity
from node.services.qr import QrServicer
from node.services.settlement import SettlementServicer
from node.services.unserved import unserved
from node.services.voucher import VoucherServicer
from node.settlement.core import Settlements
from node.settlement.policy import Policies
from node.settlement.settings import SettlementSettings
from node.storage.national import NationalStore
from node.storage.outbox import OutboxStore
from node.storage.provincial import ProvincialStore
from node.tls import Dialer, Trust
from node.voucher.biometric import LivenessVerifier, SimulatedFaceVerifier
from node.voucher.channels import announce_channels
from node.voucher.context import Lifecycle
from node.voucher.freeze import FreezeSweeper
from node.voucher.settings import LifecycleSettings
from node.wire.signing import Endorsements, EventSigner

__all__ = ["Components", "NationalComponents", "ProvincialComponents", "build"]


class NationalComponents:
    """The national node: the base registry, the hub, the management center."""

    role = Role.NATIONAL
    # The services this role answers (the others answer -5).
    served = ("ecnet.v1.VoucherService", "ecnet.v1.FederationService", "ecnet.v1.AdminService")

    def __init__(
        self,
        config: NodeConfig,
        clock: Clock,
        entropy: Entropy,
        store: NationalStore,
        dialer: Dialer,
        trust: Trust | None,
        signer: EventSigner,
        verifier: LivenessVerifier | None = None,
    ) -> None:
        self.trust = trust
        extra = config.extra
        self.signer = signer
        lifecycle_settings = LifecycleSettings.from_config(extra)
        delivery_settings = DeliverySettings.from_config(extra)
        link = LinkSettings.from_config(extra)
        route_deadline = AcceptanceSettings.from_config(extra).route_deadline
        settle_deadline = SettlementSettings.from_config(extra).settle_deadline

        self.config = config
        self.clock = clock
        self.store = store
        self.directory = Directory(
            store,
            clock,
            config.heartbeat_interval,
            config.lease_intervals,
            dialer=dialer,
            keepalive_ms=link.keepalive_ms,
        )
        self.delivery = Delivery(
            OutboxStore(store.db),
            clock,
            entropy,
            address_of=self.directory.address_of,
            settings=delivery_settings,
            scan_interval=config.delivery_scan_interval,
            directory=self.directory,
            dialer=dialer,
            keepalive_ms=link.keepalive_ms,
            prepare=Endorsements(signer),
        )
        self.lifecycle = Lifecycle(
            store,
            clock,
            entropy,
            lifecycle_settings,
            verifier or SimulatedFaceVerifier(lifecycle_settings.liveness_window * 1000),
            signer,
            store.keys,
            self.delivery.wake,
        )
        self.freeze_sweeper = FreezeSweeper(self.lifecycle, lifecycle_settings.freeze_sweep_seconds)
        self.hub = Hub(
            Forwarder(self.directory, dialer, link.linger, link.keepalive_ms),
            route_deadline,
            settle_deadline,
        )
        self.relay = NoticeRelay(store, clock, self.delivery.wake)

    def register(
        self, server: grpc.aio.Server, identity: NodeIdentity, access: Access, tally: CallTally
    ) -> LinkServer:
        """Add this role's servicers to ``server``; returns the answering end of its links.
        ``access``: the operators' roles and the audit log (the interceptor's gate);
        ``tally``: the calls counted for the figures."""
        federation = NationalFederationServicer(
            identity,
            self.config.log_calls,
            self.clock,
            self.directory,
            self.hub,
            self.relay,
            self.lifecycle,
            self.signer.public_key,
            self.trust,
        )
        admin = NationalAdminServicer(
            identity, self.store, self.delivery, self.directory, self.lifecycle, access
        )
        admin.figures = NationalFigures(
            FigureSource(self.store.db, tally, national=True),
            self.clock,
            self.directory,
            self.hub.forwarder,
        )
        voucher_service_pb2_grpc.add_VoucherServiceServicer_to_server(
            VoucherServicer(self.lifecycle), server
        )
        federation_service_pb2_grpc.add_FederationServiceServicer_to_server(federation, server)
        admin_service_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
        where = "the provincial nodes"
        server.add_generic_rpc_handlers(
            (
                unserved(
                    qr_service_pb2.DESCRIPTOR.services_by_name["QrService"],
                    f"QrService is served by {where} (the business place), not by national",
                ),
                acceptance_unserved(
                    f"scanning is served by {where}: send the scan to the province of the terminal"
                ),
                unserved(
                    settlement_service_pb2.DESCRIPTOR.services_by_name["SettlementService"],
                    f"settlement is served by {where}: ask the province of the institution",
                ),
            )
        )
        return federation.links

    def channel_key(self, app_id: str) -> ChannelKey | None:
        """A channel's key, status, scopes and SM4 key (derived from the node's master key
        and the key's version) from the registry (a call's signature check)."""
        row = self.store.channel_now(app_id)
        if row is None:
            return None
        return channel_key_of(
            app_id,
            row.public_key,
            row.scopes,
            row.status,
            row.status_reason,
            row.key_version,
            sm4_key_for(self.store.keys.master, app_id, row.key_version),
        )

    async def start(self, identity: NodeIdentity) -> None:
        await announce_channels(self.lifecycle)
        await self.delivery.start()
        self.freeze_sweeper.start()

    async def stop(self) -> None:
        """Before the server stops: no new forwarding, sweeping or delivery."""
        await self.hub.close()
        await self.freeze_sweeper.stop()
        await self.delivery.stop()

    async def close(self) -> None:
        await self.delivery.stop()
        await self.store.close()


class ProvincialComponents:
    """The node of one province: QR codes, acceptance, settlement."""

    role = Role.PROVINCIAL
    served = (
        "ecnet.v1.QrService",
        "ecnet.v1.AcceptanceService",
        "ecnet.v1.SettlementService",
        "ecnet.v1.FederationService",
        "ecnet.v1.AdminService",
    )

    def __init__(
        self,
        config: NodeConfig,
        store: ProvincialStore,
        inbox: Inbox,
        national: NationalClient,
        registrar: Registrar,
        uplink: Delivery,
        issuer: QrIssuer,
        acceptance: Acceptance,
        settlements: Settlements,
    ) -> None:
        self.config = config
        self.store = store
        self.inbox = inbox
        self.national = national
        self.registrar = registrar
        self.uplink = uplink
        self.issuer = issuer
        self.acceptance = acceptance
        self.settlements = settlements
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def build(
        cls,
        config: NodeConfig,
        clock: Clock,
        entropy: Entropy,
        store: ProvincialStore,
        instance_id: str,
        dialer: Dialer,
        trust: Trust | None,
        signer: EventSigner,
    ) -> ProvincialComponents:
        extra, province = config.extra, config.province
        link = LinkSettings.from_config(extra)
        delivery_settings = DeliverySettings.from_config(extra)
        qr_settings = QrSettings.from_config(extra)
        acceptance_settings = AcceptanceSettings.from_config(extra)
        settlement_settings = SettlementSettings.from_config(extra)
        try:  # the settlement policy is configuration: a bad file stops the start here
            policies = Policies.load(settlement_settings.policy or None)
        except (ConfigError, OSError) as exc:
            raise ConfigError(f"settlement policy: {exc}") from None

        inbox = await Inbox.open(store, clock)
        qr_key = await store.secret(QR_KEY, entropy.token_bytes(16))
        national = NationalClient(
            config.national, dialer, linger=link.linger, keepalive_ms=link.keepalive_ms
        )
        registrar = Registrar(
            national,
            province,
            config.version,
            instance_id,
            config.heartbeat_interval,
            applied_position=lambda: inbox.position,
            crl=trust,
            national_key=inbox.national_key,
            sign_key=signer.public_key,
        )
        outbox = uplink(
            store.db,
            clock,
            entropy,
            origin=config.name,
            national=config.national,
            settings=delivery_settings,
            scan_interval=config.delivery_scan_interval,
            dialer=dialer,
            keepalive_ms=link.keepalive_ms,
        )
        return cls(
            config,
            store,
            inbox,
            national,
            registrar,
            outbox,
            QrIssuer(store, clock, entropy, province, qr_settings, national, qr_key),
            Acceptance(store, clock, entropy, province, acceptance_settings, national, qr_key),
            Settlements(
                store,
                clock,
                entropy,
                province,
                settlement_settings,
                policies,
                national,
                outbox.wake,
                signer,
            ),
        )

    def channel_key(self, app_id: str) -> ChannelKey | None:
        """A channel's key, status, scopes and SM4 key as national last told this province
        (the SM4 key opened from its sealed copy)."""
        row = self.store.channel_status_now(app_id)
        if row is None:
            return None
        return channel_key_of(
            app_id, row.public_key, row.scopes, row.status, row.reason, 0, row.sm4_key
        )

    def register(
        self, server: grpc.aio.Server, identity: NodeIdentity, access: Access, tally: CallTally
    ) -> LinkServer:
        """Add this role's servicers to ``server``; returns the answering end of its links.
        ``access``: the operators' roles and the audit log (the interceptor's gate);
        ``tally``: the calls counted for the figures."""
        holders = Holders(access, self.config.province, self.acceptance.terminals.org_of)
        admin = ProvincialAdminServicer(
            identity, self.store, self.uplink, access, lambda: self.registrar.state
        )
        admin.apply_upstream = self.national.apply_channel
        federation = ProvincialFederationServicer(
            identity, self.config.log_calls, self.inbox, self.acceptance, self.settlements
        )
        figures = Figures(
            FigureSource(self.store.db, tally, national=False, province=self.config.province),
            self.settlements.clock,
            self.settlements,
        )
        admin.figures = federation.figures = figures
        qr_service_pb2_grpc.add_QrServiceServicer_to_server(QrServicer(self.issuer), server)
        acceptance_service_pb2_grpc.add_AcceptanceServiceServicer_to_server(
            AcceptanceServicer(self.acceptance, identity.name), server
        )
        settlement_service_pb2_grpc.add_SettlementServiceServicer_to_server(
            SettlementServicer(self.settlements, holders, self.acceptance.terminals.check), server
        )
        federation_service_pb2_grpc.add_FederationServiceServicer_to_server(federation, server)
        admin_service_pb2_grpc.add_AdminServiceServicer_to_server(
            admin,
            server,
        )
        server.add_generic_rpc_handlers(
            (
                unserved(
                    voucher_service_pb2.DESCRIPTOR.services_by_name["VoucherService"],
                    "VoucherService is served by the national node, not by province "
                    f"{self.config.province}",
                ),
            )
        )
        return federation.links

    async def start(self, identity: NodeIdentity) -> None:
        """Register with national (retrying until it answers; RegistrationRefused when
        another live node serves the province), then heartbeat, reconcile, deliver."""
        await self.registrar.register(identity.address)
        self._tasks.append(asyncio.create_task(self.registrar.heartbeat_forever()))
        # Remote settlements left pending by a time-out or a crash are asked again.
        self._tasks.append(asyncio.create_task(self.settlements.reconcile_forever()))
        await self.uplink.start()

    async def stop(self) -> None:
        """Before the server stops: no more heartbeats or reconciling, deregistered."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.acceptance.close()
        if self.registrar.registered.is_set():
            await self.registrar.deregister()
        await self.uplink.stop()

    async def close(self) -> None:
        await self.uplink.stop()
        await self.national.close()
        await self.store.close()


Components = NationalComponents | ProvincialComponents


def channel_key_of(
    app_id: str,
    public_key: str,
    scopes: str,
    status: str,
    reason: str,
    key_version: int,
    sm4_key: bytes = b"",
) -> ChannelKey:
    try:
        key = bytes.fromhex(public_key)
    except ValueError:  # not written by ecnet: no key, so every call is refused
        key = b""
    return ChannelKey(
        app_id,
        key,
        tuple(s for s in scopes.split(",") if s),
        status,
        reason,
        key_version,
        sm4_key,
    )


async def build(
    config: NodeConfig,
    clock: Clock,
    entropy: Entropy,
    store: NationalStore | ProvincialStore,
    instance_id: str,
    dialer: Dialer,
    trust: Trust | None,
    signer: EventSigner,
    verifier: LivenessVerifier | None = None,
) -> Components:
    """The components of ``config.role`` over its open ``store``; ``dialer`` makes their
    channels to other nodes, ``trust`` names their callers, ``signer`` is the node's key
    that signs the events it originates (``node.wire.signing``)."""
    if isinstance(store, NationalStore):
        return NationalComponents(config, clock, entropy, store, dialer, trust, signer, verifier)
    return await ProvincialComponents.build(
        config, clock, entropy, store, instance_id, dialer, trust, signer
    )
