"""Nodes under test: the real node program (``python -m node``) as child processes.

Each node gets a free port, its own data folder under the bench's temp folder and a
log file there (stdout and stderr). It runs in its own session (process group), so
that a Ctrl-C in the terminal reaches only the bench, which then stops every node it
started: SIGTERM, a wait, and SIGKILL to the whole group as a last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2

from ecnet.v1 import admin_service_pb2_grpc, federation_service_pb2_grpc
from node.domain.channelsig import AioSigningInterceptor, key_file, load_key
from node.pki import CertificateAuthority, Identity
from node.tls import INSECURE_CLAIM

if TYPE_CHECKING:
    from ecnet.v1.admin_service_pb2_grpc import AdminServiceAsyncStub
    from ecnet.v1.federation_service_pb2_grpc import FederationServiceAsyncStub

__all__ = [
    "NodeProcess",
    "free_port",
    "free_base_port",
    "kill_group",
    "copy_database",
    "START_TIMEOUT",
]

START_TIMEOUT = 60.0
OFFICIAL_CHANNEL = "NHSA-OFFICIAL"
STOP_TIMEOUT = 15.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _bindable(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_base_port(span: int = 67, low: int = 20000, high: int = 40000, tries: int = 50) -> int:
    """A random P in [low, high] such that P .. P+span-1 can all be bound now."""
    rng = random.Random()
    for _ in range(tries):
        base = rng.randint(low, high - span)
        if all(_bindable(base + i) for i in range(span)):
            return base
    raise RuntimeError(
        f"no {span} consecutive free ports found in {low}-{high} after {tries} tries"
    )


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the process group ``proc`` leads (started with a new session; call it
    only while ``proc`` has not been reaped, so the group id is still ours)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL the group. Returns the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
    return proc.returncode


def copy_database(src: Path, dest_dir: Path) -> None:
    """Copy a closed SQLite database (and a WAL, if one was left) into ``dest_dir``, with
    the master key beside it that sealed its secrets (``node.vault``; mode kept)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for f in (Path(f"{src}"), Path(f"{src}-wal"), src.parent / "master.key"):
        if f.exists():
            shutil.copy2(f, dest_dir / f.name)


# ECNET_BENCH_INSECURE=1: the nodes serve plaintext (--insecure) and the bench calls them
# so, for the figures beside mutual TLS; every other run is over mutual TLS.
INSECURE = os.environ.get("ECNET_BENCH_INSECURE") == "1"

# The bench measures what a node carries, which the rate limits of one channel or one
# terminal (node.ratelimit: 200 and 20 calls a second by default) would cap: its nodes
# raise every bucket out of reach. The buckets are still checked on every call, so their
# cost is in the figures. A variable set in the bench's environment wins.
RAISED_LIMITS = {
    f"ECNET_LIMITS_{kind}_{what}": "1000000000"
    for kind in ("CHANNEL", "TERMINAL", "OPERATOR")
    for what in ("PER_SECOND", "BURST")
} | {
    f"ECNET_LIMITS_{kind}_{what}": "1000000000"
    for kind in ("PASSWORD", "REALPERSON")
    for what in ("PER_MINUTE", "BURST")
}
TRANSPORT = "plaintext (--insecure)" if INSECURE else "mutual TLS"


