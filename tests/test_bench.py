"""The benchmark harness works; no timing thresholds (benchmarks are never assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.load import run_load
from ecnet.v1 import admin_service_pb2 as admin_pb

ROOT = Path(__file__).resolve().parent.parent


async def test_load_generator_against_a_node(cluster):
    node = await cluster.start_national(log_calls=False)
    admin = cluster.stubs(node).admin
    req = admin_pb.PingRequest()

    result = await run_load(
        lambda: admin.Ping(req, timeout=5), concurrency=4, seconds=0.3, warmup=0.05
    )

    assert result.calls > 0
    assert result.errors == 0
    assert result.first_error == ""
    assert result.throughput > 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.concurrency == 4


async def test_load_generator_counts_errors_without_raising():
    async def failing() -> None:
        raise RuntimeError("boom")

    result = await run_load(failing, concurrency=2, seconds=0.05, warmup=0.0)

    assert result.errors == result.calls > 0
    assert result.throughput == 0
    assert "boom" in result.first_error


def test_bench_help_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout
