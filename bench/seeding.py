"""Seeding rate: ``cli.seed.seed_national`` of N persons into a fresh database."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.env import DEFAULT_PROVINCES, SEED
from cli.seed import seed_national

__all__ = ["SeedResult", "measure_seeding"]


@dataclass(frozen=True)
class SeedResult:
    persons: int
    seconds: float  # the persons part, as seed_national times it
    total_seconds: float  # the whole call: channels, persons, terminals, open and close
    persons_per_second: float
    seconds_per_million: float  # extrapolated from persons_per_second

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_seeding(folder: Path, persons: int) -> SeedResult:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "national.db"
    t0 = time.perf_counter()
    report = seed_national(path, persons, SEED, DEFAULT_PROVINCES)
    total = time.perf_counter() - t0
    rate = report.persons / report.seconds if report.seconds else 0.0
    return SeedResult(
        persons=report.persons,
        seconds=report.seconds,
        total_seconds=total,
        persons_per_second=rate,
        seconds_per_million=1_000_000 / rate if rate else 0.0,
    )
