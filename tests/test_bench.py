"""The benchmark harness works; no timing thresholds (benchmarks are never assertions)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import LoadResult, run_load
from bench.machine import OthersMeter
from bench.rounds import (
    Measurement,
    Round,
    median_se,
    pair,
    plan,
    summarize,
    summarize_noop,
)
from ecnet.v1 import admin_service_pb2 as admin_pb

ROOT = Path(__file__).resolve().parent.parent


async def test_load_generator_against_a_node(cluster):
    # the operator's rate limit off, as make bench raises it (bench.nodes.RAISED_LIMITS)
    node = await cluster.start_national(log_calls=False, extra={"limits_operator_per_second": "0"})
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


# -- rounds: the order of measurements, the pairing, median and spread -------------------
def _result(throughput: float, p50: float = 1.0, p99: float = 2.0, errors: int = 0) -> LoadResult:
    return LoadResult(
        calls=int(throughput) + errors,
        errors=errors,
        seconds=1.0,
        throughput=throughput,
        p50_ms=p50,
        p99_ms=p99,
        concurrency=16,
        first_error="boom" if errors else "",
    )


def test_plan_puts_every_scenario_round_between_two_noops():
    steps = plan(3, 4)

    assert len(steps) == 2 * 3 * 4 + 1
    assert steps[0] is None and steps[-1] is None
    for k, step in enumerate(steps):
        if step is not None:
            assert steps[k - 1] is None and steps[k + 1] is None
    # passes over the scenarios: each pass measures each scenario once, in order
    scenarios = [s for s in steps if s is not None]
    assert scenarios == [0, 1, 2] * 4
    assert plan(0, 3) == [None]


def test_pair_divides_each_round_by_the_mean_of_its_two_noops():
    steps = plan(2, 2)  # N A N B N A N B N
    tput = [1000, 300, 1200, 50, 800, 330, 1000, 45, 1000]
    others = [0.0, 0.1, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, None]
    rounds = pair(steps, [Measurement(_result(t), o) for t, o in zip(tput, others, strict=True)])

    a, b = rounds[0], rounds[1]
    assert [(r.noop_before, r.noop_after) for r in a] == [(1000, 1200), (800, 1000)]
    assert [(r.noop_before, r.noop_after) for r in b] == [(1200, 800), (1000, 1000)]
    assert a[0].ratio == pytest.approx(300 / 1100)
    assert a[1].ratio == pytest.approx(330 / 900)
    assert b[0].ratio == pytest.approx(50 / 1000)
    assert b[1].ratio == pytest.approx(45 / 1000)
    # a round is as disturbed as the most disturbed of its three measurements
    assert [r.others for r in a] == [0.1, 0.5]
    assert [r.others for r in b] == [0.5, None]


def test_median_se_on_given_numbers():
    # median 1.0, absolute deviations 0, 0.1, 0.1, 0.2, 0.2 -> MAD 0.1
    se = median_se([1.0, 0.9, 1.1, 0.8, 1.2])
    assert se == pytest.approx(1.2533 * 1.4826 * 0.1 / 5**0.5)
    assert median_se([1.0, 1.0]) == float("inf")  # too few to say
    assert median_se([0.0, 0.0, 0.0]) == float("inf")


def test_pair_refuses_a_scenario_not_between_two_noops():
    with pytest.raises(ValueError, match="not between two no-ops"):
        pair([None, 0, 1, None], [Measurement(_result(1))] * 4)
    with pytest.raises(ValueError, match="4 results for 3 steps"):
        pair([None, 0, None], [Measurement(_result(1))] * 4)


def test_summary_is_the_median_of_the_rounds_with_their_min_and_max():
    rounds = [
        Round(_result(450, p50=2.0, p99=9.0), 1000, 1000, others=0.3),  # 0.45
        Round(_result(360, p50=3.0, p99=7.0, errors=2), 900, 900, others=0.0),  # 0.40
        Round(_result(600, p50=1.0, p99=8.0), 1100, 1300, others=0.1),  # 0.50
    ]

    s = summarize(rounds)

    assert s.rounds == 3
    assert s.ratio == pytest.approx(0.45)
    assert (s.ratio_min, s.ratio_max) == (pytest.approx(0.40), pytest.approx(0.50))
    assert s.spread_pct == pytest.approx(100 * 0.10 / 0.45)
    assert s.throughput == 450  # median calls/s, not the mean
    assert (s.p50_ms, s.p99_ms) == (2.0, 8.0)  # medians of the rounds' p50 and p99
    assert s.errors == 2 and s.first_error == "boom"
    assert s.calls == 450 + 362 + 600
    assert s.others == 0.1


def test_summary_of_an_even_number_of_rounds_takes_the_mean_of_the_middle_two():
    rounds = [Round(_result(t), 1000, 1000) for t in (100, 400, 300, 200)]
    assert summarize(rounds).ratio == pytest.approx(0.25)


def test_the_noop_row_shows_its_drift_over_the_run():
    s = summarize_noop([Measurement(_result(t)) for t in (1800, 2000, 3200, 2200, 2000)])

    assert s.ratio == 1.0
    assert s.throughput == 2000
    assert (s.ratio_min, s.ratio_max) == (pytest.approx(0.9), pytest.approx(1.6))


def test_a_tiny_run_writes_every_round_with_its_noops(tmp_path):
    out = tmp_path / "last.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "GetNodeInfo",
            "--seconds",
            "0.2",
            "--warmup",
            "0.05",
            "--rounds",
            "3",
            "--population",
            "200",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    figures = json.loads(out.read_text())
    assert figures["header"]["params"]["rounds"] == 3
    noop, row = figures["scenarios"]
    assert noop["baseline"] and noop["ratio"] == 1.0
    assert row["name"].startswith("GetNodeInfo") and row["round_count"] == 3
    noops = [m["throughput"] for m in noop["measurements"]]
    rounds = row["rounds"]
    assert len(noops) == len(rounds) + 1  # no-op, GetNodeInfo, no-op, GetNodeInfo, …, no-op
    assert [(r["noop_before"], r["noop_after"]) for r in rounds] == list(
        zip(noops, noops[1:], strict=False)
    )
    for r in rounds:
        assert r["others_cpu"] is None or r["others_cpu"] >= 0
        assert r["ratio"] == pytest.approx(
            r["throughput"] / ((r["noop_before"] + r["noop_after"]) / 2)
        )
    ratios = sorted(r["ratio"] for r in rounds)
    assert row["ratio"] == pytest.approx(statistics.median(ratios))
    assert (row["ratio_min"], row["ratio_max"]) == (ratios[0], ratios[-1])
    assert "ratio to no-op" in done.stdout and "min–max" in done.stdout


def test_others_meter_subtracts_what_the_bench_used_itself():
    used = iter([10.0, 10.0 + 1e6])  # "ours" grew far more than the whole machine did

    meter = OthersMeter(lambda: next(used))
    meter.start()
    others = meter.stop()

    assert others is None or others == 0.0  # never negative; None without /proc/stat
    assert OthersMeter(lambda: None).stop() is None  # not started


def test_the_nation_start_up_figure_starts_a_nation(tmp_path):
    """bench's `nation up` timing seeds the registry beforehand with the master key nation
    up then gives national: with another key, national refuses to start (it did)."""
    from bench.nation import time_nation_up

    result = time_nation_up(tmp_path / "nation", 200, all_=False)
    assert result.nodes == 5 and result.seconds > 0
