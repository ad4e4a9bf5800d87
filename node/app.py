"""A running node: its data folder, its gRPC server with health and reflection, and the
components of its role (``node.components``), started and stopped in order.

``Node`` is what ``ecnet-node`` runs and what tests start in-process on port 0::

    node = Node(NodeConfig(role="national", listen="127.0.0.1:0", data_dir=tmp))
    await node.start()          # health SERVING once ready
    ...                         # node.address is "127.0.0.1:<port>"
    await node.stop()           # NOT_SERVING, drain calls, deregister, close the database

Start: check that the listen address can be bound (before anything is written: a node
that cannot listen leaves no data folder behind), lock the data folder, open (and
migrate) the database, build the components (every setting read: a bad one stops the
start before the node binds), bind, register the servicers, serve, start the
components (a province registers with national), then report SERVING for the services
of the role. Stop: NOT_SERVING, drain the links, stop the components (a province
deregisters), let calls in flight finish, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import re
import socket
import sys
import tempfile
import uuid
from pathlib import Path
from typing import IO, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ecnet.v1 import (
    acceptance_service_pb2,
    admin_service_pb2,
    federation_service_pb2,
    qr_service_pb2,
    settlement_service_pb2,
    voucher_service_pb2,
)
from federation.directory import NodeStatus
from federation.keepalive import server_options
from federation.link import LinkServer, LinkSettings
from federation.registrar import RegistrationRefused
from node.clock import Clock, Entropy, MonotonicClock, SystemClock, SystemEntropy
from node.components import Components, NationalComponents, ProvincialComponents, build
from node.config import ConfigError, NodeConfig, Role, parse_address
from node.console.app import Console
from node.doors.app import DoorNode, door_app
from node.doors.calls import Calls, Handlers
from node.doors.server import DoorTls, HttpsServer
from node.figures import CallTally, flush_seconds
from node.inputcheck import MAX_REQUEST_BYTES
from node.interceptor import CallInterceptor, ChannelCheck
from node.metrics import Backlog, NodeMetrics, peer_name
from node.pki import Identity, PkiError, read_crl
from node.ratelimit import LimitSettings, RateLimiter
from node.reflection import enable_reflection
from node.services.acceptance import TRANS_METHOD, trans_refusal
from node.services.access import Access
from node.services.identity import NodeIdentity
from node.storage.backup import NODE_LOCK
from node.storage.db import NodeDatabase
from node.storage.national import NationalStore
from node.storage.provincial import ProvincialStore
from node.storage.settings import StorageSettings
from node.tls import ClientTls, Dialer, ServerTls, TlsFiles, Trust
from node.vault import MasterKeyError, NodeKeys, load_master_key
from node.voucher.biometric import LivenessVerifier
from node.wire.signing import EventSigner, SignKeyError, load_sign_key

__all__ = [
    "ConfigError",
    "Node",
    "check_listen",
    "NodeStartError",
    "RegistrationRefused",
    "SERVICE_NAMES",
]

log = logging.getLogger("ecnet.node")

# How often a node on a database server looks whether the server is still there (and,
# while it is not, whether it is back): health follows within about this, plus the
# connection's own timeout for a server gone silent.
DB_WATCH_S = 1.0

# Every service of the contracts: reflection lists them all on every node, so a call
# sent to the wrong role is still described and answered (-5, with where to go).
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


def private_files(db_path: Path) -> None:
    """The database file (created if absent) and its WAL and shared-memory files, mode
    0600: SQLite gives the WAL and -shm files the database file's mode."""
    os.close(os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db_path}{suffix}").chmod(0o600)


class NodeStartError(Exception):
    """The node cannot start; the message says why in one line."""


