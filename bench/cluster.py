"""``python -m bench.cluster`` (``make bench-cluster``): national with one and with two
replicas on one PostgreSQL database, and national on SQLite for reference, side by side
in one run.

Three nations are started, each with its own national and its provinces 31 and 44
(``python -m node``, as ``make bench`` starts them; the provinces on SQLite):

* ``sqlite``: national on its SQLite file, as ``make bench`` runs it;
* ``postgresql ×1``: one national process on a PostgreSQL database (the embedded server,
  :mod:`node.storage.pgserver`, started by the bench in a temporary folder);
* ``postgresql ×2``: two national processes on another database of that server, sharing
  the first one's master and signing keys; the provinces list both (``--national
  H1:P1,H2:P2``: one target, round_robin), as docs/deployment.md's cluster does.

Two flows are measured at each: routed ec.query (a terminal of 31 scans a code of 44:
31 → national → 44 → back) and remote settlement (a terminal of 31 settles for a person
insured in 44), with ``--concurrency`` calls in flight. Every measurement sits between
two no-ops (``AdminService/Ping`` at the SQLite national), in ``--rounds`` passes
(:mod:`bench.runner`): each figure is calls/s over the no-op's measured around it, and
two replicas over one is the median of the rounds' own ratios (the two measured one
after the other). The table goes to stdout, every figure to ``.bench/cluster.json``.

On one machine the replicas share its cores (and the database server's), and every
write at national takes the cluster's one writer lock: the figures say what a second
replica costs or gives here, not what a second machine would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from bench.nations import Nations, flows_table, measure, terminate
from bench.nodes import NodeProcess
from bench.report import Row, loadavg
from bench.scale import _brief, machine
from bench.scenarios import Scenario, Setup
from cli.seed import seed_national
from node.pki import CertificateAuthority
from node.storage.pgserver import PgServer, Unavailable

__all__ = ["main", "build_parser", "ClusterEnv", "compare", "FLOWS", "CONFIGS"]

DEFAULT_JSON = Path(__file__).resolve().parent.parent / ".bench" / "cluster.json"
FLOWS = (
    "routed ec.query (31 → national → 44)",
    "remote settlement (31 → national → 44)",
)
# (label, backend, national processes)
CONFIGS = (
    ("sqlite", "sqlite", 1),
    ("postgresql ×1", "postgresql", 1),
    ("postgresql ×2", "postgresql", 2),
)


class Replica(NodeProcess):
    """A national process given the master key (which seals the database's secrets) and
    the signing key of the first replica's data folder: every replica of a cluster
    holds the same (docs/deployment.md)."""

    def __init__(self, *args: Any, keys_of: Path, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.keys_of = keys_of

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--master-key", str(self.keys_of / "master.key"),
            "--sign-key", str(self.keys_of / "sign.key"),
        ]  # fmt: skip


class ClusterEnv(Env):
    """One nation: national (on SQLite, or ``replicas`` processes on the PostgreSQL
    database ``db``) and provinces on SQLite that list every national process."""

    def __init__(
        self, root: Path, params: Params, label: str, db: str = "", replicas: int = 1
    ) -> None:
        super().__init__(root, params, list(DEFAULT_PROVINCES))
        self.label = label
        self.db = db
        self.replicas = replicas
        self.national_nodes: list[NodeProcess] = []
        # CPU seconds each national process used, read as the nodes stop: with two
        # replicas, both carried calls (round_robin) or one sat idle.
        self.national_cpu: dict[str, float] = {}

    def template_db(self) -> Path:
        if not self.db:
            return super().template_db()
        if self._template is None:  # the registry seeded into the database itself
            path = self.root / "national" / "national.db"
            report = seed_national(path, self.population, self.seed, self.provinces, db=self.db)
            self.seed_seconds = report.seconds
            self._template = path
        return self._template

    async def national(self, log_calls: bool = False) -> NodeProcess:
        if not self.db:
            return await super().national()
        if self.national_nodes:
            return self.national_nodes[0]
        if not (CertificateAuthority.folder_of(self.root) / "ca.key").exists():
            CertificateAuthority.create(self.root)
        await asyncio.to_thread(self.template_db)
        first = self.root / "national"
        for i in range(self.replicas):
            name = "national" if i == 0 else f"national-{i + 1}"
            node = Replica(
                name, "national", self.root / name, nation=self.root, db=self.db, keys_of=first
            )
            self.nodes[name] = node
            await node.start()  # the first makes the keys the others share
            self.national_nodes.append(node)
        return self.national_nodes[0]

    async def close(self) -> None:
        for name, node in self.nodes.items():
            used = node.cpu_seconds() if node.role == "national" else None
            if used is not None:
                self.national_cpu[name] = used
        await super().close()

    async def province(self, province: str, log_calls: bool = False) -> NodeProcess:
        key = f"p{province}"
        node = self.nodes.get(key)
        if node is None:
            national = await self.national()
            addresses = [n.address for n in self.national_nodes] or [national.address]
            node = NodeProcess(
                key,
                "provincial",
                self.root / key,
                province=province,
                national=",".join(addresses),
                nation=self.root,
            )
            self.nodes[key] = node
            await node.start()
        return node


def label(flow: str, part: ClusterEnv) -> str:
    return f"{flow}, national {part.label}"


def scenarios_for(parts: list[ClusterEnv]) -> list[Scenario]:
    """Each flow at each nation, flow by flow (so a flow's configurations are measured
    close together)."""

    def routed_query(part: ClusterEnv) -> Setup:
        return lambda _env: bench.scan._setup(part, "31")

    def remote_settlement(part: ClusterEnv) -> Setup:
        return lambda _env: bench.settlement._setup(part, "31")

    return [
        Scenario(label(flow, part), make(part))
        for flow, make in zip(FLOWS, (routed_query, remote_settlement), strict=True)
        for part in parts
    ]


def compare(rows: list[Row], parts: list[ClusterEnv]) -> list[dict[str, Any]]:
    """Each flow's figures at every configuration, and two replicas over one: the ratio
    of the two median ratios, and the median over rounds of each round's own (``paired``,
    the two measured one after the other), which cancels a drift of the machine."""
    found = []
    for flow in FLOWS:
        entry: dict[str, Any] = {"flow": flow, "configs": {}}
        by_label: dict[str, Row] = {}
        for part in parts:
            row = next((r for r in rows if r.name == label(flow, part)), None)
            s = row.summary if row else None
            if row is None or s is None:
                entry["configs"][part.label] = {"failure": (row.failure if row else "") or "none"}
                continue
            by_label[part.label] = row
            entry["configs"][part.label] = _brief(s)
        one, two = by_label.get("postgresql ×1"), by_label.get("postgresql ×2")
        s1 = one.summary if one else None
        s2 = two.summary if two else None
        if one and two and s1 and s2 and s1.ratio > 0:
            per_round = [
                b.ratio / a.ratio
                for a, b in zip(one.rounds, two.rounds, strict=False)
                if a.ratio > 0
            ]
            entry.update(
                two_over_one=s2.ratio / s1.ratio,
                two_over_one_paired=statistics.median(per_round) if per_round else 0.0,
                two_over_one_rounds=sorted(per_round),
            )
        sq = by_label.get("sqlite")
        sqs = sq.summary if sq else None
        if sqs and s1 and sqs.ratio > 0:
            entry["postgresql_over_sqlite"] = s1.ratio / sqs.ratio
        found.append(entry)
    return found


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.cluster",
        description="Routed ec.query and remote settlement with national on SQLite, on "
        "PostgreSQL, and as two replicas on one PostgreSQL database, each as a ratio to a "
        "no-op measured around it.",
    )
    p.add_argument(
        "--population", type=int, default=5_000, help="persons of each registry (default 5000)"
    )
    p.add_argument("--rounds", type=int, default=5, help="rounds of every scenario (default 5)")
    p.add_argument("--seconds", type=float, default=1.0, help="measured seconds (default 1)")
    p.add_argument("--warmup", type=float, default=0.15, help="warm-up seconds (default 0.15)")
    p.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    p.add_argument(
        "--durable",
        action="store_true",
        help="the PostgreSQL server flushes its commits to disk (default: fsync and "
        "synchronous_commit off, as the tests' server)",
    )
    p.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"the figures (default {DEFAULT_JSON})"
    )
    return p


def _side_by_side(comparisons: list[dict[str, Any]]) -> Table:
    table = Table(title="side by side: ratio to no-op (p50 / p99 ms)", title_justify="left")
    table.add_column("flow")
    for name, _, _ in CONFIGS:
        table.add_column(f"national {name}", justify="right")
    table.add_column("×2 ÷ ×1 (paired)", justify="right")
    for c in comparisons:
        cells = []
        for name, _, _ in CONFIGS:
            f = c["configs"].get(name, {})
            cells.append(
                "-"
                if "ratio_to_noop" not in f
                else f"{f['ratio_to_noop']:.3g} ({f['p50_ms']:.1f} / {f['p99_ms']:.1f})"
            )
        two = c.get("two_over_one_paired")
        table.add_row(c["flow"], *cells, "-" if two is None else f"{two:.3f}")
    return table


async def _measure(run: Nations[ClusterEnv], say: Callable[[str], None]) -> list[Row]:
    async def start() -> None:
        for part in run.parts:
            say(f"starting the nation with national {part.label}")
            await part.national()
            for prov in ("31", "44"):
                await part.province(prov)

    return await measure(run, start, scenarios_for(run.parts), say)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    if args.population < 1_000:
        raise SystemExit("--population must be at least 1000 (the holders are taken from it)")
    if args.rounds < 1 or args.seconds <= 0 or args.concurrency < 1 or args.warmup < 0:
        raise SystemExit("--rounds, --seconds, --concurrency must be positive")
    params = Params(
        seconds=args.seconds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        population=args.population,
        rounds=args.rounds,
    )
    out = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

    def say(message: str) -> None:
        err.print(f"[dim]bench-cluster:[/dim] {message}", highlight=False)

    signal.signal(signal.SIGTERM, terminate)
    report: dict[str, Any] = {
        "header": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": "python -m bench.cluster " + " ".join(argv or sys.argv[1:]),
            "machine": machine(),
            "loadavg_at_start": loadavg(),
            "params": {
                "population": args.population,
                "rounds": args.rounds,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "concurrency": args.concurrency,
                "durable": args.durable,
            },
        },
        "failures": [],
    }
    try:
        server = PgServer(durable=args.durable).start()
    except Unavailable as exc:
        raise SystemExit(f"bench-cluster: PostgreSQL cannot start here: {exc}") from None
    rows: list[Row] = []
    parts: list[ClusterEnv] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ecnet-bench-cluster-") as tmp:
            for i, (name, backend, replicas) in enumerate(CONFIGS):
                db = ""
                if backend == "postgresql":
                    server.admin.execute(f'CREATE DATABASE "national_{i}"')
                    db = server.url(f"national_{i}")
                parts.append(ClusterEnv(Path(tmp) / f"c{i}", params, name, db, replicas))
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
    finally:
        server.halt()
        shutil.rmtree(server.root, ignore_errors=True)
    for row in rows:
        s = row.summary
        if row.failure:
            report["failures"].append(f"{row.name}: setup failed: {row.failure}")
        elif s is not None and s.errors:
            report["failures"].append(f"{row.name}: {s.errors} errors ({s.first_error})")
    comparisons = compare(rows, parts) if rows else []
    report["configs"] = [
        {
            "label": p.label,
            "backend": "postgresql" if p.db else "sqlite",
            "national_processes": p.replicas,
            "seed_seconds": p.seed_seconds,
            "national_cpu_seconds": p.national_cpu,
        }
        for p in parts
    ]
    report["scenarios"] = [r.to_dict() for r in rows]
    report["comparisons"] = comparisons
    report["elapsed_seconds"] = time.perf_counter() - started
    report["loadavg_at_end"] = loadavg()
    if rows:
        out.print(flows_table(rows, params, "bench-cluster"))
        out.print(_side_by_side(comparisons))
    for c in comparisons:
        if "two_over_one_paired" in c:
            out.print(
                f"{c['flow']}: two replicas ÷ one: {c['two_over_one_paired']:.3f} (median of "
                f"the rounds' own; of the medians {c['two_over_one']:.3f})",
                highlight=False,
            )
    for f in report["failures"]:
        out.print(f"[red]failed:[/red] {f}", highlight=False)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp_json = args.json.with_suffix(".tmp")
    tmp_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    tmp_json.replace(args.json)
    say(f"figures written to {args.json}")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
