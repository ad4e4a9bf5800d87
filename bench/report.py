"""The report: a rich table on stdout and the same figures as JSON in ``.bench/last.json``."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from bench.env import Params
from bench.nation import StartupResult
from bench.nodes import TRANSPORT
from bench.rounds import Measurement, Round, Summary, summarize, summarize_noop
from bench.seeding import SeedResult

__all__ = ["Row", "Report", "header", "loadavg", "render", "write_json", "DEFAULT_JSON"]

# Median cores taken by other processes above which a run is called busy.
BUSY = 0.1

DEFAULT_JSON = Path(__file__).resolve().parent.parent / ".bench" / "last.json"


@dataclass
class Row:
    """A scenario's rounds (:mod:`bench.rounds`), or the no-op's own measurements."""

    name: str
    rounds: list[Round] = field(default_factory=list)
    failure: str = ""  # the setup failed: no measurement
    baseline: bool = False
    noops: list[Measurement] = field(default_factory=list)  # the baseline row's

    @property
    def summary(self) -> Summary | None:
        if self.baseline:
            return summarize_noop(self.noops) if self.noops else None
        return summarize(self.rounds) if self.rounds else None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "baseline": self.baseline}
        summary = self.summary
        if summary is not None:
            d.update(summary.to_dict())
        if self.baseline:
            # Every no-op measurement, in order: the drift the rounds take out.
            d["measurements"] = [r.to_dict() for r in self.noops]
        else:
            d["rounds"] = [r.to_dict() for r in self.rounds]
        if self.failure:
            d["failure"] = self.failure
        return d


@dataclass
class Report:
    header: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    startups: list[StartupResult] = field(default_factory=list)
    seeding: SeedResult | None = None
    failures: list[str] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    loadavg_at_end: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        baseline = next((r for r in self.rows if r.baseline and r.noops), None)
        return {
            "header": self.header,
            "elapsed_seconds": self.elapsed_seconds,
            "loadavg_at_end": self.loadavg_at_end,
            "baseline": baseline.to_dict() if baseline else None,
            "scenarios": [r.to_dict() for r in self.rows],
            "startup": [s.to_dict() for s in self.startups],
            "seeding": self.seeding.to_dict() if self.seeding else None,
            "figures": self.figures,
            "pairs": {what: round(ratio, 4) for what, ratio in pair_ratios(self)},
            "failures": self.failures,
        }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def header(params: Params) -> dict[str, Any]:
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "grpcio": grpc.__version__,
        "transport": TRANSPORT,
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": loadavg(),
        "params": asdict(params),
    }


def _table(report: Report) -> Table:
    p = report.header["params"]
    table = Table(
        title=f"ecnet bench: {p['rounds']} rounds per scenario, each between two no-ops;"
        f" {p['concurrency']} calls in flight, {p['seconds']:g} s (no-op: half) after "
        f"{p['warmup']:g} s warm-up; population {p['population']:,}; "
        f"{report.header.get('transport', 'mutual TLS')}",
        title_justify="left",
    )
    table.add_column("scenario")
    for col in (
        "rounds",
        "calls/s",
        "ratio to no-op",
        "min–max",
        "p50 ms",
        "p99 ms",
        "others' cpu",
        "errors",
    ):
        table.add_column(col, justify="right")
    for row in report.rows:
        s = row.summary
        if s is None:
            table.add_row(row.name, "-", "-", "-", "-", "-", "-", "-", "[red]setup failed[/red]")
            continue
        errors = f"[red]{s.errors:,}[/red]" if s.errors else "0"
        name = f"[bold]{row.name}[/bold]" if row.baseline else row.name
        table.add_row(
            name,
            str(s.rounds),
            f"{s.throughput:,.0f}" if s.throughput >= 100 else f"{s.throughput:,.1f}",
            _ratio(s.ratio),
            f"{_ratio(s.ratio_min)}–{_ratio(s.ratio_max)}",
            f"{s.p50_ms:.2f}",
            f"{s.p99_ms:.2f}",
            "-" if s.others is None else f"{s.others:.2f}",
            errors,
        )
    return table


def _ratio(x: float) -> str:
    """Three significant digits at most, two decimals at least (0.0104, 0.38, 1.07)."""
    return f"{x:.2f}" if x >= 0.1 else f"{x:.3g}"


def _notes(report: Report) -> list[str]:
    base = next((r for r in report.rows if r.baseline and r.noops), None)
    if base is None:
        return []
    rps = [m.result.throughput for m in base.noops]
    notes = [
        "ratio to no-op: the median over rounds of (scenario calls/s ÷ mean calls/s of the "
        "no-ops just before and after it); min–max over the rounds. calls/s, p50, p99: "
        "medians over rounds. others' cpu: cores that other processes used during a round "
        "(the median over rounds).",
        f"no-op during the run: {len(rps)} measurements, {min(rps):,.0f}–{max(rps):,.0f} calls/s "
        f"(its min–max column: each over their median).",
    ]
    others = [m.others for m in base.noops if m.others is not None]
    if others:
        mid = statistics.median(others)
        notes.append(
            f"other processes used {mid:.2f} of {report.header['cpu_count']} cores "
            f"(median over the measurements; at most {max(others):.2f})"
            + (
                ": a busy machine, compare these ratios only with a run as busy."
                if mid > BUSY
                else "."
            )
        )
    return notes


# Scenario pairs whose ratio is a figure of its own: (numerator, denominator, what it
# says), each named by the start of its scenario's name.
PAIRS = (
    (
        "local ec.query over HTTPS",
        "local ec.query (Trans",
        "local ec.query over HTTPS ÷ over gRPC, the terminal door against gRPC for the same "
        "transaction (aim: at least 0.7)",
    ),
)


def pair_ratios(report: Report) -> list[tuple[str, float]]:
    """(sentence, ratio) of each pair of :data:`PAIRS` measured in this run."""
    found = []
    for top, bottom, what in PAIRS:
        a = next((r.summary for r in report.rows if r.name.startswith(top)), None)
        b = next((r.summary for r in report.rows if r.name.startswith(bottom)), None)
        if a is not None and b is not None and b.ratio > 0:
            found.append((what, a.ratio / b.ratio))
    return found


def render(report: Report, console: Console) -> None:
    if report.rows:
        console.print(_table(report))
        for note in _notes(report):
            console.print(note, highlight=False)
        for what, ratio in pair_ratios(report):
            console.print(f"{what}: {ratio:.2f}", highlight=False)
        for row in report.rows:
            summary = row.summary
            if summary is not None and summary.first_error:
                console.print(f"  {row.name}: first error: {summary.first_error}", highlight=False)
    for name, figure in report.figures.items():
        console.print(f"{name}: {figure['text']}", highlight=False)
    for up in report.startups:
        console.print(
            f"{up.label}: {up.seconds:.2f} s to healthy ({up.nodes} nodes, "
            f"registry of {up.population:,} seeded beforehand in {up.seed_seconds:.2f} s; "
            f"nation down {up.down_seconds:.2f} s)",
            highlight=False,
        )
    if report.seeding is not None:
        seeded = report.seeding
        console.print(
            f"seeding: {seeded.persons:,} persons in {seeded.seconds:.2f} s = "
            f"{seeded.persons_per_second:,.0f} persons/s (≈ {seeded.seconds_per_million:,.1f} s "
            f"per 1,000,000; whole call {seeded.total_seconds:.2f} s)",
            highlight=False,
        )
    load = report.header["loadavg_at_start"]
    end = report.loadavg_at_end or [0.0, 0.0, 0.0]
    console.print(
        f"python {report.header['python']}, {report.header['cpu_count']} cpus, "
        f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"at end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}; {report.header['timestamp']}, "
        f"{report.elapsed_seconds:.0f} s in all",
        highlight=False,
    )
    for f in report.failures:
        console.print(f"[red]failed:[/red] {f}", highlight=False)


def write_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
