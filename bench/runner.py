"""Running the baseline and the scenarios against node processes, in one event loop."""

from __future__ import annotations

from collections.abc import Callable

from bench.env import Env
from bench.load import run_load
from bench.report import Row
from bench.scenarios import BASELINE, Scenario

__all__ = ["run_scenarios", "AGAIN"]

AGAIN = "no-op, measured again last"


async def run_scenarios(
    env: Env, scenarios: list[Scenario], say: Callable[[str], None]
) -> list[Row]:
    """The baseline, each scenario, and the baseline once more (to show drift).

    Every node started on the way is stopped before this returns, also on an error or
    a cancellation (Ctrl-C).
    """
    rows: list[Row] = []
    try:
        say(f"seeding a registry of {env.population:,} persons for the nodes under test")
        env.template_db()
        base = await _measure(env, BASELINE, say)
        base.baseline = True
        rows.append(base)
        if base.result is None or base.result.throughput == 0:
            why = (
                base.failure
                or (base.result.first_error if base.result else "")
                or "no call succeeded"
            )
            raise RuntimeError(f"the baseline failed: {why}")
        base_rps = base.result.throughput
        base.ratio = 1.0
        for sc in scenarios:
            row = await _measure(env, sc, say)
            if row.result is not None:
                row.ratio = row.result.throughput / base_rps
            rows.append(row)
        again = await _measure(env, BASELINE, say, name=AGAIN)
        if again.result is not None:
            again.ratio = again.result.throughput / base_rps
        rows.append(again)
    finally:
        say("stopping the nodes")
        await env.close()
    return rows


async def _measure(
    env: Env, sc: Scenario, say: Callable[[str], None], name: str | None = None
) -> Row:
    p = env.params
    name = name or sc.name
    try:
        call = await sc.setup(env)
    except Exception as exc:  # reported as the row's failure; the other scenarios still run
        return Row(name, failure=f"{type(exc).__name__}: {exc}")
    concurrency = sc.concurrency or p.concurrency
    say(f"measuring {name} ({concurrency} in flight, {p.seconds:g} s)")
    result = await run_load(call, concurrency=concurrency, seconds=p.seconds, warmup=p.warmup)
    return Row(name, result=result)
