"""Running a simulated nation on one machine: ``ecnet nation up|status|down|stop|start``.

The nodes are ordinary ``ecnet-node`` processes (``python -m node``), each with its own
data folder and log file under the nation's data folder; ``nation.json`` there records
where each one listens and its pid.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import TypedDict

from cli.nationfile import NationFile, NodeEntry, pid_alive
from cli.rpc import CliError, NodeHandle, health_of, terminals_folder
from ecnet.v1 import admin_service_pb2 as admin_pb
from node.domain.regions import PROVINCES, is_province, province_name
from node.pki import CertificateAuthority, Identity, PkiError

__all__ = [
    "ensure_pki",
    "parse_provinces",
    "plan_nation",
    "spawn",
    "wait_healthy",
    "stop_entry",
    "collect_status",
    "NodeStatus",
    "DEFAULT_PROVINCES",
    "Stop",
    "stop_on_signals",
    "leave_terminal",
]

DEFAULT_PROVINCES = ["11", "31", "44", "51"]
START_TIMEOUT = 60.0


def parse_provinces(spec: str | None, all_: bool) -> list[str]:
    if all_:
        return sorted(PROVINCES)
    codes = [c.strip() for c in (spec or ",".join(DEFAULT_PROVINCES)).split(",") if c.strip()]
    bad = [c for c in codes if not is_province(c)]
    if bad:
        raise CliError(
            f"not a province code of GB/T 2260: {', '.join(bad)} "
            "(11 Beijing ... 65 Xinjiang, 66 the Production and Construction Corps)",
            -2,
        )
    if not codes:
        raise CliError("no provinces given", -2)
    return sorted(set(codes))


# The HTTPS doors of node N listen at its gRPC port + HTTPS_OFFSET (national base+1000,
# province NN base+1000+NN).
HTTPS_OFFSET = 1000


# National's other replicas (nation up --national N) listen at base + REPLICA_OFFSET + K
# (K = 2..N), past every province's port.
REPLICA_OFFSET = 90
MAX_NATIONALS = 9


def plan_nation(
    data_dir: Path, provinces: list[str], base_port: int, nationals: int = 1
) -> NationFile:
    if not 1 <= base_port <= 65535 - HTTPS_OFFSET - 66:
        raise CliError(
            f"--base-port {base_port} leaves no room for the nodes' ports (P+NN for gRPC, "
            f"P+{HTTPS_OFFSET}+NN for HTTPS)",
            -2,
        )
    nation = NationFile(data_dir=data_dir, base_port=base_port)
    https = base_port + HTTPS_OFFSET
    entries = [
        NodeEntry(
            "national", "national", "", f"127.0.0.1:{base_port}", "", "", https=f"127.0.0.1:{https}"
        )
    ]
    if not 1 <= nationals <= MAX_NATIONALS:
        raise CliError(f"--national {nationals}: give 1 to {MAX_NATIONALS} national processes", -2)
    entries += [
        NodeEntry(
            f"national-{k}",
            "national",
            "",
            f"127.0.0.1:{base_port + REPLICA_OFFSET + k}",
            "",
            "",
            https=f"127.0.0.1:{https + REPLICA_OFFSET + k}",
        )
        for k in range(2, nationals + 1)
    ]
    entries += [
        NodeEntry(
            f"p{p}",
            "provincial",
            p,
            f"127.0.0.1:{base_port + int(p)}",
            "",
            "",
            https=f"127.0.0.1:{https + int(p)}",
        )
        for p in provinces
    ]
    for e in entries:
        folder = data_dir / e.name
        e.data = str(folder)
        e.log = str(folder / "node.log")
        nation.nodes[e.name] = e
    return nation


def spawn(nation: NationFile, entry: NodeEntry, heartbeat: float = 2.0) -> subprocess.Popen[bytes]:
    """Start ``entry``'s node over mutual TLS with the nation's certificates (plaintext
    when the nation is ``--insecure``)."""
    pki = None if nation.insecure else nation.pki
    Path(entry.data).mkdir(mode=0o700, parents=True, exist_ok=True)
    # The log names callers and outcomes: the node's own, like its data (mode 0600).
    with os.fdopen(os.open(entry.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        proc = subprocess.Popen(
            entry.command(sys.executable, nation.national_target, heartbeat, pki),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Ctrl-C in the terminal reaches the CLI, which stops them in order
            start_new_session=True,
            # the node's database is its entry's (--db), never one $ECNET_DB names for
            # a node of another kind: every node of the nation would open that one
            env={k: v for k, v in os.environ.items() if k != "ECNET_DB"},
        )
    entry.pid = proc.pid
    return proc


class Stop(KeyboardInterrupt):
    """SIGHUP or SIGTERM reached the supervisor: stop the nation as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the supervisor runs, SIGHUP (its terminal closed: the signal reaches the whole
    foreground job, make and ecnet, never the nodes, which run in sessions of their own)
    and SIGTERM (``kill``, or make passing its own on) raise :class:`Stop` where Ctrl-C
    raises KeyboardInterrupt, so the same code stops every node. The first one only: a
    second must not cut the stopping short. After SIGHUP the terminal is gone, so what
    would be printed to it goes to /dev/null rather than failing with EIO."""

    def handler(signum: int, frame: FrameType | None) -> None:
        for sig in (signal.SIGHUP, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if signum == signal.SIGHUP:
            leave_terminal()
        raise Stop(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


def leave_terminal() -> None:
    """Standard streams on a terminal (a character device: once hung up, isatty() no longer
    says so) to /dev/null; files and pipes keep what is written."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                if stat.S_ISCHR(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
    finally:
        os.close(null)


