"""A small token bucket per person, kept in memory at national.

A bucket holds at most ``burst`` tokens and gains one every ``refill_ms`` of business
time (the node's clock, so tests advance it); :meth:`PersonBuckets.take` spends one or
says how long until the next. Buckets that are full again are forgotten, so the map
holds only the persons who spent a token recently. In memory: a restart refills every
bucket, which the freeze itself (in the database) does not undo.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PersonBuckets"]

# Forget full buckets once the map holds this many (a sweep costs one pass over it).
_SWEEP_AT = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_ms: int


class PersonBuckets:
    def __init__(self, burst: int, refill_ms: int) -> None:
        if burst < 1 or refill_ms < 1:
            raise ValueError("a bucket holds at least one token and refills in at least 1 ms")
        self.burst = burst
        self.refill_ms = refill_ms
        self._buckets: dict[str, _Bucket] = {}

    def _level(self, bucket: _Bucket, now_ms: int) -> float:
        gained = max(0, now_ms - bucket.at_ms) / self.refill_ms
        return min(float(self.burst), bucket.tokens + gained)

    def take(self, key: str, now_ms: int) -> int:
        """Spend a token of ``key``'s bucket: 0 when there was one, else the
        milliseconds until there is (nothing spent)."""
        bucket = self._buckets.get(key)
        level = float(self.burst) if bucket is None else self._level(bucket, now_ms)
        if level < 1:
            return max(1, int((1 - level) * self.refill_ms + 0.999))
        if len(self._buckets) >= _SWEEP_AT:
            self._sweep(now_ms)
        self._buckets[key] = _Bucket(level - 1, now_ms)
        return 0

    def _sweep(self, now_ms: int) -> None:
        full = [k for k, b in self._buckets.items() if self._level(b, now_ms) >= self.burst]
        for k in full:
            del self._buckets[k]
