"""Real nodes, in-process, on ports of their own, driven through gRPC."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pgkit
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecnet.v1 import admin_service_pb2_grpc, federation_service_pb2_grpc
from node.app import Node
from node.clock import Clock
from node.config import NodeConfig
from node.pki import CertificateAuthority, Identity, Role, identity_of, read_certificate
from node.tls import TlsFiles, peer_options

ROOT = Path(__file__).resolve().parent.parent

# -- ports ------------------------------------------------------------------------------------
# Tests run in parallel (pytest-xdist workers), and other test sessions may run on the same
# machine. A node that must keep its address (restarted, killed and started again, or a
# nation whose provinces listen on BASE+NN) cannot use port 0: the port it had may go to
# someone else meanwhile. So such ports come from blocks below the kernel's ephemeral range
# (32768-60999 on Linux), from which port 0 and outgoing connections draw, and each block is
# held through a lock file while in use: no other worker or session takes it. (gRPC servers
# bind with SO_REUSEPORT: two of them on one port would both start and share the traffic.)
PORT_RANGE = (12000, 20000)
BLOCK = 100
_LOCKS = Path(tempfile.gettempdir()) / "ecnet-test-ports"
_random = random.Random()  # its own, so that a test seeding ``random`` changes nothing here


def _bindable(port: int) -> bool:
    """Nothing listens on ``port`` (connections of a node stopped before, left in TIME_WAIT,
    do not count: a gRPC server binds with SO_REUSEADDR too)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortBlock:
    """``BLOCK`` consecutive ports from ``base``, free when taken, this process's until
    ``release``."""

    def __init__(self, base: int, *locks: int) -> None:
        self.base, self._locks, self._next = base, locks, base

    def take(self) -> int | None:
        """A port of the block not handed out before (None when the block is used up)."""
        if self._next >= self.base + BLOCK:
            return None
        self._next += 1
        return self._next - 1

    def release(self) -> None:
        for lock in self._locks:
            os.close(lock)


# nation up's HTTPS doors listen at the gRPC port + 1000 (cli.nation.HTTPS_OFFSET)
HTTPS_OFFSET = 1000


