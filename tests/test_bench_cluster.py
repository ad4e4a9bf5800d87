"""The cluster bench (make bench-cluster): a tiny run completes, national on SQLite, on
PostgreSQL, and as two replicas on one PostgreSQL database, and writes its figures. No
timing here: speed is measured by the bench, never asserted."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pgkit
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgresql
def test_a_tiny_cluster_run_writes_its_figures(tmp_path):
    try:
        pgkit.server()  # the bench starts a server of its own: skip where none can start
    except pgkit.Unavailable as exc:
        pytest.skip(f"PostgreSQL: the embedded server cannot start here: {exc}")
    out = tmp_path / "cluster.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cluster",
            "--population",
            "1000",
            "--rounds",
            "1",
            "--seconds",
            "0.3",
            "--warmup",
            "0.1",
            "--concurrency",
            "4",
            "--json",
            str(out),
        ],  # fmt: skip
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("ECNET_")},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    figures = json.loads(out.read_text())
    assert figures["failures"] == []
    assert [(c["label"], c["backend"], c["national_processes"]) for c in figures["configs"]] == [
        ("sqlite", "sqlite", 1),
        ("postgresql ×1", "postgresql", 1),
        ("postgresql ×2", "postgresql", 2),
    ]
    # every national process of each nation ran to the end (its CPU read as it stopped)
    cpu = [c["national_cpu_seconds"] for c in figures["configs"]]
    assert [len(c) for c in cpu] == [1, 1, 2]
    noop, *rows = figures["scenarios"]
    assert noop["baseline"] and len(rows) == 6
    assert all(r["round_count"] == 1 and r["errors"] == 0 for r in rows)
    assert [c["flow"].split(" ")[0] for c in figures["comparisons"]] == ["routed", "remote"]
    for c in figures["comparisons"]:
        assert set(c["configs"]) == {"sqlite", "postgresql ×1", "postgresql ×2"}
        for f in c["configs"].values():
            assert f["calls_per_second"] > 0 and 0 < f["p50_ms"] <= f["p99_ms"]
            assert f["ratio_to_noop"] > 0 and f["errors"] == 0
        two, one = c["configs"]["postgresql ×2"], c["configs"]["postgresql ×1"]
        assert c["two_over_one"] == pytest.approx(two["ratio_to_noop"] / one["ratio_to_noop"])
        assert c["two_over_one_paired"] == pytest.approx(
            statistics.median(c["two_over_one_rounds"])
        )
    assert "two replicas ÷ one" in done.stdout
