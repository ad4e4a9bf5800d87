"""``python -m bench.scale`` (``make bench-scale SCALE=N``): the hot flows on a small and a
large registry, side by side in one run.

Two registries are loaded (:mod:`bench.scaleseed`, cached in ``.bench/scale/``): a small
one (``--small``, 10,000 persons) and a large one (``--scale``). Each gets its own real
nodes (national, provinces 31 and 44, ``python -m node`` as ``make bench`` starts
them) on a copy of its databases, and the three flows are measured at both:

* activation: the four RPCs of a complete activation at national, for a person of the
  registry not yet activated (the password hash is most of its cost);
* routed ec.query: a terminal of 31 scans a code of 44 (31 → national → 44 → back);
* remote settlement: a terminal of 31 settles for a person insured in 44.

The scan and settlement holders (:data:`HOLDERS` persons insured in 44) are spread over
the whole registry, not its first rows, and each call reads another one's rows. Every
measurement sits between two no-ops (``AdminService/Ping`` at the small registry's
national), in ``--rounds`` passes, as in ``make bench`` (:mod:`bench.runner`): the
figure of each flow at each size is its calls/s over the no-op's, measured in the same
run, and the large registry's figure over the small one's says whether the flow stays
flat as the registry grows (the aim: within 10%). The table goes to stdout, every
figure to ``.bench/scale.json``.

``--backend postgresql``: national runs on PostgreSQL (an embedded server in
``--cache``/postgres, removed after the run), each registry's national database copied
there by :mod:`bench.scalepg` (COPY) before its nodes start; the provinces stay on
SQLite. The copy's seconds and the database's size are recorded beside the SQLite load's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import bench.scan
import bench.settlement
from bench.env import DEFAULT_PROVINCES, Env, Params
from bench.lifecycle import _activate, _stub
from bench.load import Call
from bench.nations import Nations, flows_table, measure, terminate
from bench.nodes import NodeProcess, copy_database
from bench.report import Row, loadavg
from bench.scalepg import copy_national
from bench.scaleseed import (
    CACHE_ROOT,
    SCALE_PROVINCES,
    Seeded,
    ensure_seeded,
    find_holders,
    reserved,
    sizes,
)
from bench.scenarios import Scenario, Setup
from node.pki import CertificateAuthority
from node.population import generate
from node.storage.pgserver import PgServer, Unavailable

__all__ = ["main", "build_parser", "ScaleEnv", "compare", "WITHIN"]

DEFAULT_JSON = Path(__file__).resolve().parent.parent / ".bench" / "scale.json"
# A node on a large database checks it (PRAGMA quick_check) before serving.
START_TIMEOUT = 3600.0
# Persons whose codes the scan and settlement pools cycle over, spread over the registry
# (the same count at both sizes; a registry of 10,000 has about 1,700).
HOLDERS = 1_024
# The aim: the large registry's figure of a flow within 10% of the small one's.
WITHIN = 0.10
FLOWS = (
    "activation (4 RPCs at national)",
    "routed ec.query (31 → national → 44)",
    "remote settlement (31 → national → 44)",
)


class ScaleEnv(Env):
    """The nodes of one seeded registry: national, 31 and 44 on copies of its databases."""

    def __init__(self, root: Path, params: Params, seeded: Seeded, db: str = "") -> None:
        super().__init__(root, params, list(DEFAULT_PROVINCES))
        self.seeded = seeded
        # national's PostgreSQL URL (the registry copied there, bench.scalepg); empty:
        # national on its copy of the SQLite file
        self.db = db
        self.seed = int(seeded.manifest["seed"])
        # the scan and settlement scenarios take their holders from here (bench.scan)
        self._shared["holders in 44"] = find_holders(seeded, HOLDERS)
        self.startup: dict[str, float] = {}
        self.copy_seconds = 0.0

    @property
    def population(self) -> int:
        return self.seeded.n

    def template_db(self) -> Path:
        return self.seeded.db_path("national")

    async def _start(self, node: NodeProcess) -> NodeProcess:
        self.nodes[node.name] = node
        t0 = time.perf_counter()
        await node.start(timeout=START_TIMEOUT)
        self.startup[node.name] = time.perf_counter() - t0
        return node

    async def _copy(self, which: str, dest: Path) -> None:
        t0 = time.perf_counter()
        await asyncio.to_thread(copy_database, self.seeded.db_path(which), dest)
        self.copy_seconds += time.perf_counter() - t0

    async def national(self, log_calls: bool = False) -> NodeProcess:
        node = self.nodes.get("national")
        if node is not None:
            return node
        pki = CertificateAuthority.folder_of(self.root)
        if not (pki / "ca.key").exists():
            CertificateAuthority.create(self.root)
        # the channels' signing keys the load registered (bench.scaleseed)
        shutil.copytree(
            self.seeded.folder / "pki" / "channels", pki / "channels", dirs_exist_ok=True
        )
        data = self.root / "national"
        await self._copy("national", data)
        return await self._start(
            NodeProcess("national", "national", data, nation=self.root, db=self.db)
        )

    async def province(self, province: str, log_calls: bool = False) -> NodeProcess:
        key = f"p{province}"
        node = self.nodes.get(key)
        if node is not None:
            return node
        if province not in SCALE_PROVINCES:
            raise RuntimeError(f"the scale bench seeds provinces {SCALE_PROVINCES}, not {province}")
        national = await self.national()
        data = self.root / key
        await self._copy(province, data)
        return await self._start(
            NodeProcess(
                key,
                "provincial",
                data,
                province=province,
                national=national.address,
                nation=self.root,
            )
        )


async def _activation(env: ScaleEnv) -> Call:
    """Complete activations of the registry's persons kept unactivated (the first ones)."""
    node = await env.national()
    stub = _stub(node)
    fresh = iter(list(generate(reserved(env.population), env.seed, env.provinces)))

    async def call() -> None:
        person = next(fresh, None)
        if person is None:
            raise RuntimeError("every person kept for activation is activated")
        await _activate(stub, env.seed, person)

    return call


