"""A nation across a real network: each node in a Linux network namespace of its own,
the links between provinces and national through delaying TCP relays that a test can
cut and restore (docs/netns.md).

The pieces:

* :class:`DelayRelay`: accepts TCP connections on one address, connects each onward to
  a target, and forwards every chunk read in either direction after a delay (20–40 ms
  between a province and national), order kept. ``cut()`` drops the connections it
  carries and refuses new ones (the listening socket is closed: a connection attempt is
  refused); ``stall()`` is the silent partition instead (a cable pulled): connections
  stay open, new ones are accepted, and not a byte crosses until ``restore()``, when
  what was held goes on in order, as TCP retransmits after a short partition.
  ``restore()`` ends either: after a cut it listens again on the same address. Pure
  asyncio: it runs in the test's own event loop, and on loopback too (its own tests
  need no root).
* :class:`Netns`: the namespaces of one test. Each node gets a namespace
  (``ecnet-<pid>-<n>-<node>``) joined to the test's own namespace (the *hub*, where the
  relays run) by a veth pair, on a /30 of its own inside a /24 of the benchmarking
  range 198.18.0.0/15 held for the test (a lock file per /24, so parallel workers and
  sessions never share one). A namespace has its loopback, its /30 and no default
  route: a node reaches the hub's end of its own link and nothing else, so a province
  reaches national only through its relay, and national a province only through the
  province's relay. Namespaces of a harness process that died are swept at the next
  start (their processes ended, the namespace deleted).
* :class:`NsNode`: ``ecnet-node`` (``python -m node``) started with ``ip netns exec``
  in a namespace, listening on the namespace's address, with ``--advertise`` naming
  the relay national dials it through.

The test process itself, in the hub, calls every node directly on its namespace's
address (the terminals, channels and operators of a province are local to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.nodes import RAISED_LIMITS, START_TIMEOUT, NodeProcess
from node.storage.pgserver import process_alive

__all__ = ["NODE_PORT", "DelayRelay", "Netns", "NsHost", "NsNode", "sweep_stale", "unavailable"]

# The node's gRPC port inside its namespace: every namespace has a network stack of its
# own, so the same port serves in each and collides with nothing outside.
NODE_PORT = 50000
_PREFIX = "ecnet-"
_LOCKS = Path(tempfile.gettempdir()) / "ecnet-netns"
_NET = "198.18"  # RFC 2544's range for network tests: no real network uses it


# -- the relay ----------------------------------------------------------------------------


class DelayRelay:
    """A TCP relay from ``host:port`` (0: any free port) to ``target`` that holds each
    chunk ``delay_s`` (plus up to ``jitter_s`` drawn from ``rng``) before writing it on,
    in each direction, never reordering (a chunk is due no earlier than the one before).
    """

    def __init__(
        self,
        name: str,
        host: str,
        target: tuple[str, int],
        delay_s: float,
        *,
        jitter_s: float = 0.0,
        rng: random.Random | None = None,
        port: int = 0,
    ) -> None:
        self.name, self.host, self.port, self.target = name, host, port, target
        self.delay_s, self.jitter_s = delay_s, jitter_s
        self.rng = rng or random.Random(0)
        self.accepted = 0  # connections carried
        self.refused = 0  # connections dropped at once (the target did not answer)
        self.bytes_forwarded = [0, 0]  # client → target, target → client
        self._server: asyncio.Server | None = None
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._server is None

    @property
    def is_stalled(self) -> bool:
        return not self._flowing.is_set()

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._open)

    async def start(self) -> DelayRelay:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Drop every connection (both ends reset) and refuse new ones."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for pair in list(self._open):
            for writer in pair:
                writer.transport.abort()
        self._open.clear()
        self._flowing.set()  # a stalled pump goes on, to find its connection gone
        if server is not None:
            await server.wait_closed()
        # the pumps of the dropped connections end on their own (their reads fail)
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stall(self) -> None:
        """Hold every byte, in both directions, on every connection (new ones too)."""
        self._flowing.clear()

    async def restore(self) -> None:
        """After a cut, listen again on the same address; after a stall, let what was
        held go on, in order."""
        self._flowing.set()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()

    def _delay(self) -> float:
        return self.delay_s + (self.rng.uniform(0, self.jitter_s) if self.jitter_s else 0.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                onward_r, onward_w = await asyncio.wait_for(
                    asyncio.open_connection(*self.target), 5
                )
            except (OSError, TimeoutError):
                self.refused += 1
                writer.transport.abort()
                return
            if self._server is None:  # cut while connecting
                onward_w.transport.abort()
                writer.transport.abort()
                return
            self.accepted += 1
            pair = (writer, onward_w)
            self._open.add(pair)
            try:
                await asyncio.gather(
                    self._pump(reader, onward_w, 0),
                    self._pump(onward_r, writer, 1),
                    return_exceptions=True,
                )
            finally:
                self._open.discard(pair)
                writer.transport.abort()
                onward_w.transport.abort()
        finally:
            self._tasks.discard(task)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: int
    ) -> None:
        """Read ``src`` into a queue stamped with due times; write each chunk to ``dst``
        when due. End of stream is passed on (a half-close); a reset resets ``dst``."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def read() -> None:
            last = 0.0
            while True:
                try:
                    data: bytes | None = await src.read(65536)
                except OSError:
                    data = None  # reset: reset the other side as well
                last = max(last, loop.time() + self._delay())
                queue.put_nowait((last, data))
                if not data:
                    return

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await queue.get()
                await self._flowing.wait()  # a stall holds it here
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if dst.is_closing():
                    return
                if data is None:
                    dst.transport.abort()
                    return
                if not data:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                dst.write(data)
                self.bytes_forwarded[direction] += len(data)
                await dst.drain()
        except OSError:
            dst.transport.abort()
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


