"""``python -m bench`` (``make bench``): the benchmark of ecnet.

Speed is a ratio to a no-op gRPC call (``AdminService/Ping``) measured just before and
just after each round of each scenario (:mod:`bench.runner`); absolute numbers drift
with the machine and its load. Each scenario is measured ``--rounds`` times; the table
gives the median ratio and its min–max, and ``.bench/last.json`` every round. Exit code
1 when a scenario could not be set up, had errors, or a start-up failed; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

import bench.lifecycle  # noqa: F401 - registers the voucher lifecycle scenarios
import bench.qr  # noqa: F401 - registers the QR display scenarios
import bench.scan  # noqa: F401 - registers the scanning scenarios
import bench.settlement  # noqa: F401 - registers the settlement scenarios
from bench.env import Env, Params
from bench.nation import time_nation_up
from bench.nations import measure, terminate
from bench.report import DEFAULT_JSON, Report, Row, header, loadavg, render, write_json
from bench.scenarios import Scenario, select
from bench.seeding import measure_seeding

__all__ = ["main", "build_parser"]

NATION_LABELS = {
    False: "nation up (national + 4 provinces)",
    True: "nation up --all (national + 32 provinces)",
}
SEEDING_LABEL = "seeding rate"
NATION_POPULATION = 1000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark ecnet nodes: each scenario's throughput as a ratio to a no-op "
        "gRPC call measured just before and after it, the median over rounds, plus nation "
        "start-up time and seeding rate.",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="measured seconds of a scenario's measurement, half that for a no-op (default 1)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of every scenario, each between two no-op measurements "
        "(default 10; 3 with --quick)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=0.15,
        help="warm-up seconds before each measurement, scenario or no-op (default 0.15)",
    )
    p.add_argument(
        "--concurrency", type=int, default=16, help="calls in flight over one channel (default 16)"
    )
    p.add_argument(
        "--population",
        type=int,
        default=10_000,
        help="persons in the registry of the nodes under test (default 10000)",
    )
    p.add_argument(
        "--seed-population",
        type=int,
        default=None,
        help="persons for the seeding rate (default 200000; 20000 with --quick)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds of 0.5 s, seeding 20,000, no 32-province start-up",
    )
    p.add_argument(
        "--only",
        metavar="NAME_SUBSTRING",
        default=None,
        help="run only what contains this (case-insensitive): a scenario name, "
        "'nation up', 'seeding'",
    )
    p.add_argument("--skip-nation", action="store_true", help="skip the nation start-up timings")
    p.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help=f"where to write the figures (default {DEFAULT_JSON})",
    )
    return p


def params_from(args: argparse.Namespace) -> Params:
    seconds = args.seconds if args.seconds is not None else (0.5 if args.quick else 1.0)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 10)
    seed_population = (
        args.seed_population
        if args.seed_population is not None
        else (20_000 if args.quick else 200_000)
    )
    if seconds <= 0 or args.warmup < 0:
        raise SystemExit("--seconds must be positive and --warmup not negative")
    if args.concurrency < 1:
        raise SystemExit("--concurrency must be at least 1")
    if rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    if args.population < 20 or seed_population < 1:
        raise SystemExit(
            "--population must be at least 20 (a ListPersons page) and --seed-population positive"
        )
    return Params(
        seconds=seconds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        population=args.population,
        seed_population=seed_population,
        quick=args.quick,
        only=args.only,
        skip_nation=args.skip_nation,
        rounds=rounds,
    )


def _wanted(label: str, only: str | None) -> bool:
    return not only or only.lower() in label.lower()


async def _scenarios(env: Env, scenarios: list[Scenario], say: Callable[[str], None]) -> list[Row]:
    """run_scenarios, cancelled by SIGTERM (so its clean-up runs inside the loop)."""
    return await measure(env, None, scenarios, say)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    params = params_from(args)
    out = Console(width=None if sys.stdout.isatty() else 140)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

    def say(message: str) -> None:
        err.print(f"[dim]bench:[/dim] {message}", highlight=False)

    # SIGTERM ends the run like Ctrl-C does: every node is stopped on the way out.
    signal.signal(signal.SIGTERM, terminate)
    report = Report(header(params))
    scenarios = select(params.only)
    nation_runs = (
        [] if params.skip_nation else [a for a in (False, True) if not (a and params.quick)]
    )
    nation_runs = [a for a in nation_runs if _wanted(NATION_LABELS[a], params.only)]
    if not (scenarios or nation_runs or _wanted(SEEDING_LABEL, params.only)):
        say(f"nothing matches --only {params.only!r}")
        return 2

    with tempfile.TemporaryDirectory(prefix="ecnet-bench-") as tmp:
        root = Path(tmp)
        env = Env(root / "nodes", params)
        try:
            if scenarios:
                report.rows = asyncio.run(_scenarios(env, scenarios, say))
                report.figures = env.figures
            for all_ in nation_runs:
                say(f"timing {NATION_LABELS[all_]}")
                try:
                    report.startups.append(
                        time_nation_up(
                            root / ("nation-all" if all_ else "nation"), NATION_POPULATION, all_
                        )
                    )
                except Exception as exc:
                    report.failures.append(f"{NATION_LABELS[all_]}: {exc}")
            if _wanted(SEEDING_LABEL, params.only):
                say(f"seeding {params.seed_population:,} persons into a fresh database")
                report.seeding = measure_seeding(root / "seeding", params.seed_population)
        except (KeyboardInterrupt, asyncio.CancelledError):
            say("interrupted; every node it started is stopped")
            return 130
        except Exception as exc:
            report.failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            env.kill_all()

    for row in report.rows:
        summary = row.summary
        if row.failure:
            report.failures.append(f"{row.name}: setup failed: {row.failure}")
        elif summary is not None and summary.errors:
            report.failures.append(f"{row.name}: {summary.errors} errors ({summary.first_error})")
    report.elapsed_seconds = time.perf_counter() - started
    report.loadavg_at_end = loadavg()
    render(report, out)
    write_json(report, args.json)
    say(f"figures written to {args.json}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