def scenarios_for(parts: list[ScaleEnv]) -> list[Scenario]:
    """Each flow at each registry, flow by flow (so a flow's sizes are measured close)."""

    def label(flow: str, part: ScaleEnv) -> str:
        return f"{flow}, N={part.population:,}"

    def activation(part: ScaleEnv) -> Setup:
        return lambda _env: _activation(part)

    def routed_query(part: ScaleEnv) -> Setup:
        return lambda _env: bench.scan._setup(part, "31")

    def remote_settlement(part: ScaleEnv) -> Setup:
        return lambda _env: bench.settlement._setup(part, "31")

    return [
        Scenario(label(flow, part), make(part))
        for flow, make in zip(FLOWS, (activation, routed_query, remote_settlement), strict=True)
        for part in parts
    ]


def compare(rows: list[Row], small: int, large: int) -> list[dict[str, Any]]:
    """Each flow's figures at both sizes and the large over the small: the ratio of the
    two median ratios, and the median over rounds of each round's large over small
    (``paired``: the two measured one after the other, a no-op between them), which
    the verdict uses, since a drift of the machine between rounds cancels in it."""
    found = []
    for flow in FLOWS:
        a = next((r for r in rows if r.name == f"{flow}, N={small:,}"), None)
        b = next((r for r in rows if r.name == f"{flow}, N={large:,}"), None)
        sa = a.summary if a else None
        sb = b.summary if b else None
        entry: dict[str, Any] = {"flow": flow, "small_n": small, "large_n": large}
        if sa is None or sb is None or sa.ratio <= 0:
            entry["failure"] = "not measured at both sizes"
            found.append(entry)
            continue
        per_round = [
            rb.ratio / ra.ratio
            for ra, rb in zip(a.rounds, b.rounds, strict=False)  # type: ignore[union-attr]
            if ra.ratio > 0
        ]
        paired = statistics.median(per_round) if per_round else 0.0
        entry.update(
            small=_brief(sa),
            large=_brief(sb),
            throughput_large_over_small=sb.ratio / sa.ratio,
            throughput_large_over_small_paired=paired,
            throughput_large_over_small_rounds=sorted(per_round),
            p50_large_over_small=sb.p50_ms / sa.p50_ms if sa.p50_ms else None,
            p99_large_over_small=sb.p99_ms / sa.p99_ms if sa.p99_ms else None,
            within_10pct=paired >= 1 - WITHIN,
        )
        found.append(entry)
    return found


