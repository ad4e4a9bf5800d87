"""How busy the rest of the machine was during a measurement.

The load average cannot tell: it counts the bench and its nodes too. Instead the CPU
time the whole machine spent busy (``/proc/stat``) is compared with what the bench
process and its nodes used (:meth:`bench.env.Env.cpu_seconds`); the difference is what
*other* processes took, given in cores (0 to ``os.cpu_count()``). On two shared cores a
few tenths of a core taken by someone else's test suite already moves a ratio by more
than 10%, because it does not slow a one-hop no-op and a three-node scenario alike.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["machine_busy_seconds", "OthersMeter"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_seconds() -> float | None:
    """CPU seconds every core together spent busy since boot (not idle, not waiting
    for I/O); None without ``/proc/stat``."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal (guest is inside user already)
    values = [int(v) for v in fields[1:9]]
    busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7]
    return busy / _TICKS


class OthersMeter:
    """``start()`` then ``stop()``: the cores other processes used in between (None when
    unknown). ``ours`` returns the CPU seconds of the bench and its nodes so far."""

    def __init__(self, ours: Callable[[], float | None]) -> None:
        self._ours = ours
        self._start: tuple[float, float | None, float | None] | None = None

    def start(self) -> None:
        self._start = (time.monotonic(), machine_busy_seconds(), self._ours())

    def stop(self) -> float | None:
        if self._start is None:
            return None
        t0, busy0, ours0 = self._start
        busy1, ours1 = machine_busy_seconds(), self._ours()
        elapsed = time.monotonic() - t0
        if None in (busy0, ours0, busy1, ours1) or elapsed <= 0:
            return None
        return max(0.0, ((busy1 - busy0) - (ours1 - ours0)) / elapsed)  # type: ignore[operator]
