"""The management center's figures (5.2.1): what each node counts, and how national
gathers them for the console and ``ecnet figures``.

**Counted calls.** :class:`CallTally` counts every unary call the node answers (the
interceptor's one call path, ``node.interceptor.CallInterceptor.call``) per hour,
method, C.4 code and calling channel or terminal, and keeps each terminal's and
channel's last call, in memory: a dictionary increment on the event loop, no write on
the call's path. The counts are added to the database (``node.storage.figures``)
every ``flush_seconds`` (``ECNET_FIGURES_FLUSH_SECONDS``, default 5), before every read
of the figures, and when the node stops; a node killed outright loses at most the
last interval's call counts, never a figure of the ledgers (codes, scans,
settlements), which are read from the records themselves.

**Reading.** :class:`FigureSource` answers one node's figures for a range of days
(China Standard Time): national's activations, authorizations and calls, or a
province's codes, scans, settlements, reversals and calls. :func:`figure_rows`
turns them into ``FigureRow`` messages; :func:`days_range` checks the days asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import timestamp
from node.config import ConfigError
from node.errors import EcError, invalid
from node.settlement.statement import DAY_MS, day_range
from node.storage.db import NodeDatabase
from node.storage.figures import (
    Figure,
    TallyKey,
    hour_of,
    q_last_seen,
    q_national_figures,
    q_provincial_figures,
    q_tally_add,
)

__all__ = [
    "MAX_DAYS",
    "MAX_LAST_SEEN",
    "KINDS",
    "CallTally",
    "FigureSource",
    "check_last_seen",
    "days_range",
    "figure_rows",
    "flush_seconds",
    "hour_of",
    "last_seen_rows",
]

log = logging.getLogger("ecnet.figures")

MAX_DAYS = 92
MAX_LAST_SEEN = 200
# Not counted: the no-op of make bench (a call that does nothing says nothing).
_UNCOUNTED = frozenset({"/ecnet.v1.AdminService/Ping"})

#: FigureKind of each kind's name.
KINDS: dict[str, int] = {
    "activation": fed_pb.FIGURE_KIND_ACTIVATION,
    "authorization": fed_pb.FIGURE_KIND_AUTHORIZATION,
    "qr_code": fed_pb.FIGURE_KIND_QR_CODE,
    "scan": fed_pb.FIGURE_KIND_SCAN,
    "settlement": fed_pb.FIGURE_KIND_SETTLEMENT,
    "reversal": fed_pb.FIGURE_KIND_REVERSAL,
    "call": fed_pb.FIGURE_KIND_CALL,
}


def flush_seconds() -> float:
    """``ECNET_FIGURES_FLUSH_SECONDS``: how often the call counts are written."""
    raw = os.environ.get("ECNET_FIGURES_FLUSH_SECONDS", "").strip()
    if not raw:
        return 5.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            f"ECNET_FIGURES_FLUSH_SECONDS={raw!r} is not a number of seconds"
        ) from None
    if not 0 < value <= 3600:
        raise ConfigError(f"ECNET_FIGURES_FLUSH_SECONDS must be in (0, 3600], not {value}")
    return value


class CallTally:
    """The calls of one node counted in memory and added to its database
    (``node.storage.figures.q_tally_add``) now and then; ``now_ms`` the node's clock."""

    def __init__(self, db: NodeDatabase, now_ms: Callable[[], int], every: float = 5.0) -> None:
        self.db = db
        self.now_ms = now_ms
        self.every = every
        self._counts: dict[TallyKey, int] = {}
        self._seen: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def call(self, method: str, code: int, channel: str, terminal: str) -> None:
        """Count one call (the hot path: a clock read and two dictionary stores)."""
        if method in _UNCOUNTED:
            return
        now = self.now_ms()
        key = (now - now % 3_600_000, method, code, channel, terminal)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        if terminal:
            self._seen[terminal] = now
        if channel:
            self._seen[channel] = now

    async def flush(self) -> None:
        """Add what was counted since the last flush (one write transaction)."""
        async with self._lock:
            counts, seen = self._counts, self._seen
            if not counts and not seen:
                return
            self._counts, self._seen = {}, {}
            try:
                await self.db.write(q_tally_add, counts, seen)
            except BaseException:
                # not lost: merged back into what is counted meanwhile, for the next flush
                for key, n in counts.items():
                    self._counts[key] = self._counts.get(key, 0) + n
                for caller, at in seen.items():
                    self._seen[caller] = max(at, self._seen.get(caller, 0))
                raise

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a locked or full disk: kept, tried again
                log.warning("call counts not written", extra={"fields": {"error": str(exc)}})

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._forever())

    async def stop(self) -> None:
        """Stop the periodic flush and write what is left."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.flush()
        except Exception as exc:
            log.warning("call counts not written", extra={"fields": {"error": str(exc)}})


def days_range(from_date: str, to_date: str) -> tuple[int, int]:
    """``[start, end)`` of the days ``from_date`` to ``to_date`` included (China Standard
    Time); -2 for a date not YYYY-MM-DD, a range that ends before it starts, or one
    longer than :data:`MAX_DAYS`."""
    try:
        start, _ = day_range(from_date)
    except EcError as exc:
        raise invalid(exc.message.replace("date ", "fromDate ", 1), field="fromDate") from None
    try:
        last, end = day_range(to_date)
    except EcError as exc:
        raise invalid(exc.message.replace("date ", "toDate ", 1), field="toDate") from None
    if last < start:
        raise invalid(f"toDate {to_date} is before fromDate {from_date}", field="toDate")
    days = (end - start) // DAY_MS
    if days > MAX_DAYS:
        raise invalid(
            f"{days} days asked ({from_date} to {to_date}): at most {MAX_DAYS} at a time",
            field="toDate",
        )
    return start, end


def check_last_seen(callers: Iterable[str]) -> list[str]:
    wanted = list(callers)
    if len(wanted) > MAX_LAST_SEEN:
        raise invalid(
            f"lastSeenOf names {len(wanted)} callers: at most {MAX_LAST_SEEN}",
            field="lastSeenOf",
        )
    return [c[:64] for c in wanted]


@dataclass
class FigureSource:
    """One node's figures: ``national`` True for national's kinds, else a province's
    (``province``); the calls counted by ``tally``, written before each read."""

    db: NodeDatabase
    tally: CallTally
    national: bool
    province: str = ""

    async def read(
        self, from_date: str, to_date: str, last_seen_of: Iterable[str] = ()
    ) -> tuple[list[Figure], dict[str, int]]:
        start, end = days_range(from_date, to_date)
        wanted = check_last_seen(last_seen_of)
        await self.tally.flush()
        query = q_national_figures if self.national else q_provincial_figures
        figures = await self.db.read(query, start, end)
        seen = await self.db.read(q_last_seen, wanted) if wanted else {}
        return figures, seen


def figure_rows(figures: Iterable[Figure], province: str) -> list[fed_pb.FigureRow]:
    """``FigureRow`` messages of one node's figures (``province`` "" at national)."""
    return [
        fed_pb.FigureRow(
            hour=timestamp(f.hour),
            kind=KINDS[f.kind],  # type: ignore[arg-type]
            province=province,
            peerProvince=f.peer_province,
            channel=f.channel,
            method=f.method,
            code=f.code,
            terminal=f.terminal,
            count=f.count,
            feeSumamt=f.fee_sumamt,
            fundPay=f.fund_pay,
            psnAcctPay=f.psn_acct_pay,
            ownPayAmt=f.own_pay_amt,
        )
        for f in figures
    ]


def last_seen_rows(seen: dict[str, int]) -> list[fed_pb.LastSeen]:
    return [fed_pb.LastSeen(caller=c, lastAt=timestamp(at)) for c, at in sorted(seen.items())]
