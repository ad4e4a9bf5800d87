"""The day's reconciliation (对账) of an institution, or of a whole province: the list of
its settlements of a day, and the day's statement.

A day is a calendar day in China Standard Time (UTC+8, no daylight saving): from 00:00
to 24:00 Beijing time. A settlement counts on the day it was settled; its reversal
counts on the day it was reversed, whenever it was settled. So a day's statement
shows what was settled on it (including what was reversed since), what was reversed
on it, and the net, and it no longer changes once the day is over, except by a remote
settlement asked on the day and confirmed by the insured province after it (counted
meanwhile as pending). The list of a day holds the rows behind the statement: the
settlements settled on it, and those of earlier days reversed on it.

Only this province's institutions' settlements count (rows ``local`` and ``serving``
of :mod:`node.storage.settlement`): a settlement made here for an institution of
another province is that province's to reconcile. Local: the person is insured in
this province; remote (异地): elsewhere. The province's statement is the sum of its
institutions' statements, which it carries along.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from node.clock import BEIJING
from node.errors import invalid
from node.storage.db import NodeDatabase
from node.storage.settlement import DayRow, DayTotalsRow, q_day_settlements, q_day_totals

__all__ = [
    "DAY_MS",
    "Totals",
    "Part",
    "Statement",
    "DayPage",
    "day_range",
    "check_org",
    "day_settlements",
    "day_statement",
]

DAY_MS = 86_400_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TOKEN = re.compile(r"([A-Za-z0-9]{12}):(\d{1,16}):(\d{26})")
ORG_LEN = 12
MAX_PAGE = 500
DEFAULT_PAGE = 100


def day_range(date: str) -> tuple[int, int]:
    """[start, end) in ms since the epoch of the calendar day ``date`` (YYYY-MM-DD) in
    China Standard Time; -2 for anything else."""
    day = None
    if _DATE.fullmatch(date):
        try:
            day = datetime.date.fromisoformat(date)
        except ValueError:
            day = None
    if day is None:
        raise invalid(
            f"date {date!r} is not a calendar day written YYYY-MM-DD (e.g. 2026-12-01), "
            "counted in China Standard Time (UTC+8)",
            field="date",
        )
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    start_ms = int(start.timestamp()) * 1000
    return start_ms, start_ms + DAY_MS


def check_org(org_id: str) -> str:
    """``org_id`` if it has the 12 characters of an institution code (机构 ID: H or P, the
    6-digit pooling region, 5 digits); else -2."""
    if len(org_id) != ORG_LEN:
        raise invalid(
            f"orgId {org_id!r} has {len(org_id)} characters; an institution code (机构 ID) has "
            f"{ORG_LEN}, e.g. H44010091111",
            field="orgId",
        )
    return org_id


@dataclass(frozen=True, slots=True)
class Totals:
    """A count of settlements and their sums in fen."""

    count: int = 0
    fee_sumamt: int = 0
    fund_pay: int = 0
    psn_acct_pay: int = 0
    own_pay_amt: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.count + other.count,
            self.fee_sumamt + other.fee_sumamt,
            self.fund_pay + other.fund_pay,
            self.psn_acct_pay + other.psn_acct_pay,
            self.own_pay_amt + other.own_pay_amt,
        )

    def __sub__(self, other: Totals) -> Totals:
        return Totals(
            self.count - other.count,
            self.fee_sumamt - other.fee_sumamt,
            self.fund_pay - other.fund_pay,
            self.psn_acct_pay - other.psn_acct_pay,
            self.own_pay_amt - other.own_pay_amt,
        )

    @staticmethod
    def of(row: DayTotalsRow) -> Totals:
        return Totals(row.count, row.fee_sumamt, row.fund_pay, row.psn_acct_pay, row.own_pay_amt)


@dataclass(frozen=True, slots=True)
class Part:
    """Settled on the day, reversed on the day; the net is what the day leaves."""

    settled: Totals = Totals()
    reversed: Totals = Totals()

    @property
    def net(self) -> Totals:
        return self.settled - self.reversed

    def __add__(self, other: Part) -> Part:
        return Part(self.settled + other.settled, self.reversed + other.reversed)


@dataclass(frozen=True, slots=True)
class Statement:
    """The day's statement of one institution (``org_id``) or of the province ("")."""

    date: str
    province: str
    org_id: str
    start_ms: int
    local: Part = Part()
    remote: Part = Part()
    pending: int = 0

    @property
    def total(self) -> Part:
        return self.local + self.remote

    @property
    def end_ms(self) -> int:
        return self.start_ms + DAY_MS