def _brief(s: Any) -> dict[str, Any]:
    return {
        "ratio_to_noop": s.ratio,
        "ratio_min": s.ratio_min,
        "ratio_max": s.ratio_max,
        "calls_per_second": s.throughput,
        "p50_ms": s.p50_ms,
        "p99_ms": s.p99_ms,
        "errors": s.errors,
        "rounds": s.rounds,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    mem_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description="Activation, routed ec.query and remote settlement on a small and a "
        "large registry in one run, each as a ratio to a no-op measured around it.",
    )
    p.add_argument(
        "--scale", type=int, default=100_000, help="persons of the large registry (default 100000)"
    )
    p.add_argument(
        "--small", type=int, default=10_000, help="persons of the small registry (default 10000)"
    )
    p.add_argument("--rounds", type=int, default=10, help="rounds of every scenario (default 10)")
    p.add_argument("--seconds", type=float, default=1.0, help="measured seconds (default 1)")
    p.add_argument("--warmup", type=float, default=0.15, help="warm-up seconds (default 0.15)")
    p.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    p.add_argument(
        "--cache", type=Path, default=CACHE_ROOT, help=f"loaded registries (default {CACHE_ROOT})"
    )
    p.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="national's database: its SQLite file (default), or each registry copied into "
        "a database of an embedded PostgreSQL server (COPY; the provinces stay on SQLite)",
    )
    p.add_argument(
        "--seed-only", action="store_true", help="load (or find) both registries and stop"
    )
    p.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"the figures (default {DEFAULT_JSON})"
    )
    return p


def _sizes_table(seeds: list[Seeded], parts: list[ScaleEnv]) -> Table:
    table = Table(title="registries", title_justify="left")
    for col in ("persons", "national.db", "provincial-31.db", "provincial-44.db", "loaded in"):
        table.add_column(col, justify="right")
    table.add_column("node start-up (national, 31, 44)", justify="right")
    for i, s in enumerate(seeds):
        b = sizes(s)
        loaded = f"{s.manifest['seconds']:,.0f} s" + (" (cached)" if s.cached else "")
        ups = parts[i].startup if i < len(parts) else {}
        up = ", ".join(f"{ups[k]:.1f}" for k in ("national", "p31", "p44") if k in ups) or "-"
        table.add_row(
            f"{s.n:,}",
            *(_bytes(b[w]) for w in ("national", "31", "44")),
            loaded,
            f"{up} s" if up != "-" else up,
        )
    return table


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n} B"


