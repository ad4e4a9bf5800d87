"""``ecnet-node`` as a person runs it: bad input gets one clear line and a non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from node.__main__ import EXIT_CONFIG, EXIT_REFUSED
from node.pki import CertificateAuthority, Identity, IdentityError


def with_pki(args: list[str]) -> list[str]:
    """``args`` and ``--pki`` of the tests' CA, with the certificate of the node they name
    (nothing added to a command with --insecure or --pki, or naming no valid node)."""
    if "--insecure" in args or "--pki" in args:
        return args
    pki = Path(os.environ["ECNET_CA"]).parent
    opts = dict(zip(args[::2], args[1::2], strict=False))
    try:
        identity = (
            Identity.national()
            if opts.get("--role") == "national"
            else Identity.of_province(opts.get("--province", ""))
        )
    except IdentityError:
        return [*args, "--pki", str(pki)]
    CertificateAuthority.open(pki.parent).ensure(identity)
    return [*args, "--pki", str(pki)]


def run_node(
    *args: str, timeout: float = 30, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "node", *with_pki(list(args))],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_one_line(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ecnet-node:")]
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--role", "regional"], "unknown role"),
        (
            ["--role", "provincial", "--province", "99", "--national", "127.0.0.1:1"],
            "not a province code",
        ),
        (
            ["--role", "provincial", "--province", "4A", "--national", "127.0.0.1:1"],
            "not a province code",
        ),
        (["--role", "provincial", "--province", "44"], "--national"),
        (["--role", "national", "--listen", "nowhere"], "HOST:PORT"),
    ],
)
def test_bad_arguments(args, fragment, tmp_path):
    assert_one_line(run_node(*args, "--data", str(tmp_path)), EXIT_CONFIG, fragment)


def test_port_in_use(tmp_path):
    """Checked before anything is written: no data folder, no migration, and one line
    of ours, not gRPC core's ``add_port.cc`` line."""
    data = tmp_path / "fresh"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run_node("--role", "national", "--listen", f"127.0.0.1:{port}", "--data", str(data))
    assert_one_line(proc, EXIT_CONFIG, f"cannot listen on 127.0.0.1:{port}: address in use")
    assert "add_port" not in proc.stderr and "migrated" not in proc.stderr, proc.stderr
    assert not data.exists()


@pytest.mark.parametrize(
    ("host", "fragment"),
    [
        ("192.0.2.1", "not an address of this machine"),  # TEST-NET-1: nobody's address
        ("nosuch.invalid", "unknown host"),
    ],
)
def test_bad_listen_address(host, fragment, tmp_path):
    data = tmp_path / "fresh"
    proc = run_node("--role", "national", "--listen", f"{host}:50000", "--data", str(data))
    assert_one_line(proc, EXIT_CONFIG, f"cannot listen on {host}:50000: {fragment}")
    assert "add_port" not in proc.stderr, proc.stderr
    assert not data.exists()


def test_unreadable_database(tmp_path):
    (tmp_path / "national.db").write_bytes(b"\x00garbage" * 100)
    proc = run_node("--role", "national", "--listen", "127.0.0.1:0", "--data", str(tmp_path))
    assert_one_line(proc, EXIT_CONFIG, "not an SQLite database")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("nonsense = [", "not valid TOML"),
        ("[default]\nyearly_cap = -1\n", "yearly_cap"),
    ],
)
def test_bad_settlement_policy(tmp_path, text, fragment):
    # Found before the node binds or registers (the national address is never dialled).
    policy = tmp_path / "policy.toml"
    policy.write_text(text)
    proc = run_node(
        "--role",
        "provincial",
        "--province",
        "44",
        "--national",
        "127.0.0.1:1",
        "--listen",
        "127.0.0.1:0",
        "--data",
        str(tmp_path),
        env={"ECNET_SETTLEMENT_POLICY": str(policy)},
    )
    assert_one_line(proc, EXIT_CONFIG, fragment)
    assert "settlement policy" in proc.stderr


def test_bad_delivery_setting(tmp_path):
    proc = run_node(
        "--role",
        "national",
        "--listen",
        "127.0.0.1:0",
        "--data",
        str(tmp_path),
        env={"ECNET_DELIVERY_OUTBOX_RETENTION": "forever"},
    )
    assert_one_line(proc, EXIT_CONFIG, "outbox_retention='forever'")


def test_bad_db_synchronous(tmp_path):
    proc = run_node(
        "--role",
        "national",
        "--listen",
        "127.0.0.1:0",
        "--data",
        str(tmp_path),
        env={"ECNET_DB_SYNCHRONOUS": "off"},
    )
    assert_one_line(proc, EXIT_CONFIG, "db_synchronous='off' is not one of normal, full")


@pytest.mark.parametrize(("extra", "expected"), [({}, 2), ({"db_synchronous": "normal"}, 1)])
async def test_the_writer_syncs_every_commit_unless_told_otherwise(cluster, extra, expected):
    # PRAGMA synchronous: 2 = FULL (a commit survives a power loss), 1 = NORMAL
    node = await cluster.start(cluster.config("national", extra=extra))

    def level(conn):
        return conn.execute("PRAGMA synchronous").fetchone()[0]

    assert await node.store.db.write(level) == expected
    # bookkeeping commits skip the sync, and the level is back for the next write
    assert await node.store.db.write_unsynced(level) == 1
    assert await node.store.db.write(level) == expected


async def test_second_national_for_the_same_data_folder(cluster):
    import asyncio

    national = await cluster.start_national()
    proc = await asyncio.to_thread(
        run_node,
        "--role",
        "national",
        "--listen",
        "127.0.0.1:0",
        "--data",
        str(national.config.data_dir),
    )
    assert_one_line(proc, EXIT_CONFIG, "in use by another node")


async def test_second_node_for_a_live_province(cluster, tmp_path):
    import asyncio

    national = await cluster.start_national()
    p44 = await cluster.start_province("44")
    proc = await asyncio.to_thread(
        run_node,
        "--role",
        "provincial",
        "--province",
        "44",
        "--listen",
        "127.0.0.1:0",
        "--national",
        national.address,
        "--data",
        str(tmp_path / "dup"),
    )
    assert_one_line(proc, EXIT_REFUSED, f"already served by a live node at {p44.address}")


@pytest.mark.parametrize("debug", [False, True])
def test_sigterm_stops_gracefully(tmp_path, debug, test_pki):
    import time

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "node",
            *with_pki(["--role", "national", "--listen", f"127.0.0.1:{port}"]),
            "--data",
            str(tmp_path),
            *(["--debug"] if debug else []),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with test_pki.sync_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 20
            while True:
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        break
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline, "node never became healthy"
                time.sleep(0.1)
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert '"msg": "stopped"' in stderr and "Traceback" not in stderr
    # The health checks above: at debug, in the log only with --debug.
    checks = [line for line in stderr.splitlines() if "Health/Check" in line]
    assert bool(checks) == debug and all('"level": "debug"' in line for line in checks)


async def test_port_taken_after_the_check(tmp_path, monkeypatch, capfd):
    """A port taken between the check and gRPC's bind (a race): still one line of ours,
    with the reason, and gRPC core's own line held back."""
    import node.app
    from node.app import Node, NodeStartError
    from node.config import NodeConfig

    monkeypatch.setattr(node.app, "check_listen", lambda listen: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        config = NodeConfig(
            role="national", listen=f"127.0.0.1:{port}", data_dir=tmp_path, insecure=True
        )
        with pytest.raises(NodeStartError) as failed:
            await Node(config).start()
    assert str(failed.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "add_port" not in capfd.readouterr().err
