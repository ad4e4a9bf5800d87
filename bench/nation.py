"""Start-up of a simulated nation: ``ecnet nation up --detach`` until it returns.

The registry is seeded beforehand (``cli.seed.seed_national`` into the folder the CLI
uses), so the timed run keeps it and measures spawning the nodes and waiting for each
to be healthy (national first, then the provinces, which register with it). Seeding
is reported on its own. ``ecnet nation down`` always follows, also after a failure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.env import SEED
from bench.nodes import free_base_port, kill_group
from cli.nation import parse_provinces, plan_nation
from cli.seed import seed_national

__all__ = ["StartupResult", "time_nation_up", "ecnet_executable"]

UP_TIMEOUT = 300.0
DOWN_TIMEOUT = 120.0


@dataclass(frozen=True)
class StartupResult:
    label: str
    nodes: int
    population: int
    seconds: float  # invoking `ecnet nation up --detach` until it returned
    seed_seconds: float  # seeding the registry beforehand (not in `seconds`)
    down_seconds: float
    base_port: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ecnet_executable() -> Path:
    return Path(sys.executable).parent / "ecnet"


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own session; on a timeout or Ctrl-C kill its process group."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:  # TimeoutExpired, KeyboardInterrupt
        kill_group(proc)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(
        cmd, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    )


def time_nation_up(data_dir: Path, population: int, all_: bool) -> StartupResult:
    provinces = parse_provinces(None, all_)
    base = free_base_port()
    t0 = time.perf_counter()
    # with the master key nation up gives national (DIR/pki/nodes/national.master)
    national = plan_nation(data_dir, provinces, base).national
    seed_national(
        Path(national.data) / "national.db",
        population,
        SEED,
        provinces,
        master_key=national.master_key,
    )
    seed_seconds = time.perf_counter() - t0

    ecnet = str(ecnet_executable())
    cmd = [
        ecnet,
        "nation",
        "up",
        "--detach",
        "--population",
        str(population),
        "--data",
        str(data_dir),
        "--base-port",
        str(base),
    ]
    if all_:
        cmd.append("--all")
    down_seconds = 0.0
    try:
        t0 = time.perf_counter()
        up = _run(cmd, UP_TIMEOUT)
        seconds = time.perf_counter() - t0
        if up.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(cmd[1:])}` failed ({up.returncode}): {_tail(up.stderr or up.stdout)}"
            )
    finally:
        if (data_dir / "nation.json").exists():
            t0 = time.perf_counter()
            down = _run([ecnet, "nation", "down", "--data", str(data_dir)], DOWN_TIMEOUT)
            down_seconds = time.perf_counter() - t0
            if down.returncode != 0:
                print(f"bench: `ecnet nation down` failed: {_tail(down.stderr)}", file=sys.stderr)
    return StartupResult(
        label=f"nation up, national + {len(provinces)} provinces",
        nodes=1 + len(provinces),
        population=population,
        seconds=seconds,
        seed_seconds=seed_seconds,
        down_seconds=down_seconds,
        base_port=base,
    )


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "no output"