def _lock(base: int) -> int | None:
    lock = os.open(_LOCKS / f"{base}.lock", os.O_CREAT | os.O_RDONLY, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return None
    if all(_bindable(port) for port in range(base, base + BLOCK)):
        return lock
    os.close(lock)
    return None


def reserve_block(paired: bool = False) -> PortBlock:
    """A block of ports; ``paired``: with the block ``HTTPS_OFFSET`` above it held too
    (for a nation whose doors listen there)."""
    _LOCKS.mkdir(exist_ok=True)
    top = PORT_RANGE[1] - (HTTPS_OFFSET if paired else 0)
    bases = list(range(PORT_RANGE[0], top, BLOCK))
    _random.shuffle(bases)
    for base in bases:
        lock = _lock(base)
        if lock is None:
            continue
        if not paired:
            return PortBlock(base, lock)
        upper = _lock(base + HTTPS_OFFSET)
        if upper is not None:
            return PortBlock(base, lock, upper)
        os.close(lock)
    raise RuntimeError(f"no free block of {BLOCK} ports in {PORT_RANGE}")


@contextlib.contextmanager
def reserved_ports() -> Iterator[int]:
    """A base port P with P..P+99 and P+1000..P+1099 free and this test's alone (for
    ``ecnet nation up --base-port P``, which puts province NN on P+NN and its HTTPS doors
    on P+1000+NN)."""
    block = reserve_block(paired=True)
    try:
        yield block.base
    finally:
        block.release()


_blocks: list[PortBlock] = []


def free_port() -> int:
    """A port no other test of any session is given, held until this process ends (for the
    few nodes outside a ``Cluster``: each call takes another port)."""
    port = _blocks[-1].take() if _blocks else None
    if port is None:
        _blocks.append(reserve_block())
        port = _blocks[-1].take()
    return port


# -- hermetic runs ----------------------------------------------------------------------------


def pytest_configure(config) -> None:
    # Node settings fall back on ECNET_* variables; a developer's shell must not steer tests.
    for name in [n for n in os.environ if n.startswith("ECNET_")]:
        del os.environ[name]
    config.addinivalue_line("markers", "backends: run on SQLite and on PostgreSQL")
    config.addinivalue_line("markers", "postgresql: the PostgreSQL run of a backends test")


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Each test runs in its own tmp_path: what it, or a program it starts, writes under a
    relative name (qr.png, items.json, ./nation) lands there, not in the repository nor in
    another worker's way. Tests name the repository's files through ``ROOT``."""
    monkeypatch.chdir(tmp_path)


def _untracked() -> set[str] | None:
    """Files in the work tree that git neither tracks nor ignores (None outside git)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return set(out.stdout.split("\0")) - {""} if out.returncode == 0 else None


def pytest_sessionstart(session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        session.config._untracked_before = _untracked()


def pytest_sessionfinish(session, exitstatus) -> None:
    # Tests write into tmp_path only: anything new in the repository is a test's leftover.
    before = getattr(session.config, "_untracked_before", None)
    after = _untracked() if before is not None else None
    if after and after - before:
        new = ", ".join(sorted(after - before))
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep("=", f"tests left files in the repository: {new}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- the tests' national CA -------------------------------------------------------------------


class TestPki:
    """A national CA for a test session (each xdist worker has its own) and the
    certificates of every identity a test asks for, issued once. A test that revokes
    makes a CA of its own (``TestPki(tmp_path)``): this one is shared."""

    __test__ = False  # not a test class

    def __init__(self, root: Path) -> None:
        self.root = root  # a nation folder: root/pki holds the CA
        self.ca = CertificateAuthority.create(root)
        self.folder = self.ca.folder
        # Terminals' certificates, as in a nation (pki/terminals/T.{crt,key}); the CLI
        # finds them through ECNET_TERMINALS.
        self.terminals = self.folder / "terminals"
        self._issued: dict[str, TlsFiles] = {}

    def files(self, who: str | Identity) -> TlsFiles:
        """The files of ``who``: ``national``, ``p44``, ``operator`` (an operator named
        tester) or an Identity."""
        identity = who if isinstance(who, Identity) else _identity(who)
        key = identity.uri
        if key not in self._issued:
            if who == "operator":  # where nation up puts the operator's
                key_path, cert_path = self.ca.ensure_operator("tester")
            elif identity.role is Role.TERMINAL:  # where the CLI finds a terminal's
                stem = identity.terminal_id
                taken = self.terminals / f"{stem}.crt"
                if taken.exists() and identity_of(read_certificate(taken)) != identity:
                    stem = f"{identity.org_id}-{stem}"  # a test's forged twin of a number
                key_path, cert_path = self.ca.ensure(
                    identity, hosts=(), folder=self.terminals, stem=stem
                )
            else:
                key_path, cert_path = self.ca.ensure(identity)
            self._issued[key] = TlsFiles(self.ca.cert_path, cert_path, key_path, self.ca.crl_path)
        return self._issued[key]

    def terminal(self, terminal_id: str, org_id: str) -> str:
        """The identity (URI, for ``cluster.stubs(node, as_=…)``) of the terminal
        ``terminal_id`` of institution ``org_id``, its certificate issued by this CA
        (what ``ecnet terminals register`` gives a registered terminal)."""
        identity = Identity.terminal(org_id, terminal_id)
        self.files(identity)
        return identity.uri

    def node_settings(self, name: str) -> dict:
        """NodeConfig's ca, cert, key and crl for the node ``name``."""
        f = self.files(name)
        return {"ca": f.ca, "cert": f.cert, "key": f.key, "crl": f.crl}

    def credentials(self, who: str | Identity = "operator") -> grpc.ChannelCredentials:
        f = self.files(who)
        return grpc.ssl_channel_credentials(
            f.ca.read_bytes(), f.key.read_bytes(), f.cert.read_bytes()
        )

    def channel(self, address: str, who: str | Identity = "operator", peer: str = ""):
        """An aio channel to ``address`` as ``who`` (checking the server is ``peer`` when
        given)."""
        options = peer_options(_identity(peer)) if peer else []
        return grpc.aio.secure_channel(address, self.credentials(who), options=options)

    def sync_channel(self, address: str, who: str | Identity = "operator") -> grpc.Channel:
        return grpc.secure_channel(address, self.credentials(who))

    def ssl_context(self, who: str | Identity | None = "operator") -> ssl.SSLContext:
        """A client's TLS for the HTTPS doors: the CA, and ``who``'s certificate (None:
        no client certificate, as a channel calls)."""
        ctx = ssl.create_default_context(cafile=str(self.ca.cert_path))
        if who is not None:
            f = self.files(who)
            ctx.load_cert_chain(str(f.cert), str(f.key))
        return ctx

    def https(self, node, who: str | Identity | None = "operator") -> httpx.AsyncClient:
        """An HTTP client of ``node``'s doors (``https://127.0.0.1:PORT``) as ``who``."""
        return httpx.AsyncClient(
            base_url=f"https://{node.https_address}", verify=self.ssl_context(who), timeout=30
        )


def _identity(name: str) -> Identity:
    if name == "national":
        return Identity.national()
    if name == "operator":
        return Identity.operator("tester")
    if name.startswith("p") and name[1:].isdigit():
        return Identity.of_province(name[1:])
    return Identity.parse(name)


@pytest.fixture(scope="session", autouse=True)
def test_pki(tmp_path_factory) -> Iterator[TestPki]:
    """The session's CA. The ``ecnet`` commands and grpcurl that tests run call as its
    operator (``ECNET_CA``, ``ECNET_CERT``, ``ECNET_KEY``) unless their nation folder has
    certificates of its own, and sign as the seeded channels with the session's keys
    (``ECNET_CHANNEL_KEYS``)."""
    pki = TestPki(tmp_path_factory.mktemp("pki"))
    operator = pki.files("operator")
    names = ("ECNET_CA", "ECNET_CERT", "ECNET_KEY", "ECNET_TERMINALS", "ECNET_CHANNEL_KEYS")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update(
        ECNET_CA=str(operator.ca),
        ECNET_CERT=str(operator.cert),
        ECNET_KEY=str(operator.key),
        ECNET_TERMINALS=str(pki.terminals),
        # the seeded channels' signing keys (node.domain.channelsig.key_file), made by the
        # first seeding of the session and used by every test and ecnet command
        ECNET_CHANNEL_KEYS=str(pki.root / "channel-keys"),
    )
    yield pki
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class Stubs:
    """Stubs to one node over an aio channel, as ``who`` (a name of
    :meth:`TestPki.files`), optionally with caller metadata."""

    def __init__(
        self, address: str, metadata: tuple = (), pki: TestPki | None = None, who: str = "operator"
    ) -> None:
        if pki is None:
            self.channel = grpc.aio.insecure_channel(address)
        else:
            self.channel = pki.channel(address, who)
        self.metadata = metadata
        self.admin = admin_service_pb2_grpc.AdminServiceStub(self.channel)
        self.federation = federation_service_pb2_grpc.FederationServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def health_status(self, service: str = "") -> int:
        resp = await self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        return resp.status


class Cluster:
    """A national node and any number of provinces, each with its own data folder, and
    on PostgreSQL (``pg``, the ``backend`` fixture) each with a database of its own."""

    def __init__(self, root: Path, pki: TestPki, pg: pgkit.PgServer | None = None) -> None:
        self.root = root
        self.pki = pki
        self.pg = pg
        self._urls: dict[str, str] = {}
        self.nodes: list[Node] = []
        self.channels: list[Stubs] = []
        self.national: Node | None = None
        self._ports: PortBlock | None = None

    def port(self) -> int:
        """A port of this test's own block, not handed out before."""
        if self._ports is None:
            self._ports = reserve_block()
        port = self._ports.take()
        if port is None:
            raise RuntimeError(f"a test of more than {BLOCK} ports")
        return port

    def db_url(self, name: str, data_dir: Path | None = None) -> str | None:
        """On PostgreSQL, the URL of the database of node ``name`` whose data folder is
        ``data_dir`` (default: the cluster's folder for it): made on first use, the same
        for the node's restarts on that folder, another for another folder (as its SQLite
        file would be). None on SQLite."""
        if self.pg is None:
            return None
        key = str(data_dir or self.root / name)
        if key not in self._urls:
            role = "national" if name == "national" else "provincial"
            self._urls[key] = self.pg.database(name, role)
        return self._urls[key]

    def config(self, role: str, province: str = "", listen: str | None = None, **kw) -> NodeConfig:
        """A node's settings; it listens on a port of the test's block (so that it can be
        restarted on the same address) unless ``listen`` says otherwise."""
        name = "national" if role == "national" else f"p{province}"
        tls = {} if kw.get("insecure") else self.pki.node_settings(name)
        for field in ("ca", "cert", "key", "crl"):
            if field in kw:
                tls[field] = kw.pop(field)
        return NodeConfig(
            **tls,
            role=role,
            province=province,
            listen=listen or f"127.0.0.1:{self.port()}",
            national=self.national.address
            if self.national and role == "provincial"
            else kw.pop("national", ""),
            data_dir=(data_dir := kw.pop("data_dir", self.root / name)),
            heartbeat_interval=kw.pop("heartbeat_interval", 0.2),
            grace=0.5,
            db=kw.pop("db", None) or self.db_url(name, data_dir) or "",
            **kw,
        )

    async def start(self, config: NodeConfig, clock: Clock | None = None) -> Node:
        node = Node(config, clock=clock)
        await node.start()
        self.nodes.append(node)
        if config.role == "national":
            self.national = node
        return node

    async def start_national(self, clock: Clock | None = None, **kw) -> Node:
        return await self.start(self.config("national", **kw), clock)

    async def start_province(self, province: str, **kw) -> Node:
        return await self.start(self.config("provincial", province, **kw))

    def stubs(self, node: Node, metadata: tuple = (), as_: str = "operator") -> Stubs:
        """Stubs to ``node`` as ``as_`` (``operator``, ``national``, ``p44``; its
        certificate) with ``metadata`` on every call made through ``s.metadata``."""
        s = Stubs(node.address, metadata, None if node.config.insecure else self.pki, as_)
        self.channels.append(s)
        return s

    async def close(self) -> None:
        try:
            for s in self.channels:
                await s.channel.close()
            # Provinces before national, as an operator would.
            for node in sorted(self.nodes, key=lambda n: n.config.role == "national"):
                await node.stop(grace=0)
        finally:
            if self._ports is not None:
                self._ports.release()
            if self.pg is not None:
                for url in self._urls.values():
                    self.pg.drop(url)


# -- backends ---------------------------------------------------------------------------------
# Tests marked ``@pytest.mark.backends`` (or a module's ``pytestmark``) run on both storage
# backends, ``[sqlite]`` and ``[postgresql]``: their ``cluster`` starts every node on a
# database of its own on a throwaway PostgreSQL server (tests/pgkit.py). Every other test
# runs on SQLite only, as before. ``-m "not postgresql"`` leaves the PostgreSQL runs out;
# ``--all-backends`` runs every test with a ``cluster`` on both.
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--all-backends",
        action="store_true",
        help="run every test that starts nodes on PostgreSQL too, not only the backends ones "
        "(some test SQLite's own files and fail there)",
    )


def pytest_generate_tests(metafunc) -> None:
    if "backend" in metafunc.fixturenames and (
        metafunc.definition.get_closest_marker("backends")
        or metafunc.config.getoption("all_backends")
    ):
        metafunc.parametrize(
            "backend",
            [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgresql)],
            indirect=True,
        )


def pg_server() -> pgkit.PgServer:
    """This worker's PostgreSQL server, or the test skipped saying why none can start."""
    try:
        return pgkit.server()
    except pgkit.Unavailable as exc:
        pytest.skip(f"PostgreSQL: the embedded server cannot start here: {exc}")


@pytest.fixture
def pg() -> pgkit.PgServer:
    """This worker's PostgreSQL server (:func:`pg_server`)."""
    return pg_server()


@pytest.fixture
def backend(request) -> str:
    """``sqlite`` (every test) or ``postgresql`` (the second run of a ``backends`` test),
    skipped with the reason when the embedded server cannot start here."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql":
        pg_server()
    return name


@pytest.fixture
async def cluster(tmp_path, test_pki, backend):
    c = Cluster(tmp_path, test_pki, pgkit.server() if backend == "postgresql" else None)
    try:
        yield c
    finally:
        await c.close()


# -- order ------------------------------------------------------------------------------------
# The modules whose tests run programs (the CLI, nations of node processes): minutes of the
# suite's CPU and its longest tests. Started first, they do not leave one worker busy with a
# long test at the end while the others are idle.
SLOW_FIRST = (
    "test_settle_cli.py",
    "test_cli_nation.py",
    "test_scan_trans.py",
    "test_qr_cli.py",
    "test_channel_status.py",
    "test_voucher_cli.py",
    "test_imports.py",
    "test_node_program.py",
    "test_settlement_kill.py",
    "test_national_cluster.py",
    "test_settlement_durability.py",
    "test_netns.py",
    "test_backup.py",
    "test_scale.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
