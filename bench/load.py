"""The load generator: a fixed number of calls in flight, for a warm-up then a window.

``call`` is an async callable that makes one RPC (e.g. ``lambda: stub.Ping(req)``). It
runs in ``concurrency`` tasks of this process's event loop, each starting its next
call as soon as the last one returned (a closed loop). The measured window follows the
warm-up. Throughput counts every successful call by the share of its duration that lies
inside the window (a call half inside counts one half): for fast calls this is the
number completed in the window, and for slow ones (an activation takes most of a
second) it removes the error of cutting 16 calls in flight at both ends of a window of
a few seconds. The latencies (``time.perf_counter``) of the calls that complete inside
the window give p50 and p99. Errors are counted (and the first one kept), never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Call", "LoadResult", "run_load", "percentile"]

Call = Callable[[], Awaitable[Any]]

# After the window, calls still in flight get this long to return before they are cancelled.
DRAIN_TIMEOUT = 15.0


@dataclass(frozen=True)
class LoadResult:
    calls: int  # completed in the window, errors included
    errors: int
    seconds: float
    throughput: float  # successful calls per second (a fast failure is no speed)
    p50_ms: float
    p99_ms: float
    concurrency: int
    first_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def run_load(
    call: Call,
    *,
    concurrency: int = 16,
    seconds: float = 3.0,
    warmup: float = 0.5,
) -> LoadResult:
    """Run ``call`` with ``concurrency`` calls in flight; measure for ``seconds``."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    latencies: list[float] = []
    done = 0.0  # successful calls, each by the share of its duration inside the window
    errors = 0
    first_error = ""
    perf = time.perf_counter
    start = perf() + warmup  # the measured window: [start, end]
    end = start + seconds

    async def worker() -> None:
        # Each worker stops by itself at the end of the window, so even a call that
        # never suspends (and starves the event loop) cannot make the run hang.
        nonlocal done, errors, first_error
        while True:
            t0 = perf()
            failure: Exception | None = None
            try:
                await call()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an RPC error counts, it does not end the run
                failure = exc
            t1 = perf()
            if failure is None and t1 > start and t0 < end:
                inside = min(t1, end) - max(t0, start)
                done += inside / (t1 - t0) if t1 > t0 else 1.0
            if t1 > end:
                return
            if t1 >= start:
                if failure is None:
                    latencies.append(t1 - t0)
                else:
                    errors += 1
                    if not first_error:
                        first_error = _describe(failure)
            if failure is not None:
                await asyncio.sleep(0)  # a failure may come back without ever suspending

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        _, pending = await asyncio.wait(tasks, timeout=warmup + seconds + DRAIN_TIMEOUT)
        for t in pending:
            t.cancel()
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    latencies.sort()
    completed = len(latencies) + errors
    return LoadResult(
        calls=completed,
        errors=errors,
        seconds=seconds,
        throughput=done / seconds,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        concurrency=concurrency,
        first_error=first_error,
    )


def _describe(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    details = getattr(exc, "details", None)
    if callable(code) and callable(details):
        with contextlib.suppress(Exception):
            return f"{code().name}: {details()}"
    return f"{type(exc).__name__}: {exc}"