class NodeProcess:
    """One ``python -m node`` child process and an aio channel to it (mutual TLS as the
    nation's operator; plaintext under ``ECNET_BENCH_INSECURE=1``)."""

    def __init__(
        self,
        name: str,
        role: str,
        data_dir: Path,
        *,
        province: str = "",
        national: str = "",
        nation: Path,
        log_calls: bool = False,
        heartbeat: float = 2.0,
        db: str = "",
    ) -> None:
        self.name = name
        # ``--db``: a PostgreSQL URL for the node's data (empty: SQLite in data_dir).
        self.db = db
        # The folder whose pki/ holds the CA (node.pki's layout): the node's certificate
        # and the operator's that this harness calls with are made there when missing.
        self.nation = nation
        self.role = role
        self.province = province
        self.national = national
        self.data_dir = data_dir
        self.log_calls = log_calls
        self.heartbeat = heartbeat
        self.port = 0
        self.address = ""
        # The node's HTTPS doors (node.doors), on a port of their own.
        self.https = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.aio.Channel | None = None
        self._signed: dict[str, grpc.aio.Channel] = {}

    @property
    def pki(self) -> Path:
        return CertificateAuthority.folder_of(self.nation)

    def credentials(self) -> grpc.ChannelCredentials | None:
        """This node's certificate made if missing; the operator's credentials (None:
        plaintext)."""
        if INSECURE:
            return None
        ca = CertificateAuthority.open(self.nation)
        identity = (
            Identity.national() if self.role == "national" else Identity.of_province(self.province)
        )
        ca.ensure(identity)
        key, cert = ca.ensure_operator("bench")
        return grpc.ssl_channel_credentials(
            ca.cert_path.read_bytes(), key.read_bytes(), cert.read_bytes()
        )

    def channel_as(
        self, identity: Identity
    ) -> tuple[grpc.aio.Channel, tuple[tuple[str, str], ...]]:
        """Another aio channel to the node, with the certificate of ``identity`` (made if
        missing), and the metadata of its calls: a test or the bench calling as a node
        or a terminal (plaintext: claiming it). The caller closes the channel."""
        if INSECURE:
            claim: tuple[tuple[str, str], ...] = ((INSECURE_CLAIM, identity.uri),)
            if identity.terminal_id:  # a plaintext node reads the terminal from metadata
                claim += (("ec-terminal-id", identity.terminal_id),)
            return grpc.aio.insecure_channel(self.address), claim
        ca = CertificateAuthority.open(self.nation)
        key, cert = ca.ensure(identity)
        credentials = grpc.ssl_channel_credentials(
            ca.cert_path.read_bytes(), key.read_bytes(), cert.read_bytes()
        )
        return grpc.aio.secure_channel(self.address, credentials), ()

    def signed(self, app_id: str = OFFICIAL_CHANNEL) -> grpc.aio.Channel:
        """An aio channel to the node whose every call is signed as the channel ``app_id``
        (node.domain.channelsig), with its key as seeding made it
        (``pki/channels/<APPID>.sign.key``). Closed with the node's own channel."""
        channel = self._signed.get(app_id)
        if channel is None:
            key = load_key(key_file(self.pki, app_id)).private_key
            signing = [AioSigningInterceptor(app_id, key)]
            credentials = self.credentials()
            channel = (
                grpc.aio.insecure_channel(self.address, interceptors=signing)
                if credentials is None
                else grpc.aio.secure_channel(self.address, credentials, interceptors=signing)
            )
            self._signed[app_id] = channel
        return channel

    def https_context(self, identity: Identity) -> ssl.SSLContext | None:
        """A client's TLS for the node's HTTPS doors as ``identity`` (its certificate made
        if missing); None on a plaintext node."""
        if INSECURE:
            return None
        ca = CertificateAuthority.open(self.nation)
        key, cert = ca.ensure(identity)
        ctx = ssl.create_default_context(cafile=str(ca.cert_path))
        ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def new_channel(self) -> grpc.aio.Channel:
        """A channel of its own (a new connection, and handshake, at its first call)."""
        credentials = self.credentials()
        if credentials is None:
            return grpc.aio.insecure_channel(self.address)
        return grpc.aio.secure_channel(self.address, credentials)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "node.log"

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "node",
            "--role",
            self.role,
            "--listen",
            self.address,
            "--data",
            str(self.data_dir),
            "--heartbeat",
            str(self.heartbeat),
            "--https",
            self.https,
        ]
        if self.role == "provincial":
            cmd += ["--province", self.province, "--national", self.national]
        cmd += ["--insecure"] if INSECURE else ["--pki", str(self.pki)]
        if self.db:
            cmd += ["--db", self.db]
        if not self.log_calls:
            cmd.append("--quiet")
        return cmd

    async def start(self, timeout: float = START_TIMEOUT) -> NodeProcess:
        """Spawn on a free port and wait for health SERVING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        credentials = self.credentials()
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.https = f"127.0.0.1:{free_port()}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                env={**RAISED_LIMITS, **os.environ},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._channel = (
            grpc.aio.insecure_channel(self.address)
            if credentials is None
            else grpc.aio.secure_channel(self.address, credentials)
        )
        await self._wait_serving(timeout)
        return self

    async def _wait_serving(self, timeout: float) -> None:
        assert self.proc is not None
        # grpc.health.v1.Health/Check through the typed Channel.unary_unary (grpc_health's
        # HealthStub sets its methods in __init__, so its type stubs declare none).
        health_check = self.channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"node {self.name} exited (code {self.proc.returncode}) before serving: "
                    f"{self.last_log_line()}"
                )
            with contextlib.suppress(grpc.RpcError):
                resp = await health_check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"node {self.name} not SERVING after {timeout:.0f}s (log: {self.log_path})"
                )
            await asyncio.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system, all threads) the node has used so far; None when
        unknown (no /proc, or the process is gone)."""
        if self.proc is None:
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        # The fields after the command name (which may hold spaces) start at state (3).
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no log"

    @property
    def channel(self) -> grpc.aio.Channel:
        """The aio channel to the node; only between :meth:`start` and :meth:`stop`."""
        if self._channel is None:
            raise RuntimeError(f"node {self.name} is not started")
        return self._channel

    @property
    def admin(self) -> AdminServiceAsyncStub:
        return admin_service_pb2_grpc.AdminServiceStub(self.channel)

    @property
    def federation(self) -> FederationServiceAsyncStub:
        return federation_service_pb2_grpc.FederationServiceStub(self.channel)

    async def stop(self) -> None:
        """Close the channel; stop the process (without blocking the event loop)."""
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()
            self._channel = None
        while self._signed:
            with contextlib.suppress(Exception):
                await self._signed.popitem()[1].close()
        if self.proc is not None:
            proc, self.proc = self.proc, None
            await asyncio.to_thread(stop_process, proc)

    def kill(self) -> None:
        """Last resort, synchronous: SIGKILL the node's process group."""
        if self.proc is not None and self.proc.poll() is None:
            kill_group(self.proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