async def _measure(run: Nations[ScaleEnv], say: Callable[[str], None]) -> list[Row]:
    async def start() -> None:
        for part in run.parts:
            say(f"starting the nodes of the registry of {part.population:,} persons")
            await part.national()
            for prov in SCALE_PROVINCES:
                await part.province(prov)

    return await measure(run, start, scenarios_for(run.parts), say)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    if args.small < 100 or args.scale < args.small:
        raise SystemExit("--small must be at least 100 and --scale at least --small")
    if args.rounds < 1 or args.seconds <= 0 or args.concurrency < 1 or args.warmup < 0:
        raise SystemExit("--rounds, --seconds, --concurrency must be positive")
    params = Params(
        seconds=args.seconds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        population=args.small,
        rounds=args.rounds,
    )
    out = Console(width=None if sys.stdout.isatty() else 150)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

    def say(message: str) -> None:
        err.print(f"[dim]bench-scale:[/dim] {message}", highlight=False)

    signal.signal(signal.SIGTERM, terminate)
    sizes_n = sorted({args.small, args.scale})
    report: dict[str, Any] = {
        "header": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": "python -m bench.scale " + " ".join(argv or sys.argv[1:]),
            "machine": machine(),
            "loadavg_at_start": loadavg(),
            "params": {
                "small": args.small,
                "scale": args.scale,
                "rounds": args.rounds,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "concurrency": args.concurrency,
                "backend": args.backend,
            },
        },
        "failures": [],
    }
    seeds: list[Seeded] = []
    try:
        for n in sizes_n:
            t0 = time.perf_counter()
            seeds.append(ensure_seeded(n, cache_root=args.cache, say=say))
            say(f"registry of {n:,} persons ready in {time.perf_counter() - t0:.1f} s")
    except KeyboardInterrupt:
        say("interrupted while loading; nothing half-loaded is kept")
        return 130
    parts: list[ScaleEnv] = []
    rows: list[Row] = []
    server: PgServer | None = None
    urls = ["" for _ in seeds]
    pg_seconds = [0.0 for _ in seeds]
    pg_bytes = [0 for _ in seeds]
    if args.backend == "postgresql" and not args.seed_only:
        try:
            server = PgServer(folder=args.cache / "postgres").start()
        except Unavailable as exc:
            raise SystemExit(f"bench-scale: PostgreSQL cannot start here: {exc}") from None
        try:
            for i, reg in enumerate(seeds):
                name = f"national_n{reg.n}"
                server.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                server.admin.execute(f'CREATE DATABASE "{name}"')
                urls[i] = server.url(name)
                say(f"copying the registry of {reg.n:,} persons into PostgreSQL")
                t0 = time.perf_counter()
                copy_national(reg.db_path("national"), urls[i], say)
                pg_seconds[i] = time.perf_counter() - t0
                (pg_bytes[i],) = server.admin.execute(
                    "SELECT pg_database_size(%s)", (name,)
                ).fetchone() or (0,)
                say(f"registry of {reg.n:,} persons in PostgreSQL in {pg_seconds[i]:.1f} s")
        except BaseException:
            server.halt()
            shutil.rmtree(server.root, ignore_errors=True)
            raise
    if not args.seed_only:
        with tempfile.TemporaryDirectory(prefix="ecnet-bench-scale-", dir=args.cache) as tmp:
            parts = [
                ScaleEnv(Path(tmp) / f"n{s.n}", params, s, urls[i]) for i, s in enumerate(seeds)
            ]
            run = Nations(Path(tmp), params, parts)
            try:
                rows = asyncio.run(_measure(run, say))
            except (KeyboardInterrupt, asyncio.CancelledError):
                say("interrupted; every node it started is stopped")
                run.kill_all()
                return 130
            except Exception as exc:
                report["failures"].append(f"{type(exc).__name__}: {exc}")
            finally:
                run.kill_all()
                if server is not None:  # the copies are made again at each run
                    server.halt()
                    shutil.rmtree(server.root, ignore_errors=True)
    for row in rows:
        s = row.summary
        if row.failure:
            report["failures"].append(f"{row.name}: setup failed: {row.failure}")
        elif s is not None and s.errors:
            report["failures"].append(f"{row.name}: {s.errors} errors ({s.first_error})")
    comparisons = compare(rows, sizes_n[0], sizes_n[-1]) if rows else []
    report["registries"] = [
        {
            "persons": s.n,
            "bytes": sizes(s),
            "rows": s.manifest["rows"],
            "load_seconds": s.manifest["seconds"],
            "load_persons_per_second": s.manifest["persons_per_second"],
            "cached": s.cached,
            "node_startup_seconds": parts[i].startup if i < len(parts) else {},
            "copy_seconds": parts[i].copy_seconds if i < len(parts) else 0.0,
            "postgresql_load_seconds": pg_seconds[i] if args.backend == "postgresql" else None,
            "postgresql_bytes": pg_bytes[i] if args.backend == "postgresql" else None,
        }
        for i, s in enumerate(seeds)
    ]
    report["scenarios"] = [r.to_dict() for r in rows]
    report["comparisons"] = comparisons
    report["elapsed_seconds"] = time.perf_counter() - started
    report["loadavg_at_end"] = loadavg()

    out.print(_sizes_table(seeds, parts))
    if rows:
        out.print(flows_table(rows, params, "bench-scale"))
        noops = [m.result.throughput for m in rows[0].noops]
        if noops:
            out.print(
                f"no-op: {len(noops)} measurements, {min(noops):,.0f}–{max(noops):,.0f} calls/s; "
                "ratio to no-op: the median over rounds of calls/s ÷ the no-ops' around it",
                highlight=False,
            )
    for c in comparisons:
        if "failure" in c:
            out.print(f"{c['flow']}: {c['failure']}", highlight=False)
            continue
        verdict = "[green]within 10%[/green]" if c["within_10pct"] else "[red]not within 10%[/red]"
        out.print(
            f"{c['flow']}: N={c['large_n']:,} ÷ N={c['small_n']:,}: throughput "
            f"{c['throughput_large_over_small_paired']:.3f} (median of the rounds' own; of "
            f"the medians {c['throughput_large_over_small']:.3f}), "
            f"p50 {_maybe(c['p50_large_over_small'])}, "
            f"p99 {_maybe(c['p99_large_over_small'])}: {verdict}",
            highlight=False,
        )
    for f in report["failures"]:
        out.print(f"[red]failed:[/red] {f}", highlight=False)
    _write(report, args.json)
    say(f"figures written to {args.json}")
    return 1 if report["failures"] else 0


def _maybe(x: float | None) -> str:
    """A ratio, or "-" when a side had no call complete inside its windows."""
    return "-" if x is None else f"{x:.3f}"


def _write(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