def check_listen(listen: str) -> None:
    """Raise :class:`NodeStartError` when no server could listen at ``listen``.

    A trial bind with SO_REUSEADDR, as gRPC's own listener has (connections of a node
    just stopped do not make the port busy; a program listening there does). Done before
    the data folder is created, and so that gRPC core never logs its own failure line.
    """
    host, port = parse_address(listen, "--listen")
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror:
        raise NodeStartError(f"cannot listen on {listen}: unknown host {host}") from None
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(sockaddr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "address in use (another node or program listens there)"
            elif exc.errno == errno.EADDRNOTAVAIL:
                why = "not an address of this machine"
            elif exc.errno == errno.EACCES:
                why = f"port {port} needs privileges (choose one above 1023)"
            else:
                why = exc.strerror or str(exc)
            raise NodeStartError(f"cannot listen on {listen}: {why}") from None


def _add_port(
    server: grpc.aio.Server, listen: str, credentials: grpc.ServerCredentials | None
) -> tuple[int, str]:
    """``server.add_secure_port`` (``add_insecure_port`` without ``credentials``): (the
    port, 0 when it failed; what gRPC core wrote to
    stderr meanwhile). Core logs its own failure line (``add_port.cc``) straight to file
    descriptor 2; it is held back here, so that the node's error stays one line of its
    own. Anything else written meanwhile (another thread's log) is passed on."""
    with tempfile.TemporaryFile() as held:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            try:
                if credentials is None:
                    port = server.add_insecure_port(listen)
                else:
                    port = server.add_secure_port(listen, credentials)
            except RuntimeError:
                port = 0
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        said = held.read().decode(errors="replace")
    rest = "".join(line for line in said.splitlines(keepends=True) if "add_port" not in line)
    if rest:
        sys.stderr.write(rest)
        sys.stderr.flush()
    return port, said


class Node:
    """One node of either role. ``liveness_verifier`` replaces national's simulated
    real-person check (``node.voucher.biometric``)."""

    def __init__(
        self,
        config: NodeConfig,
        clock: Clock | None = None,
        entropy: Entropy | None = None,
        *,
        liveness_verifier: LivenessVerifier | None = None,
        limits_clock: Clock | None = None,
    ) -> None:
        self.config = config.validate()
        # The rate limits' buckets refill by their own clock (monotonic), not by the
        # business clock a test moves or freezes.
        self.limits_clock = limits_clock or MonotonicClock()
        self.clock = clock or SystemClock()
        self.entropy = entropy or SystemEntropy()
        self.liveness_verifier = liveness_verifier
        self.instance_id = uuid.UUID(bytes=self.entropy.token_bytes(16)).hex
        self.started_at_ms = self.clock.now_ms()
        self.address = ""
        self.port = 0
        self.health = health.aio.HealthServicer()
        self._store: NationalStore | ProvincialStore | None = None
        # The node's SM2 key that signs the events it originates (from start on).
        self.signer: EventSigner | None = None
        self._components: Components | None = None
        self._links: LinkServer | None = None
        self._server: grpc.aio.Server | None = None
        self._lock_fh: IO[str] | None = None
        self._stopped = asyncio.Event()
        self._released = False
        self._db_watch: asyncio.Task[None] | None = None
        # Who may call (node.tls): None until started, and on an --insecure node.
        self.trust: Trust | None = None
        # The node's rate limits (node.ratelimit); None until started.
        self.limiter: RateLimiter | None = None
        # The HTTPS doors (node.doors), when --https is given; None until started.
        self.doors: HttpsServer | None = None
        self._door_tls: DoorTls | None = None
        # The node's own metrics registry (node.metrics), served at /metrics.
        self.metrics = NodeMetrics(config.name, str(config.role), config.version)
        self.tally: CallTally | None = None

    # -- the parts, once started -----------------------------------------------------
    @property
    def store(self) -> NationalStore | ProvincialStore:
        """The node's database (open from :meth:`start` on)."""
        if self._store is None:
            raise RuntimeError(f"node {self.config.name} has no open database")
        return self._store

    @property
    def national(self) -> NationalComponents:
        """The national node's components; a province has none."""
        if not isinstance(self._components, NationalComponents):
            raise RuntimeError(f"node {self.config.name} is not a started national node")
        return self._components

    @property
    def provincial(self) -> ProvincialComponents:
        """A province's components; national has none."""
        if not isinstance(self._components, ProvincialComponents):
            raise RuntimeError(f"node {self.config.name} is not a started provincial node")
        return self._components

    @property
    def links(self) -> LinkServer:
        """The answering end of this node's Link streams (``federation.link``)."""
        if self._links is None:
            raise RuntimeError(f"node {self.config.name} is not serving")
        return self._links

    @property
    def db_path(self) -> Path:
        name = (
            "national.db"
            if self.config.role is Role.NATIONAL
            else f"provincial-{self.config.province}.db"
        )
        return self.config.data_dir / name

    @property
    def db_target(self) -> Path | str:
        """Where the node's data is: ``--db``'s PostgreSQL URL, else its SQLite file."""
        return self.config.db or self.db_path

    # -- start -----------------------------------------------------------------------
    def _lock_data_dir(self) -> None:
        data = self.config.data_dir
        try:
            # The node's alone (personal data, keys): mode 0700, also when it was looser.
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
            data.chmod(0o700)
        except OSError as exc:
            raise NodeStartError(f"cannot create data folder {data}: {exc.strerror}") from None
        lock_path = data / NODE_LOCK  # ecnet backup restore takes it too
        try:
            fh = os.fdopen(  # noqa: SIM115 - held for the node's lifetime
                os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+"
            )
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

    @property
    def https_address(self) -> str:
        """Where the HTTPS doors listen (``127.0.0.1:PORT``); empty without ``--https``."""
        return self.doors.address if self.doors is not None else ""

    async def start(self) -> None:
        """Open the database, bind, serve; for a province, register with national."""
        check_listen(self.config.listen)
        if self.config.https:
            check_listen(self.config.https)
        self._lock_data_dir()
        try:
            await self._start()
        except ConfigError as exc:  # a bad setting of any part: one line, exit 2
            await self._abandon()
            raise NodeStartError(str(exc)) from None
        except BaseException:
            await self._abandon()
            raise

    async def _abandon(self) -> None:
        """Undo a start that failed part way: whatever began serving stops (the doors,
        the components' tasks, the gRPC server), then what was opened is closed. A server
        left running in a process that goes on (a test, an embedding program) would be
        collected later and hang its event loop's poller."""
        if self.doors is not None:
            with contextlib.suppress(Exception):
                await self.doors.stop()
        if self._components is not None:
            with contextlib.suppress(Exception):
                await self._components.stop()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.stop(0)
        if self.tally is not None:
            with contextlib.suppress(Exception):
                await self.tally.stop()
        await self._release()

    async def _open_store(self) -> NationalStore | ProvincialStore:
        db = StorageSettings.from_config(self.config.extra)
        store: NationalStore | ProvincialStore
        kind = NationalStore if self.config.role is Role.NATIONAL else ProvincialStore
        store = kind(
            self.db_target, db.synchronous, db.busy_timeout_ms, bool(db.quick_check), db.cache_mib
        )
        self._store = store
        key_path = self.config.master_key or self.config.data_dir / "master.key"
        try:  # the key first: a node that cannot read its key creates no database
            keys = NodeKeys(load_master_key(key_path, self.entropy), self.entropy)
        except MasterKeyError as exc:
            raise NodeStartError(str(exc)) from None
        try:
            if not self.config.db:
                private_files(self.db_path)
            applied = await store.open()
            converted = await store.unlock(keys)
        except MasterKeyError as exc:  # a database sealed under another master key
            raise NodeStartError(str(exc)) from None
        except Exception as exc:  # StorageError, or an OS error on the file
            raise NodeStartError(str(exc)) from None
        if converted:
            log.info(
                "secrets of an older database sealed",
                extra={"fields": {"db": store.db.location, "rows": converted}},
            )
        if applied:
            log.info(
                "database migrated",
                extra={"fields": {"db": store.db.location, "applied": applied}},
            )
        return store

    async def _start(self) -> None:
        await self.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        try:
            key = load_sign_key(self.config.sign_key_path, self.entropy)
        except SignKeyError as exc:
            raise NodeStartError(str(exc)) from None
        self.signer = EventSigner(self.config.name, key)
        store = await self._open_store()
        credentials, dialer, trust = self._security()
        store.db.observe_write = self.metrics.write
        # The calls counted for the management center's figures (node.figures).
        self.tally = CallTally(store.db, self.clock.now_ms, flush_seconds())
        self.limiter = RateLimiter(
            LimitSettings.from_config(self.config.extra),
            self.limits_clock,
            refused=self.metrics.rate_limited,
        )
        components = await build(
            self.config,
            self.clock,
            self.entropy,
            store,
            self.instance_id,
            dialer,
            trust,
            self.signer,
            self.liveness_verifier,
        )
        self._components = components

        # The operators' roles and the audit log (node.services.access).
        access = Access(store.db, self.clock, insecure=self.config.insecure)
        interceptor = CallInterceptor(
            self.config.name,
            self.config.log_calls,
            envelopes={TRANS_METHOD: trans_refusal},
            trust=trust,
            gate=access,
            limiter=self.limiter,
            channels=ChannelCheck(
                components.channel_key,
                self.clock.now_ms,
                services=components.served,
            ),
            metrics=self.metrics,
            tally=self.tally,
        )
        self._measure(components)
        server = grpc.aio.server(
            interceptors=[interceptor],
            # Without so_reuseport 0, a second node could bind the same port and share its
            # traffic. The ping policy accepts the keepalive of the peers' clients.
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                *server_options(LinkSettings.from_config(self.config.extra).keepalive_ms),
            ],
        )
        self._server = server  # stopped by _abandon should the start fail from here on
        host, _ = parse_address(self.config.listen)
        port, core_said = _add_port(server, self.config.listen, credentials)
        if not port:
            # Taken since check_listen looked (a race): gRPC core's reason, in our one line.
            why = re.search(r"\(Error in bind for address '.*?': ([^)]*)\)", core_said)
            raise NodeStartError(
                f"cannot listen on {self.config.listen}: "
                + (why.group(1) if why else "the port is in use or not available")
            )
        self.port = port
        advertised = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.address = f"{advertised}:{port}"
        identity = NodeIdentity(
            role=self.config.role,
            province=self.config.province,
            name=self.config.name,
            version=self.config.version,
            instance_id=self.instance_id,
            started_at_ms=self.started_at_ms,
            # what national dials (a province registers it) and GetNodeInfo reports
            address=self.config.advertise or self.address,
            transport="INSECURE plaintext" if self.config.insecure else "mutual TLS",
            certificate=None if self.config.insecure else self.config.cert,
        )
        # The servicers' handlers are kept too: the HTTPS doors call the same ones.
        handlers = Handlers(server)
        self._links = components.register(
            cast("grpc.aio.Server", handlers), identity, access, self.tally
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
        await server.start()
        self.tally.start()
        if self.config.https:
            await self._open_doors(Calls(interceptor, handlers))

        await components.start(identity)
        served = ("", *components.served)
        for name in served:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if store.db.dialect != "sqlite":  # a server that can go away: health follows it
            self._db_watch = asyncio.create_task(self._watch_database(store.db, served))
        log.info(
            "serving",
            extra={
                "fields": {
                    "role": str(self.config.role),
                    "province": self.config.province,
                    "address": self.address,
                    "https": self.https_address,
                    "transport": "INSECURE plaintext" if self.config.insecure else "mutual TLS",
                }
            },
        )
        if self.config.insecure:
            log.warning(
                "INSECURE: this node serves plaintext and believes any caller's claimed "
                "identity (--insecure, for development only); never run it so in a deployment"
            )

    async def _watch_database(self, db: NodeDatabase, names: tuple[str, ...]) -> None:
        """Health follows the database server: NOT_SERVING from the moment the node
        finds it gone (a call, the outbox, or this task's probe each ``DB_WATCH_S``)
        until a probe reads it again. Provinces that balance over national replicas
        check health, so their calls go to the replicas that still have the database
        instead of being answered -3 by this one."""
        serving = True
        while True:
            db.probe()
            await asyncio.sleep(DB_WATCH_S)
            if db.reachable == serving:
                continue
            serving = db.reachable
            for name in names:
                await self.health.set(
                    name,
                    health_pb2.HealthCheckResponse.SERVING
                    if serving
                    else health_pb2.HealthCheckResponse.NOT_SERVING,
                )
            if serving:
                log.info("database reachable again: SERVING", extra={"fields": {"db": db.location}})
            else:
                log.warning(
                    "database unreachable: NOT_SERVING until it is back",
                    extra={"fields": {"db": db.location}},
                )

    def _measure(self, components: Components) -> None:
        """The metrics read at a scrape: the outbox's lanes, the links, the certificate."""
        metrics = self.metrics
        metrics.now_ms = self.clock.now_ms
        if isinstance(components, NationalComponents):
            outbox = components.delivery.store
            directory = components.directory

            async def links() -> dict[str, bool]:
                return {
                    f"p{row.province}": up == NodeStatus.UP for row, up in await directory.nodes()
                }

        else:
            outbox = components.uplink.store
            registered = components.registrar.registered

            async def links() -> dict[str, bool]:
                return {"national": registered.is_set()}

        # A province's one lane goes to national, reported before it queued anything.
        lanes = () if outbox.lane is None else (peer_name(outbox.lane),)

        async def backlog() -> list[Backlog]:
            found = [
                Backlog(peer_name(lane), pending, oldest, parked)
                for lane, pending, oldest, parked in await outbox.backlog()
            ]
            seen = {b.peer for b in found}
            return found + [Backlog(peer, 0, 0, 0) for peer in lanes if peer not in seen]

        metrics.outbox = backlog
        metrics.links = links
        if not self.config.insecure:
            metrics.certificate = self.config.cert
            trust = self.trust
            metrics.crl = (lambda: trust.crl) if trust is not None else None

    async def _open_doors(self, calls: Calls) -> None:
        """Serve the HTTPS doors (``--https``) in front of the same calls."""
        signer = self.signer
        assert signer is not None
        components = self._components
        assert components is not None
        door = DoorNode(
            self.config.name,
            self.config.role,
            self.config.version,
            lambda: (signer.private_key, signer.public_key),
            components.channel_key,
            self.clock.now_ms,
        )
        console = None
        store = self._store
        gate = calls.interceptor.gate
        if isinstance(store, NationalStore) and gate is not None:
            # The management console (node.console), as the operators log in to it.
            console = Console(store.db, lambda: store.keys, gate, calls, self.clock.now_ms).app()
        doors = HttpsServer(door_app(door, calls, console), self.config.https, self._door_tls)
        await doors.start()
        self.doors = doors

    def _security(self) -> tuple[grpc.ServerCredentials | None, Dialer, Trust | None]:
        """The server's credentials, the dialer of the node's channels and the trust
        that names its callers; plaintext and no trust under ``--insecure``."""
        config = self.config
        me = (
            Identity.national()
            if config.role is Role.NATIONAL
            else Identity.of_province(config.province)
        )
        if config.insecure:
            return None, Dialer(me, None), None
        assert config.ca is not None and config.cert is not None and config.key is not None
        files = TlsFiles(config.ca, config.cert, config.key, config.crl)
        # Certificates are judged by the wall clock, as the TLS handshake judges them: a
        # business clock moved by a test (node.clock) does not make them expire.
        wall = SystemClock()
        server = ServerTls(files, wall)
        named = files.identity()
        if named != me:
            raise ConfigError(f"{config.cert} is the certificate of {named}, not of {me}")
        follows = config.crl if config.role is Role.NATIONAL else None
        initial = None
        if config.crl is not None and follows is None:
            try:
                initial = read_crl(config.crl)
            except PkiError as exc:
                raise ConfigError(str(exc)) from None
        self.trust = Trust(server.ca, wall, crl_path=follows, crl=initial)
        if config.https:
            self._door_tls = DoorTls(files)
        return server.credentials(), Dialer(me, ClientTls(files, wall)), self.trust

    # -- stop ------------------------------------------------------------------------
    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, finish calls in flight, deregister, close the database."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._db_watch is not None:
            self._db_watch.cancel()
        await self.health.enter_graceful_shutdown()
        if self.doors is not None:
            await self.doors.stop()
        if self._links is not None:  # calls in flight on links finish; the streams end
            await self._links.drain()
        if self._components is not None:
            await self._components.stop()
        if self._server is not None:
            await self._server.stop(self.config.grace if grace is None else grace)
        if self.tally is not None:  # the last calls' counts, written
            await self.tally.stop()
        await self._release()
        log.info("stopped")

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def _release(self) -> None:
        """Close what start opened (once, after a stop or a failed start)."""
        if self._released:
            return
        self._released = True
        if self._components is not None:
            with contextlib.suppress(Exception):
                await self._components.close()
        elif self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.close()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None
