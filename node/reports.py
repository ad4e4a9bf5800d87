"""The management center's reports, made of the figures national gathers
(``AdminService/GetFigures``, ``node.services.figures``): the one place that adds them
up, so that the console's pages and CSV files and ``ecnet report`` say the same.

* :func:`daily` — per day and province, or per day and channel: activations,
  authorizations, QR codes, scans, settlements and reversals, with the settlements' and
  reversals' sums in fen (fund, personal account, own pay). An activation or
  authorization counts for the person's insured province (national keeps them); a code
  for the province that issued it; a scan, settlement or reversal for the serving
  province. Per channel: activations, authorizations and codes (the channel a person
  used) and the channel's calls, refusals and rate-limit refusals.
* :func:`hourly` — scans and settlements per province and hour of one day.
* :func:`matrix` — the cross-province matrix: who served whom.
* :func:`refusals` — calls refused, by method and C.4 code.
* :func:`supervision` — per channel: calls, refusals, refusal rate, rate-limit hits.

Days and hours are China Standard Time's. :func:`csv_text` writes a report as CSV
(amounts in fen, as integers).
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

from ecnet.v1 import federation_service_pb2 as fed_pb

__all__ = [
    "CST",
    "RATE_LIMITED",
    "Line",
    "ChannelLine",
    "cst_day",
    "cst_hour",
    "daily",
    "daily_by_channel",
    "hourly",
    "matrix",
    "refusals",
    "supervision",
    "csv_text",
]

CST = datetime.timezone(datetime.timedelta(hours=8))
#: The C.4 codes of a call refused by a rate limit (node.ratelimit).
RATE_LIMITED = frozenset({-6, 500084})
K = fed_pb.FigureKind


def _ms(row: fed_pb.FigureRow) -> int:
    return row.hour.seconds * 1000 + row.hour.nanos // 1_000_000


def cst_day(ms: int) -> str:
    """The calendar day (China Standard Time) of ``ms``, YYYY-MM-DD."""
    return datetime.datetime.fromtimestamp(ms / 1000, CST).date().isoformat()


def cst_hour(ms: int) -> int:
    """The hour of the day (0-23, China Standard Time) of ``ms``."""
    return datetime.datetime.fromtimestamp(ms / 1000, CST).hour


@dataclass
class Line:
    """One day of one province (or of the whole nation: province "")."""

    date: str
    province: str
    activations: int = 0
    authorizations: int = 0
    qr_codes: int = 0
    scans: int = 0
    settlements: int = 0
    fee_fen: int = 0
    fund_fen: int = 0
    psn_acct_fen: int = 0
    own_pay_fen: int = 0
    reversals: int = 0
    reversed_fee_fen: int = 0
    reversed_fund_fen: int = 0
    reversed_psn_acct_fen: int = 0
    reversed_own_pay_fen: int = 0

    def add(self, row: fed_pb.FigureRow) -> None:
        kind, n = row.kind, row.count
        if kind == K.FIGURE_KIND_ACTIVATION:
            self.activations += n
        elif kind == K.FIGURE_KIND_AUTHORIZATION:
            self.authorizations += n
        elif kind == K.FIGURE_KIND_QR_CODE:
            self.qr_codes += n
        elif kind == K.FIGURE_KIND_SCAN:
            self.scans += n
        elif kind == K.FIGURE_KIND_SETTLEMENT:
            self.settlements += n
            self.fee_fen += row.feeSumamt
            self.fund_fen += row.fundPay
            self.psn_acct_fen += row.psnAcctPay
            self.own_pay_fen += row.ownPayAmt
        elif kind == K.FIGURE_KIND_REVERSAL:
            self.reversals += n
            self.reversed_fee_fen += row.feeSumamt
            self.reversed_fund_fen += row.fundPay
            self.reversed_psn_acct_fen += row.psnAcctPay
            self.reversed_own_pay_fen += row.ownPayAmt


def _province_of(row: fed_pb.FigureRow) -> str:
    """The province a row counts for: national's (activations, authorizations) the
    person's insured province; every other the province that counted it."""
    return row.province or row.peerProvince


def daily(rows: Iterable[fed_pb.FigureRow]) -> list[Line]:
    """Per day and province, in order; calls are not in it (see :func:`supervision`)."""
    lines: dict[tuple[str, str], Line] = {}
    for row in rows:
        if row.kind == K.FIGURE_KIND_CALL:
            continue
        key = (cst_day(_ms(row)), _province_of(row))
        line = lines.get(key)
        if line is None:
            line = lines[key] = Line(*key)
        line.add(row)
    return [lines[k] for k in sorted(lines)]