def _last_error(entry: NodeEntry) -> str:
    """The one-line reason a node printed before it exited."""
    try:
        lines = Path(entry.log).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        if line.startswith("ecnet-node:"):
            return line.removeprefix("ecnet-node:").strip()
    return lines[-1] if lines else "no log"


def port_free(address: str) -> bool:
    """Whether a node could listen at ``address``. SO_REUSEADDR, as gRPC's own listener
    has: connections of a node just stopped (TIME_WAIT) do not make the port busy,
    a program listening there does."""
    host, _, port = address.rpartition(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError:
            return False
    return True


def check_ports_free(entries: list[NodeEntry]) -> None:
    addresses = [a for e in entries for a in (e.address, e.https) if a]
    busy = [a for a in addresses if not port_free(a)]
    if busy:
        raise CliError(
            f"port{'s' if len(busy) > 1 else ''} in use: {', '.join(busy)} "
            "(another nation or program is listening there; choose another --base-port)"
        )


def _is_spawned(entry: NodeEntry, data: Path) -> bool:
    """Is the node answering at entry.address the process we started (not a stranger)?"""
    try:
        with NodeHandle(entry.address, data) as h:
            info = h.call(h.admin.GetNodeInfo, admin_pb.GetNodeInfoRequest(), timeout=2)
    except CliError:
        return False
    if info.pid != entry.pid:
        raise CliError(
            f"{entry.address} is answered by another process (pid {info.pid}), not by {entry.name}"
        )
    return True


def wait_healthy(
    data: Path,
    entries: list[NodeEntry],
    procs: dict[str, subprocess.Popen[bytes]],
    timeout: float = START_TIMEOUT,
) -> None:
    """Until every node reports SERVING; a node that exits raises with its reason."""
    deadline = time.monotonic() + timeout
    pending = {e.name: e for e in entries}
    while pending:
        for name, entry in list(pending.items()):
            proc = procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise CliError(f"{name} exited (code {proc.returncode}): {_last_error(entry)}")
            if health_of(entry.address, data, timeout=0.5) == "SERVING" and _is_spawned(
                entry, data
            ):
                del pending[name]
        if pending and time.monotonic() > deadline:
            raise CliError(
                f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))} "
                "(see their node.log)",
                -3,
            )
        if pending:
            time.sleep(0.1)


