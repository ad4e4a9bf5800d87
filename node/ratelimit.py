"""Rate limits: token buckets per channel, terminal, operator and person, in memory.

Every call a node answers passes :meth:`RateLimiter.admit` in the interceptor (the one
place limits are checked), after its caller is known and its request decoded. Each key
the call carries takes one token from its bucket:

* ``channel``: the ``ec-channel-id`` the call is made for;
* ``terminal``: the ``ec-terminal-id`` it is made from;
* ``operator``: the verified identity of the connection (an operator's certificate),
  for a call that names neither a channel nor a terminal (a call made for a channel or
  from a terminal is charged to it). Nodes are not limited: a province routes its own
  clients' calls to national, and those were limited where they came in;
* ``password``: the id number of an ``Authorize`` (each one is a password attempt);
* ``realperson``: the id number of a ``RealNameCheck`` (each real-person check needs a
  real-name serial, which only it hands out) and the serial of a ``RealPersonCheck``.

The channel and terminal keys are what ``current_caller()`` says: today the
``ec-channel-id`` and ``ec-terminal-id`` claims, which a caller could vary to spread its
calls over many buckets; once channels and terminals hold certificates of their own
(issue 13, parts 1 and 2) the keys are those identities, and nothing here changes.

A bucket holds ``burst`` tokens and refills at its rate, by the clock the node gives
(``node.clock.MonotonicClock`` unless a test injects one); an empty bucket refuses the
call, and a refused call takes no token from any bucket. The refusal carries, in its
ErrorInfo metadata, ``retryAfterMs`` (when one token will be back), ``limit`` (which
bucket) and, for -6, ``key`` (the channel, terminal or operator; a person's id number is
never named).

Which code (table C.4)
----------------------

* **-6** 触发限流 ("rate limit triggered", 系统级): the call rate of a channel, a terminal
  or an operator. It is the platform throttling a client that calls too fast, whatever
  the business, so a system-level code, as -3 (timeout) and -4 (permission) are.
* **500084** 请求过于频繁, 请稍后再试 ("requests too frequent, please try later", 电子凭证中心):
  password attempts and real-person checks of one person. That is the voucher center
  telling a holder (whose app shows the message) to wait before trying their own voucher
  again, the business answer the table's wording is written for; it applies whichever
  channel or terminal the attempts come from.

Both are gRPC RESOURCE_EXHAUSTED. Buckets are a dict, no database: a node restarted
starts with full buckets (the password freeze of ``node.voucher`` is what survives).
The dict is bounded: past ``max_keys`` buckets that have refilled (the same as absent)
are dropped, then the oldest. Each refusal is told to ``refused`` (``node.metrics``:
``ecnet_rate_limit_refusals_total`` per kind and key, a person's key left out).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from node.clock import Clock
from node.errors import EcError
from node.pki import Identity
from node.pki import Role as IdentityRole
from node.settings import read_settings

__all__ = ["LimitSettings", "RateLimiter", "PERSON_KEYS"]

OFF = {"zero_ok": True}


@dataclass(frozen=True)
class LimitSettings:
    """Per node: ``extra`` keys ``limits_<name>`` or ``ECNET_LIMITS_<NAME>``. A rate of 0
    turns that limit off. Rates are tokens per second (``per_minute``: per minute)."""

    channel_per_second: float = field(default=200.0, metadata=OFF)
    channel_burst: int = 400
    terminal_per_second: float = field(default=20.0, metadata=OFF)
    terminal_burst: int = 50
    operator_per_second: float = field(default=50.0, metadata=OFF)
    operator_burst: int = 200
    # Password attempts of one person: with the freeze after five wrong ones, at most
    # a few dozen guesses an hour whatever the real-person checks.
    password_per_minute: float = field(default=1.0, metadata=OFF)
    password_burst: int = 10
    realperson_per_minute: float = field(default=0.5, metadata=OFF)
    realperson_burst: int = 10
    # Buckets kept at most (memory bound; a dropped bucket was full or the oldest).
    max_keys: int = 100_000

    @classmethod
    def from_config(cls, extra: Mapping[str, str]) -> LimitSettings:
        return read_settings(cls, "limits", extra, key_prefix="limits_")

    def rule(self, kind: str) -> tuple[float, int]:
        """(tokens per second, burst) of a kind of bucket."""
        if kind in ("password", "realperson"):
            return getattr(self, f"{kind}_per_minute") / 60.0, getattr(self, f"{kind}_burst")
        return getattr(self, f"{kind}_per_second"), getattr(self, f"{kind}_burst")


# method → (bucket kind, the request field holding the person's key)
PERSON_KEYS: dict[str, tuple[str, str]] = {
    "/ecnet.v1.VoucherService/Authorize": ("password", "idNo"),
    "/ecnet.v1.VoucherService/RealNameCheck": ("realperson", "idNo"),
    "/ecnet.v1.VoucherService/RealPersonCheck": ("realperson", "realNameSerial"),
}
_PERSON_KINDS = frozenset(kind for kind, _ in PERSON_KEYS.values())


class Keyed(Protocol):
    """What a limit reads of a caller (node.interceptor.Caller)."""

    @property
    def identity(self) -> Identity | None: ...
    @property
    def channel_id(self) -> str: ...
    @property
    def terminal_id(self) -> str: ...


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class RateLimiter:
    """The buckets of one node; ``clock`` (node.clock) says the time."""

    def __init__(
        self,
        settings: LimitSettings,
        clock: Clock,
        refused: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        # Told of each refusal: (kind, key), the key empty for a person's limits, whose
        # key is an id number or a serial (node.metrics counts them).
        self._told = refused
        self._rules = {
            k: settings.rule(k)
            for k in ("channel", "terminal", "operator", "password", "realperson")
        }
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def keys(self, method: str, caller: Keyed, request: object) -> list[tuple[str, str]]:
        """The buckets a call takes from."""
        keys: list[tuple[str, str]] = []
        if caller.channel_id:
            keys.append(("channel", caller.channel_id))
        if caller.terminal_id:
            keys.append(("terminal", caller.terminal_id))
        identity = caller.identity
        if (
            not keys
            and identity is not None
            and identity.role not in (IdentityRole.NATIONAL, IdentityRole.PROVINCE)
        ):
            keys.append(("operator", str(identity)))
        person = PERSON_KEYS.get(method)
        if person is not None:
            value = getattr(request, person[1], "")
            if isinstance(value, str) and value:
                keys.append((person[0], value.strip().upper()[:64]))
        return keys

    def admit(self, method: str, caller: Keyed, request: object) -> None:
        """Take a token from each bucket of the call, or raise -6 / 500084 (taking none)."""
        keys = self.keys(method, caller, request)
        if not keys:
            return
        now = self.clock.now()
        buckets: list[_Bucket] = []
        for key in keys:
            rate, burst = self._rules[key[0]]
            if rate <= 0:
                continue
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(float(burst), now)
                if len(self._buckets) >= self.settings.max_keys:
                    self._prune(now)
                self._buckets[key] = bucket
            else:
                elapsed = max(0.0, now - bucket.at)
                bucket.tokens = min(float(burst), bucket.tokens + elapsed * rate)
                bucket.at = now
            if bucket.tokens < 1.0:
                if self._told is not None:
                    self._told(key[0], "" if key[0] in _PERSON_KINDS else key[1])
                raise self._refusal(key, (1.0 - bucket.tokens) / rate)
            buckets.append(bucket)
        for bucket in buckets:
            bucket.tokens -= 1.0

    def _refusal(self, key: tuple[str, str], wait_s: float) -> EcError:
        kind, value = key
        retry_ms = max(1, math.ceil(wait_s * 1000))
        if kind in _PERSON_KINDS:
            what = "password attempts" if kind == "password" else "real-person checks"
            return EcError(
                500084,
                f"too many {what} for this person; try again in {_seconds(retry_ms)}",
                retryAfterMs=str(retry_ms),
                limit=kind,
            )
        return EcError(
            -6,
            f"rate limit of {kind} {value} reached; try again in {_seconds(retry_ms)}",
            retryAfterMs=str(retry_ms),
            limit=kind,
            key=value,
        )

    def _prune(self, now: float) -> None:
        """Drop the buckets that have refilled; if none has, the oldest half."""
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.at) * self._rules[key[0]][0] >= self._rules[key[0]][1]
        ]
        if not full:
            oldest: Callable[[tuple[str, str]], float] = lambda k: self._buckets[k].at  # noqa: E731
            full = sorted(self._buckets, key=oldest)[: max(1, len(self._buckets) // 2)]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s" if ms < 60_000 else f"{math.ceil(ms / 60_000)} min"
