"""The report: a rich table on stdout and the same figures as JSON in ``.bench/last.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from bench.env import Params
from bench.load import LoadResult
from bench.nation import StartupResult
from bench.seeding import SeedResult

__all__ = ["Row", "Report", "header", "render", "write_json", "DEFAULT_JSON"]

DEFAULT_JSON = Path(__file__).resolve().parent.parent / ".bench" / "last.json"


@dataclass
class Row:
    name: str
    result: LoadResult | None = None
    ratio: float | None = None
    failure: str = ""  # the setup failed: no measurement
    baseline: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "baseline": self.baseline, "ratio": self.ratio}
        if self.result is not None:
            d.update(self.result.to_dict())
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
    figures: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        baseline = next((r for r in self.rows if r.baseline and r.result is not None), None)
        return {
            "header": self.header,
            "baseline": baseline.to_dict() if baseline else None,
            "scenarios": [r.to_dict() for r in self.rows],
            "startup": [s.to_dict() for s in self.startups],
            "seeding": self.seeding.to_dict() if self.seeding else None,
            "figures": self.figures,
            "failures": self.failures,
        }


def header(params: Params) -> dict[str, Any]:
    load1, load5, load15 = os.getloadavg()
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "grpcio": grpc.__version__,
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "params": asdict(params),
    }


def _table(report: Report) -> Table:
    p = report.header["params"]
    table = Table(
        title=f"ecnet bench: {p['concurrency']} calls in flight, {p['seconds']:g} s per scenario "
        f"after {p['warmup']:g} s warm-up, population {p['population']:,}",
        title_justify="left",
    )
    table.add_column("scenario")
    for col in ("calls/s", "ratio to no-op", "p50 ms", "p99 ms", "errors"):
        table.add_column(col, justify="right")
    for row in report.rows:
        r = row.result
        if r is None:
            table.add_row(row.name, "-", "-", "-", "-", "[red]setup failed[/red]")
            continue
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        errors = f"[red]{r.errors:,}[/red]" if r.errors else "0"
        name = f"[bold]{row.name}[/bold]" if row.baseline else row.name
        table.add_row(
            name, f"{r.throughput:,.0f}", ratio, f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", errors
        )
    return table


def render(report: Report, console: Console) -> None:
    if report.rows:
        console.print(_table(report))
        for row in report.rows:
            if row.result is not None and row.result.first_error:
                console.print(
                    f"  {row.name}: first error: {row.result.first_error}", highlight=False
                )
    for name, figure in report.figures.items():
        console.print(f"{name}: {figure['text']}", highlight=False)
    for s in report.startups:
        console.print(
            f"{s.label}: {s.seconds:.2f} s to healthy ({s.nodes} nodes, registry of {s.population:,} "
            f"seeded beforehand in {s.seed_seconds:.2f} s; nation down {s.down_seconds:.2f} s)",
            highlight=False,
        )
    if report.seeding is not None:
        s = report.seeding
        console.print(
            f"seeding: {s.persons:,} persons in {s.seconds:.2f} s = {s.persons_per_second:,.0f} persons/s "
            f"(≈ {s.seconds_per_million:,.1f} s per 1,000,000; whole call {s.total_seconds:.2f} s)",
            highlight=False,
        )
    load = report.header["loadavg_at_start"]
    console.print(
        f"python {report.header['python']}, {report.header['cpu_count']} cpus, "
        f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        highlight=False,
    )
    for f in report.failures:
        console.print(f"[red]failed:[/red] {f}", highlight=False)


def write_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
