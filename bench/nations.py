"""What the benches that run several nations at once share (``make bench-scale``: a
small and a large registry; ``make bench-cluster``: national on SQLite, on PostgreSQL
and as two replicas): the run over their environments, the flows' table, and SIGTERM
ending a run as Ctrl-C does, every node stopped on the way out."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Generic, TypeVar

from rich.table import Table

from bench.env import Env, Params
from bench.nodes import NodeProcess
from bench.report import Row
from bench.runner import run_scenarios
from bench.scenarios import Scenario

__all__ = ["Nations", "flows_table", "measure", "terminate"]

E = TypeVar("E", bound=Env)


def terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's handler outside the event loop: as Ctrl-C."""
    raise KeyboardInterrupt


class Nations(Env, Generic[E]):
    """What :func:`bench.runner.run_scenarios` drives over several nations (``parts``):
    the no-op at the first one's national, every node of every nation idle before each
    measurement."""

    def __init__(self, root: Path, params: Params, parts: list[E]) -> None:
        super().__init__(root, params)
        self.parts = parts

    def template_db(self) -> Path:
        return self.parts[0].template_db()

    async def national(self, log_calls: bool = False) -> NodeProcess:
        return await self.parts[0].national()

    def _nodes_cpu(self) -> float | None:
        total = 0.0
        for part in self.parts:
            used = part._nodes_cpu()
            if used is None:
                return None
            total += used
        return total

    async def close(self) -> None:
        for part in self.parts:
            await part.close()

    def kill_all(self) -> None:
        for part in self.parts:
            part.kill_all()


async def measure(
    run: Env,
    start: Callable[[], Awaitable[None]] | None,
    scenarios: list[Scenario],
    say: Callable[[str], None],
) -> list[Row]:
    """``start()`` if given (every node up first: its start-up is a figure too), then
    run_scenarios, both cancelled by SIGTERM so that the clean-up runs inside the loop."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        if start is not None:
            await start()
        return await run_scenarios(run, scenarios, say)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, terminate)


def flows_table(rows: list[Row], params: Params, bench: str) -> Table:
    """Each scenario's calls/s, ratio to the no-op (median, min–max), p50, p99, errors."""
    table = Table(
        title=f"ecnet {bench}: {params.rounds} rounds, each between two no-ops; "
        f"{params.concurrency} calls in flight, {params.seconds:g} s after {params.warmup:g} s",
        title_justify="left",
    )
    table.add_column("scenario")
    for col in ("calls/s", "ratio to no-op", "min–max", "p50 ms", "p99 ms", "errors"):
        table.add_column(col, justify="right")
    for row in rows:
        s = row.summary
        if s is None:
            table.add_row(row.name, "-", "-", "-", "-", "-", f"[red]{row.failure or 'none'}[/red]")
            continue
        table.add_row(
            f"[bold]{row.name}[/bold]" if row.baseline else row.name,
            f"{s.throughput:,.1f}",
            f"{s.ratio:.3g}",
            f"{s.ratio_min:.3g}–{s.ratio_max:.3g}",
            f"{s.p50_ms:.2f}",
            f"{s.p99_ms:.2f}",
            f"[red]{s.errors:,}[/red]" if s.errors else "0",
        )
    return table
