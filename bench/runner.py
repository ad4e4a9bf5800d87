"""Running the scenarios against a no-op interleaved with them, in one event loop.

The no-op (``AdminService/Ping`` at the quiet national, :data:`bench.scenarios.BASELINE`)
is the unit: on two shared cores the machine's speed drifts by up to 1.8x within one
run (another engineer's test suite starts, a core is taken away), so a no-op measured
once at the start is no unit for a scenario measured minutes later. Instead every
scenario measurement has a no-op measured just before it and just after it
(:func:`bench.rounds.plan`):

    no-op, A, no-op, B, no-op, …, no-op   (``--rounds`` such passes)

and a round's ratio is the scenario's calls/s over the mean of those two no-ops.

* **No-op on both sides**, rather than pairs alternating which goes first: a drift
  that is linear over the few seconds of a round cancels in every round, not only on
  average over an even number of rounds; and since each no-op serves the rounds on
  both sides of it, this costs one no-op per round, as pairs would.
* **Passes over the scenarios**, rather than a scenario's rounds back to back: a burst
  of load from another process (a test suite runs for tens of seconds) then falls on
  one round of a scenario, not on all of them, and the median over rounds leaves it
  out. The spread (min–max of the rounds' ratios) shows how much it moved.
* **Many short rounds, the same number for every scenario in every run.** Even on an
  idle machine one measurement differs from the next: by about 5% for an activation,
  10% for the no-op, 15% for a read at national (the scheduler's placement of the
  node's and the bench's threads on the two cores holds for seconds, and the same call
  runs a third faster or slower with it), and a longer window does not narrow that;
  more rounds do. Giving the scenarios whose rounds disagree more of them was tried and
  made runs disagree more: every call leaves state behind (vouchers GetNodeInfo counts,
  settlements, used codes), so a run with more rounds measured its last ones on a
  bigger database. With a fixed plan every run does the same work in the same order.
* **Every setup first.** All scenarios are set up before the first measurement, so
  every measurement, the no-op's too, runs with the same nodes up (provinces 44 and 31
  heartbeating to national) and none pays for a setup's leftovers.
* **Quiet before each measurement.** The nodes' CPU must be idle again
  (:meth:`bench.env.Env.quiesce`: outbox deliveries after activations, a WAL
  checkpoint), and the bench's own garbage is collected beforehand; the setups' objects
  (tens of thousands of prepared requests) are frozen out of the collector, so a full
  collection does not fall inside one measurement.
* **Other processes are measured, not guessed.** Each measurement records the CPU that
  processes other than the bench and its nodes took meanwhile (:mod:`bench.machine`).
  Interleaving takes out a machine that gets slower or faster over seconds; it cannot
  take out someone else's load that comes and goes within a round, nor the different
  share of the cores a three-process scenario and a two-process no-op get beside it.
  The report shows that figure, so a run on a busy machine is seen as one.

Every node started on the way is stopped before :func:`run_scenarios` returns.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from bench.env import Env
from bench.load import Call, run_load
from bench.machine import OthersMeter
from bench.report import Row
from bench.rounds import Measurement, pair, plan
from bench.scenarios import BASELINE, Scenario

__all__ = ["run_scenarios", "NOOP_SHARE"]

# A no-op is measured for this share of --seconds. Its calls take a few ms, so half the
# window still holds thousands; and its variation from one measurement to the next
# (about 10% on two shared cores, the scheduler's placement of its threads) was the
# same over 0.5, 1, 2 and 4 s. The time saved goes to more rounds, which do narrow it.
NOOP_SHARE = 0.5


async def run_scenarios(
    env: Env, scenarios: list[Scenario], say: Callable[[str], None]
) -> list[Row]:
    """The no-op's row first, then one row per scenario (in registration order)."""
    p = env.params
    try:
        say(f"seeding a registry of {env.population:,} persons for the nodes under test")
        env.template_db()
        try:
            noop = await BASELINE.setup(env)
        except Exception as exc:
            raise RuntimeError(f"the baseline failed: {type(exc).__name__}: {exc}") from exc
        rows = [Row(sc.name) for sc in scenarios]
        ready: list[tuple[int, Scenario, Call]] = []
        for i, sc in enumerate(scenarios):
            say(f"setting up {sc.name}")
            try:
                ready.append((i, sc, await sc.setup(env)))
            except Exception as exc:  # the row shows it; the other scenarios still run
                rows[i].failure = f"{type(exc).__name__}: {exc}"

        steps = plan(len(ready), p.rounds)
        say(
            f"{len(steps)} measurements: {p.rounds} rounds of {len(ready)} scenarios, each "
            f"between two no-ops ({p.warmup:g} s warm-up + {p.seconds:g} s, a no-op "
            f"{p.seconds * NOOP_SHARE:g} s)"
        )
        gc.collect()
        gc.freeze()
        meter = OthersMeter(env.cpu_seconds)
        results: list[Measurement] = []
        done: dict[int, int] = {}  # rounds measured per scenario

        async def measure(k: int, step: int | None) -> None:
            if step is None:
                # The previous scenario's tail (outbox deliveries, a checkpoint) is
                # not the no-op's to pay; a no-op leaves nothing behind.
                await env.quiesce()
                call, concurrency, seconds = noop, p.concurrency, p.seconds * NOOP_SHARE
            else:
                _, sc, call = ready[step]
                concurrency, seconds = sc.concurrency or p.concurrency, p.seconds
            gc.collect()
            meter.start()
            result = await run_load(call, concurrency=concurrency, seconds=seconds, warmup=p.warmup)
            results.append(Measurement(result, meter.stop()))
            if k == 0 and result.throughput == 0:
                raise RuntimeError(
                    f"the baseline failed: {result.first_error or 'no call succeeded'}"
                )
            if step is None and k > 0:
                _say_round(k)

        def _say_round(k: int) -> None:
            """The round just completed: the scenario before the no-op at ``k``."""
            i = steps[k - 1]
            assert i is not None
            done[i] = done.get(i, 0) + 1
            before, mid, after = (m.result.throughput for m in results[k - 2 : k + 1])
            noop_rps = (before + after) / 2
            ratio = mid / noop_rps if noop_rps else 0.0
            others = [m.others for m in results[k - 2 : k + 1]]
            busy = f", others used {max(others):.2f} cores" if None not in others else ""  # type: ignore[type-var]
            say(
                f"round {done[i]}/{p.rounds} {ready[i][1].name}: {mid:,.1f} calls/s, no-op "
                f"{before:,.0f} → {after:,.0f}, ratio {ratio:.3g}{busy}"
            )

        try:
            for k, step in enumerate(steps):
                await measure(k, step)
        finally:
            gc.unfreeze()

        baseline = Row(BASELINE.name, baseline=True)
        baseline.noops = [m for m, s in zip(results, steps, strict=True) if s is None]
        for step, rounds in pair(steps, results).items():
            rows[ready[step][0]].rounds = rounds
        return [baseline, *rows]
    finally:
        say("stopping the nodes")
        await env.close()
