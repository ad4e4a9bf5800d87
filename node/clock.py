"""Time and randomness, injected everywhere so that expiry is tested without sleeping.

Production code never calls ``time.time()`` or ``secrets`` directly: it asks the
``Clock`` and the ``Entropy`` it was given. Tests pass a ``FakeClock`` and a seeded
``Entropy`` and move time forward by hand.
"""

from __future__ import annotations

import datetime
import random
import secrets
import time
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = [
    "BEIJING",
    "Clock",
    "SystemClock",
    "FakeClock",
    "Entropy",
    "SystemEntropy",
    "SeededEntropy",
    "MonotonicClock",
]

# China Standard Time (UTC+8, no daylight saving): the settlement year and the day a
# settlement is reconciled in count in it.
BEIJING = datetime.timezone(datetime.timedelta(hours=8))


class Clock:
    """Wall-clock time in seconds since the epoch (float)."""

    def now(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def now_ms(self) -> int:
        return int(self.now() * 1000)


class SystemClock(Clock):
    def now(self) -> float:
        return time.time()


class MonotonicClock(Clock):
    """Seconds that only move forward (``time.monotonic``), for intervals only: the
    rate limits' buckets (node.ratelimit), which neither a wall clock set back nor a
    business clock moved by a test should refill or drain."""

    def now(self) -> float:
        return time.monotonic()


@dataclass
class FakeClock(Clock):
    """A clock that only moves when told to."""

    t: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Entropy:
    """Source of unpredictable bytes and numbers."""

    def token_bytes(self, n: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def token_hex(self, n: int) -> str:
        return self.token_bytes(n).hex()

    def randbelow(self, n: int) -> int:
        return int.from_bytes(self.token_bytes(8), "big") % n


class SystemEntropy(Entropy):
    def token_bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)

    def randbelow(self, n: int) -> int:
        return secrets.randbelow(n)


@dataclass
class SeededEntropy(Entropy):
    """Deterministic entropy for tests and reproducible simulations. Never in production."""

    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def token_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)


def timestamp(ms: int) -> Timestamp:
    """A protobuf Timestamp of milliseconds since the epoch (what every message carries)."""
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts
