"""Rounds: the order of the measurements, each scenario round with its no-ops, and the
median and spread over rounds. Pure functions over numbers (tested on given numbers).

A run measures the no-op (:data:`bench.scenarios.BASELINE`) between every two scenario
measurements, in ``rounds`` passes over the scenarios::

    no-op, A, no-op, B, no-op, C, no-op, A, no-op, B, no-op, C, no-op, ...

A *round* of scenario A is one measurement of A and the no-op measured just before and
just after it (each no-op is shared by the two rounds it separates). The round's ratio
is A's calls/s over the mean of those two no-ops' calls/s. Each measurement also carries
the CPU other processes took meanwhile (:mod:`bench.machine`), in cores; a round's is
the most any of its three measurements saw.

Every scenario gets the same number of rounds, in every run: each call leaves state
behind (vouchers that GetNodeInfo counts, settlements, used codes), so a run that gave
one scenario more rounds than another run did would measure the later ones on a
different database. :func:`median_se` estimates how well the median is known from the
rounds' own spread; it is reported, not used to decide anything.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.load import LoadResult

__all__ = [
    "plan",
    "pair",
    "median_se",
    "Measurement",
    "Round",
    "Summary",
    "summarize",
    "summarize_noop",
]


def plan(scenarios: int, rounds: int) -> list[int | None]:
    """The order of the measurements: ``None`` for a no-op, ``i`` for scenario ``i``.

    ``rounds`` passes over the scenarios, a no-op before the first and after each one.
    """
    if scenarios < 0 or rounds < 1:
        raise ValueError("scenarios must be at least 0 and rounds at least 1")
    steps: list[int | None] = [None]
    for _ in range(rounds if scenarios else 0):
        for i in range(scenarios):
            steps += [i, None]
    return steps


def median_se(values: Sequence[float]) -> float:
    """The standard error of the median of ``values``, relative to it: 1.2533 × σ / √n,
    σ estimated robustly from the median absolute deviation (× 1.4826). Infinite below
    3 values or for a zero median."""
    if len(values) < 3:
        return math.inf
    mid = statistics.median(values)
    if mid == 0:
        return math.inf
    mad = statistics.median(abs(v - mid) for v in values)
    return 1.2533 * 1.4826 * mad / math.sqrt(len(values)) / abs(mid)


@dataclass(frozen=True)
class Measurement:
    result: LoadResult
    others: float | None = None  # cores other processes used meanwhile; None: unknown

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "others_cpu": self.others}


def _most(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else max(values)  # type: ignore[type-var]


@dataclass(frozen=True)
class Round:
    result: LoadResult  # the scenario's measurement
    noop_before: float  # calls/s of the no-op measured just before it
    noop_after: float  # and just after it
    others: float | None = None  # the most of the three measurements' others

    @property
    def noop(self) -> float:
        """The no-op's calls/s for this round: the mean of the two around it."""
        return (self.noop_before + self.noop_after) / 2

    @property
    def ratio(self) -> float:
        return self.result.throughput / self.noop if self.noop > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "noop_before": self.noop_before,
            "noop_after": self.noop_after,
            "others_cpu": self.others,
            **self.result.to_dict(),
        }


def pair(steps: Sequence[int | None], results: Sequence[Measurement]) -> dict[int, list[Round]]:
    """Each scenario's rounds, in the order measured, from a :func:`plan` and its
    measurements (one per step)."""
    if len(steps) != len(results):
        raise ValueError(f"{len(results)} results for {len(steps)} steps")
    rounds: dict[int, list[Round]] = {}
    for k, step in enumerate(steps):
        if step is None:
            continue
        if k == 0 or k == len(steps) - 1 or steps[k - 1] is not None or steps[k + 1] is not None:
            raise ValueError(f"step {k} (scenario {step}) is not between two no-ops")
        before, mid, after = results[k - 1], results[k], results[k + 1]
        rounds.setdefault(step, []).append(
            Round(
                mid.result,
                before.result.throughput,
                after.result.throughput,
                _most([before.others, mid.others, after.others]),
            )
        )
    return rounds


@dataclass(frozen=True)
class Summary:
    rounds: int
    ratio: float  # median of the rounds' ratios
    ratio_min: float
    ratio_max: float
    throughput: float  # median of the rounds' calls/s
    p50_ms: float  # median of the rounds' p50
    p99_ms: float  # median of the rounds' p99
    calls: int  # over every round
    errors: int
    first_error: str = ""
    others: float | None = None  # median over rounds of the cores other processes used
    se: float = math.inf  # estimated standard error of the median ratio, relative to it

    @property
    def spread_pct(self) -> float:
        """(max − min) of the rounds' ratios, in % of their median."""
        return 100 * (self.ratio_max - self.ratio_min) / self.ratio if self.ratio else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "round_count": self.rounds,
            "ratio": self.ratio,
            "ratio_min": self.ratio_min,
            "ratio_max": self.ratio_max,
            "spread_pct": self.spread_pct,
            "throughput": self.throughput,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "calls": self.calls,
            "errors": self.errors,
            "first_error": self.first_error,
            "others_cpu": self.others,
            "median_se": self.se if math.isfinite(self.se) else None,
        }


def _summary(
    results: Sequence[LoadResult], ratios: Sequence[float], others: Sequence[float | None]
) -> Summary:
    return Summary(
        rounds=len(results),
        ratio=statistics.median(ratios),
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        throughput=statistics.median(r.throughput for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        calls=sum(r.calls for r in results),
        errors=sum(r.errors for r in results),
        first_error=next((r.first_error for r in results if r.first_error), ""),
        others=None if any(o is None for o in others) else statistics.median(others),  # type: ignore[type-var]
        se=median_se(ratios),
    )


def summarize(rounds: Sequence[Round]) -> Summary:
    """Median ratio, its min–max, and the medians of calls/s, p50 and p99."""
    if not rounds:
        raise ValueError("no rounds to summarize")
    return _summary(
        [r.result for r in rounds], [r.ratio for r in rounds], [r.others for r in rounds]
    )


def summarize_noop(measurements: Sequence[Measurement]) -> Summary:
    """The no-op's own row: ratio 1 by definition; its min–max is each measurement's
    calls/s over their median, the drift of the machine that the rounds take out."""
    if not measurements:
        raise ValueError("no no-op measurements to summarize")
    results = [m.result for m in measurements]
    mid = statistics.median(r.throughput for r in results)
    drift = [r.throughput / mid if mid else 0.0 for r in results]
    summary = _summary(results, drift, [m.others for m in measurements])
    return dataclasses.replace(summary, ratio=1.0)