@dataclass(frozen=True, slots=True)
class DayPage:
    rows: list[DayRow] = field(default_factory=list)
    next_token: str = ""


def _after(token: str, org_id: str, start_ms: int, end_ms: int) -> tuple[int, str] | None:
    if not token:
        return None
    m = _TOKEN.fullmatch(token)
    if m is None or m.group(1) != org_id or not start_ms <= int(m.group(2)) < end_ms:
        raise invalid(
            "pageToken is not one this node issued for this orgId and date: give the "
            "nextPageToken of the previous page, or none for the first",
            field="pageToken",
        )
    return int(m.group(2)), m.group(3)


async def day_settlements(
    db: NodeDatabase, org_id: str, date: str, page_size: int, page_token: str
) -> DayPage:
    """A page of the institution's list of the day (see the module)."""
    check_org(org_id)
    start, end = day_range(date)
    if page_size < 0:
        raise invalid(
            f"pageSize {page_size} is negative: give 1 to {MAX_PAGE}, or 0 for {DEFAULT_PAGE}",
            field="pageSize",
        )
    size = min(page_size or DEFAULT_PAGE, MAX_PAGE)
    after = _after(page_token, org_id, start, end)
    rows = await db.read(q_day_settlements, org_id, start, end, after, size + 1)
    if len(rows) <= size:
        return DayPage(rows)
    last = rows[size - 1]
    return DayPage(rows[:size], f"{org_id}:{last.at}:{last.settlement_id}")


def _fold(rows: Iterable[DayTotalsRow]) -> dict[str, dict[str, Totals]]:
    """{orgId: {kind: totals}}."""
    out: dict[str, dict[str, Totals]] = {}
    for r in rows:
        kinds = out.setdefault(r.org_id, {})
        kinds[r.kind] = kinds.get(r.kind, Totals()) + Totals.of(r)
    return out


async def day_statement(
    db: NodeDatabase, province: str, org_id: str, date: str
) -> tuple[Statement, list[Statement]]:
    """The day's statement of ``org_id``, or of the province when it is "" with its
    institutions' statements (by orgId) that add up to it."""
    if org_id:
        check_org(org_id)
    start, _ = day_range(date)
    got = await db.read(q_day_totals, org_id or None, start, start + DAY_MS)
    settled, reversed_ = _fold(got.settled), _fold(got.reversed)
    orgs = sorted(set(settled) | set(reversed_) | set(got.pending))
    institutions = []
    for org in orgs:
        s, r = settled.get(org, {}), reversed_.get(org, {})
        institutions.append(
            Statement(
                date,
                province,
                org,
                start,
                local=Part(s.get("local", Totals()), r.get("local", Totals())),
                remote=Part(s.get("serving", Totals()), r.get("serving", Totals())),
                pending=got.pending.get(org, 0),
            )
        )
    if org_id:
        return (institutions[0] if institutions else Statement(date, province, org_id, start)), []
    whole = Statement(date, province, "", start)
    for one in institutions:
        whole = Statement(
            date,
            province,
            "",
            start,
            whole.local + one.local,
            whole.remote + one.remote,
            whole.pending + one.pending,
        )
    return whole, institutions