@dataclass
class ChannelLine:
    """One day of one channel."""

    date: str
    channel: str
    activations: int = 0
    authorizations: int = 0
    qr_codes: int = 0
    calls: int = 0
    refused: int = 0
    rate_limited: int = 0


def daily_by_channel(rows: Iterable[fed_pb.FigureRow]) -> list[ChannelLine]:
    """Per day and channel, in order (rows of no channel left out)."""
    lines: dict[tuple[str, str], ChannelLine] = {}
    for row in rows:
        if not row.channel:
            continue
        key = (cst_day(_ms(row)), row.channel)
        line = lines.get(key)
        if line is None:
            line = lines[key] = ChannelLine(*key)
        if row.kind == K.FIGURE_KIND_ACTIVATION:
            line.activations += row.count
        elif row.kind == K.FIGURE_KIND_AUTHORIZATION:
            line.authorizations += row.count
        elif row.kind == K.FIGURE_KIND_QR_CODE:
            line.qr_codes += row.count
        elif row.kind == K.FIGURE_KIND_CALL:
            line.calls += row.count
            if row.code != 0:
                line.refused += row.count
            if row.code in RATE_LIMITED:
                line.rate_limited += row.count
    return [lines[k] for k in sorted(lines)]


def hourly(rows: Iterable[fed_pb.FigureRow], date: str) -> dict[str, dict[str, list[int]]]:
    """{province: {"scans": [24 counts], "settlements": [24 counts]}} of day ``date``."""
    out: dict[str, dict[str, list[int]]] = {}
    for row in rows:
        name = {K.FIGURE_KIND_SCAN: "scans", K.FIGURE_KIND_SETTLEMENT: "settlements"}.get(row.kind)
        ms = _ms(row)
        if name is None or cst_day(ms) != date:
            continue
        per = out.setdefault(row.province, {"scans": [0] * 24, "settlements": [0] * 24})
        per[name][cst_hour(ms)] += row.count
    return dict(sorted(out.items()))


@dataclass
class Cell:
    """What one serving province did for the persons of one insured province."""

    scans: int = 0
    settlements: int = 0
    fee_fen: int = 0


def matrix(rows: Iterable[fed_pb.FigureRow]) -> dict[tuple[str, str], Cell]:
    """{(serving province, insured province): Cell}: who served whom."""
    out: dict[tuple[str, str], Cell] = {}
    for row in rows:
        if row.kind not in (K.FIGURE_KIND_SCAN, K.FIGURE_KIND_SETTLEMENT) or not row.peerProvince:
            continue
        cell = out.setdefault((row.province, row.peerProvince), Cell())
        if row.kind == K.FIGURE_KIND_SCAN:
            cell.scans += row.count
        else:
            cell.settlements += row.count
            cell.fee_fen += row.feeSumamt
    return out


def refusals(rows: Iterable[fed_pb.FigureRow]) -> dict[tuple[str, int], int]:
    """{(method, C.4 code): calls refused}, the most first."""
    out: dict[tuple[str, int], int] = {}
    for row in rows:
        if row.kind == K.FIGURE_KIND_CALL and row.code != 0:
            key = (row.method, row.code)
            out[key] = out.get(key, 0) + row.count
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class Supervised:
    """A channel's calls (5.2.1 渠道监管): how many, refused, rate-limited."""

    calls: int = 0
    refused: int = 0
    rate_limited: int = 0
    by_code: dict[int, int] = field(default_factory=dict)

    @property
    def refusal_rate(self) -> float:
        return self.refused / self.calls if self.calls else 0.0


def supervision(rows: Iterable[fed_pb.FigureRow]) -> dict[str, Supervised]:
    """{channel: Supervised} of the calls channels made."""
    out: dict[str, Supervised] = {}
    for row in rows:
        if row.kind != K.FIGURE_KIND_CALL or not row.channel:
            continue
        s = out.setdefault(row.channel, Supervised())
        s.calls += row.count
        if row.code != 0:
            s.refused += row.count
            s.by_code[row.code] = s.by_code.get(row.code, 0) + row.count
        if row.code in RATE_LIMITED:
            s.rate_limited += row.count
    return dict(sorted(out.items()))


def csv_text(lines: Sequence[Line] | Sequence[ChannelLine], kind: type = Line) -> str:
    """The lines (of ``kind``: :class:`Line` or :class:`ChannelLine`) as CSV, a header of
    their field names first."""
    names = [f.name for f in fields(kind)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(names)
    for line in lines:
        writer.writerow([getattr(line, n) for n in names])
    return buf.getvalue()
