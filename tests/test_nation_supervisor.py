"""The foreground ``ecnet nation up`` (and ``make nation``) as a supervisor: however it is
ended (Ctrl-C, a closed terminal, SIGTERM) its nodes end with it, and it ends when its
nation is stopped from elsewhere."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.nationfile import pid_alive
from conftest import ROOT, reserved_ports

ECNET = [sys.executable, "-m", "cli.main"]
UP = ["nation", "up", "--population", "300", "--provinces", "11,44", "--heartbeat", "0.5"]


def ecnet(*args: str, data: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*ECNET, *args, "--data", str(data)], capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def start(command: list[str], tmp: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """``command`` in a session of its own (as a terminal's foreground job is a process group
    of its own), its output in files; returns once it says every node is healthy."""
    out, errf = tmp / "up.out", tmp / "up.err"
    with out.open("w") as o, errf.open("w") as e:
        proc = subprocess.Popen(
            command, stdout=o, stderr=e, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while "nodes healthy" not in out.read_text():
        assert proc.poll() is None, errf.read_text() + out.read_text()
        assert time.monotonic() < deadline, errf.read_text()
        time.sleep(0.1)
    return proc, out, errf


def node_pids(data: Path) -> dict[str, int]:
    raw = json.loads((data / "nation.json").read_text())
    return {name: e["pid"] for name, e in raw["nodes"].items()}


def command_of(how: str, data: Path, base: int) -> list[str]:
    args = [*UP, "--data", str(data), "--base-port", str(base)]
    if how.startswith("make"):
        return ["make", "-s", "-C", str(ROOT), "nation", f"ARGS={' '.join(args[2:])}"]
    return [*ECNET, *args]


@pytest.mark.parametrize(
    ("how", "sig", "whom"),
    [
        # A closed terminal: SIGHUP to its foreground process group.
        ("ecnet", signal.SIGHUP, "group"),
        ("make", signal.SIGHUP, "group"),
        # `kill PID` of the supervisor, or of make (make passes SIGTERM to its child).
        ("ecnet", signal.SIGTERM, "leader"),
        ("make", signal.SIGTERM, "leader"),
        # Ctrl-C, as before.
        ("ecnet", signal.SIGINT, "group"),
    ],
)
def test_every_node_ends_with_the_supervisor(how, sig, whom, tmp_path):
    data = tmp_path / "nation"
    with reserved_ports() as base:
        proc, _, errf = start(command_of(how, data, base), tmp_path)
        pids = node_pids(data)
        try:
            assert len(pids) == 3 and all(pid_alive(p) for p in pids.values())
            if whom == "group":
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
            proc.wait(timeout=60)
            deadline = time.monotonic() + 5
            while any(pid_alive(p) for p in pids.values()) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [n for n, p in pids.items() if pid_alive(p)], errf.read_text()
            assert all(pid is None for pid in node_pids(data).values())
            # and the next `nation up` starts
            ecnet("nation", "up", "--detach", "--base-port", str(base), data=data)
        finally:
            with_pids = [p for p in pids.values() if pid_alive(p)]
            ecnet("nation", "down", data=data, check=False)
            for pid in with_pids:  # orphans of a failed run
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_supervisor_ends_after_nation_down_elsewhere(tmp_path):
    data = tmp_path / "nation"
    with reserved_ports() as base:
        proc, out, errf = start(command_of("ecnet", data, base), tmp_path)
        try:
            ecnet("nation", "down", data=data)
            assert proc.wait(timeout=20) == 0, errf.read_text()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)
        said = [line for line in errf.read_text().splitlines() if "nation down" in line]
        assert len(said) == 1, errf.read_text()
        assert "Traceback" not in errf.read_text()
        # Up again, asking for another population: the registry is kept, and it says so.
        try:
            again = ecnet(
                "nation",
                "up",
                "--detach",
                "--population",
                "5000",
                "--base-port",
                str(base),
                data=data,
            )
        finally:
            ecnet("nation", "down", data=data, check=False)
    kept = [line for line in again.stderr.splitlines() if "already holds 300 persons" in line]
    assert len(kept) == 1 and "not --population 5,000" in kept[0], again.stderr


def test_supervisor_stops_its_nodes_when_the_nation_file_goes(tmp_path):
    data = tmp_path / "nation"
    with reserved_ports() as base:
        proc, out, errf = start(command_of("ecnet", data, base), tmp_path)
        pids = node_pids(data)
        try:
            (data / "nation.json").unlink()
            assert proc.wait(timeout=30) == 1, errf.read_text()
            assert not [n for n, p in pids.items() if pid_alive(p)]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)
            for pid in pids.values():
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        said = [line for line in errf.read_text().splitlines() if "nation.json" in line]
        assert len(said) == 1, errf.read_text()


def test_a_closed_terminal_stops_every_node(tmp_path):
    """On a real terminal: it hangs up (every write to it fails with EIO, and it is no
    longer a tty), then its shell passes SIGHUP to the foreground job."""
    data = tmp_path / "nation"
    master, slave = os.openpty()
    with reserved_ports() as base:
        proc = subprocess.Popen(
            command_of("ecnet", data, base),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        seen, deadline = b"", time.monotonic() + 120
        try:
            while b"Ctrl-C stops every node" not in seen:
                assert proc.poll() is None and time.monotonic() < deadline, seen.decode()
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    seen += os.read(master, 65536)
            pids = node_pids(data)
        finally:
            os.close(master)  # the terminal is gone
        try:
            os.killpg(proc.pid, signal.SIGHUP)
            proc.wait(timeout=60)
            deadline = time.monotonic() + 5
            while any(pid_alive(p) for p in pids.values()) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [n for n, p in pids.items() if pid_alive(p)]
            assert all(pid is None for pid in node_pids(data).values())
        finally:
            for pid in pids.values():
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