def stop_entry(entry: NodeEntry, timeout: float = 15.0) -> bool:
    """SIGTERM, wait for a graceful exit, SIGKILL as a last resort. True if it was running."""
    if not pid_alive(entry.pid):
        entry.pid = None
        return False
    assert entry.pid is not None
    os.kill(entry.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(entry.pid) and time.monotonic() < deadline:
        _reap(entry.pid)
        time.sleep(0.05)
    if pid_alive(entry.pid):
        os.kill(entry.pid, signal.SIGKILL)
    _reap(entry.pid)
    entry.pid = None
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class NodeStatus(TypedDict):
    """One node of ``ecnet nation status`` (its ``--json`` prints these as they are)."""

    node: str
    role: str
    province: str
    provinceName: str
    address: str
    pid: int | None
    health: str
    # From national's directory (admin NodeEntry): the node's state ("" when national
    # does not list it), events waiting for it and set aside, the last one it applied.
    directory: str
    pendingEvents: int
    parkedEvents: int
    appliedPosition: int
    counts: dict[str, int]
    # The node's own view of its registration with national (GetNodeInfo.registration):
    # "registered", "registering", "refused: <reason>"; "" at national or when down.
    registration: str
    # GetNodeInfo.transport: "mutual TLS", or "INSECURE plaintext"; "" when down.
    transport: str
    # GetNodeInfo.certNotAfter: when the node's certificate expires, ISO 8601 UTC
    # ("2027-12-01T10:33:45+00:00"); "" when down or --insecure.
    certNotAfter: str
    # HOST:PORT of the node's HTTPS doors; "" when it has none.
    https: str
    # The node's PostgreSQL database (nation up --db), its URL without a password; ""
    # when its data is its SQLite file.
    database: str


def _redact(url: str) -> str:
    from node.storage.postgres import redact  # psycopg only for a nation on PostgreSQL

    return redact(url)


def collect_status(nation: NationFile) -> list[NodeStatus]:
    """One row per node: role, province, address, pid, health, directory state, counts."""
    directory: dict[str, admin_pb.NodeEntry] = {}
    rows: list[NodeStatus] = []
    national = nation.national
    data = nation.data_dir
    if health_of(national.address, data) != "DOWN":
        try:
            with NodeHandle(national.address, data) as h:
                for n in h.call(h.admin.ListNodes, admin_pb.ListNodesRequest(), timeout=3).nodes:
                    directory[n.province] = n
        except CliError:
            pass
    for entry in nation.nodes.values():
        health = health_of(entry.address, data) if pid_alive(entry.pid) else "DOWN"
        counts: dict[str, int] = {}
        registration = transport = not_after = ""
        if health != "DOWN":
            try:
                with NodeHandle(entry.address, data) as h:
                    info = h.call(h.admin.GetNodeInfo, admin_pb.GetNodeInfoRequest(), timeout=3)
                    counts, registration = dict(info.counts), info.registration
                    transport = info.transport
                    if info.HasField("certNotAfter"):
                        not_after = info.certNotAfter.ToDatetime(dt.UTC).isoformat()
            except CliError:
                pass
        d = directory.get(entry.province)
        rows.append(
            {
                "node": entry.name,
                "role": entry.role,
                "province": entry.province,
                "provinceName": province_name(entry.province) if entry.province else "",
                "address": entry.address,
                "https": entry.https,
                "database": _redact(entry.db) if entry.db else "",
                "pid": entry.pid if pid_alive(entry.pid) else None,
                "health": health,
                "directory": admin_pb.NodeState.Name(d.state).removeprefix("NODE_STATE_").lower()
                if d
                else "",
                "pendingEvents": d.pendingEvents if d else 0,
                "parkedEvents": d.parkedEvents if d else 0,
                "appliedPosition": d.appliedPosition if d else 0,
                "counts": counts,
                "registration": registration,
                "transport": transport,
                "certNotAfter": not_after,
            }
        )
    return rows


def ensure_pki(nation: NationFile, terminals: Iterable[tuple[str, str]] = ()) -> list[str]:
    """The nation's certificates in ``DIR/pki``: the national CA, a key and certificate
    for every node of the nation (``pki/nodes/<node>.{crt,key}``), the operator's
    (``pki/operator.{crt,key}``) and each registered terminal's (``terminals``: (orgId,
    number) pairs; ``pki/terminals/<number>.{crt,key}``); what exists is kept (a nation
    started again keeps its CA). The names of what was made now."""
    made: list[str] = []
    try:
        if (CertificateAuthority.folder_of(nation.data_dir) / "ca.key").exists():
            ca = CertificateAuthority.open(nation.data_dir)
        else:  # the first start of this nation
            ca = CertificateAuthority.create(nation.data_dir)
            made.append("ca")
    except PkiError as exc:
        raise CliError(f"the nation's CA: {exc}", -2) from None
    for entry in nation.nodes.values():
        identity = (
            Identity.national()
            if entry.role == "national"
            else Identity.of_province(entry.province)
        )
        if not (ca.nodes / f"{identity.stem}.crt").exists():
            ca.ensure(identity)
            made.append(identity.stem)
    if not (ca.folder / "operator.crt").exists():
        ca.ensure_operator()
        made.append("operator")
    folder = terminals_folder(nation.data_dir)
    issued = 0
    for org_id, terminal_id in terminals:
        if not (folder / f"{terminal_id}.crt").exists():
            ca.ensure(
                Identity.terminal(org_id, terminal_id), hosts=(), folder=folder, stem=terminal_id
            )
            issued += 1
    if issued:
        made.append(f"{issued} terminals")
    return made