# -- namespaces ---------------------------------------------------------------------------


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can): not root, no iproute2, or
    the kernel refuses a namespace, a program in it, or a veth pair."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); run as root, as CI does"
    if shutil.which("ip") is None:
        return "iproute2 is not installed (apt-get install -y iproute2; .ci/run does)"
    probe = f"{_PREFIX}{os.getpid()}-probe"
    veth = f"epr{os.getpid() % 10**7}"
    try:
        _ip("netns", "add", probe)
        _ip("netns", "exec", probe, sys.executable, "-c", "")  # a program runs in one
        _ip("link", "add", veth, "type", "veth", "peer", "name", veth + "x")
        _ip("link", "del", veth)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"network namespaces or veth pairs are not available here: {exc}"
    finally:
        _ip("link", "del", veth, check=False)
        _ip("netns", "del", probe, check=False)
    return None


def sweep_stale() -> list[str]:
    """Delete the namespaces of harness processes that are gone (killed before their
    clean-up), ending the nodes still running in them. Returns their names."""
    swept = []
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        m = re.fullmatch(rf"{_PREFIX}(\d+)-.*", name)
        if not m or process_alive(int(m.group(1))):
            continue
        for pid in _ip("netns", "pids", name, check=False).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        _ip("netns", "del", name, check=False)
        swept.append(name)
    return swept


@dataclass(frozen=True)
class NsHost:
    """A node's namespace: its name, its address there and the hub's end of its link."""

    netns: str
    address: str
    hub: str
    link: str = ""  # the hub's end of the veth pair, in the test's namespace


class Netns:
    """The namespaces of one test (see the module docstring); :meth:`close` deletes
    them, whatever happened before."""

    _count = 0

    def __init__(self) -> None:
        Netns._count += 1
        self.tag = f"{os.getpid()}-{Netns._count}"
        self.hosts: dict[str, NsHost] = {}
        self._lock: int | None = None
        self.subnet = -1

    def __enter__(self) -> Netns:
        sweep_stale()
        self.subnet = self._hold_subnet()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _hold_subnet(self) -> int:
        """A /24 of 198.18.0.0/15 that no other harness holds and no interface uses."""
        _LOCKS.mkdir(exist_ok=True)
        used = _ip("-o", "-4", "addr", "show")
        third = list(range(256))
        random.Random().shuffle(third)
        for x in third:
            if f" {_NET}.{x}." in used:
                continue
            lock = os.open(_LOCKS / f"{x}.lock", os.O_CREAT | os.O_RDONLY, 0o666)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)
                continue
            self._lock = lock
            return x
        raise RuntimeError(f"no free /24 in {_NET}.0.0/16 for the namespaces")

    def add(self, node: str) -> NsHost:
        """A namespace for ``node`` (a short name: ``national``, ``p44``), linked to the hub."""
        k = len(self.hosts)
        if k >= 64:
            raise RuntimeError("at most 64 namespaces per test (/30s of one /24)")
        netns = f"{_PREFIX}{self.tag}-{node}"
        hub_end = f"e{self.tag.replace('-', 'x')}h{k}"[:15]
        ns_end = f"e{self.tag.replace('-', 'x')}n{k}"[:15]
        hub_ip, ns_ip = f"{_NET}.{self.subnet}.{4 * k + 1}", f"{_NET}.{self.subnet}.{4 * k + 2}"
        _ip("netns", "add", netns)
        self.hosts[node] = host = NsHost(netns, ns_ip, hub_ip, hub_end)
        _ip("link", "add", hub_end, "type", "veth", "peer", "name", ns_end)
        _ip("link", "set", ns_end, "netns", netns)
        _ip("addr", "add", f"{hub_ip}/30", "dev", hub_end)
        _ip("link", "set", hub_end, "up")
        _ip("-n", netns, "addr", "add", f"{ns_ip}/30", "dev", ns_end)
        _ip("-n", netns, "link", "set", ns_end, "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            # the nodes were stopped before; anything left in it ends with it
            for pid in _ip("netns", "pids", host.netns, check=False).split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            # Both ends of the pair go now: a namespace's own devices are destroyed by the
            # kernel's clean-up later, so the hub's end would outlive the test for a while.
            if host.link:
                _ip("link", "del", host.link, check=False)
            _ip("netns", "del", host.netns, check=False)
        self.hosts.clear()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


# -- nodes in namespaces ------------------------------------------------------------------


class NsNode(NodeProcess):
    """``python -m node`` in namespace ``host``, on ``host.address:NODE_PORT``, with the
    environment ``env`` added (settings, ``ECNET_*``), and ``--advertise`` when given
    (where national dials a province: its relay)."""

    def __init__(
        self,
        name: str,
        role: str,
        data_dir: Path,
        *,
        host: NsHost,
        advertise: str = "",
        env: dict[str, str] | None = None,
        **kw: object,
    ) -> None:
        super().__init__(name, role, data_dir, **kw)  # type: ignore[arg-type]
        self.host = host
        self.advertise = advertise
        self.env = dict(env or {})

    def command(self) -> list[str]:
        cmd = ["ip", "netns", "exec", self.host.netns, *super().command()]
        return cmd + (["--advertise", self.advertise] if self.advertise else [])

    async def start(self, timeout: float = START_TIMEOUT) -> NsNode:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        credentials = self.credentials()
        self.port = NODE_PORT
        self.address = f"{self.host.address}:{NODE_PORT}"
        self.https = ""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                env={**RAISED_LIMITS, **os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        assert credentials is not None, "the harness runs over mutual TLS"
        self._channel = grpc.aio.secure_channel(self.address, credentials)
        try:
            await self._wait_serving(timeout)
        except BaseException:
            await self.stop()
            raise
        return self
