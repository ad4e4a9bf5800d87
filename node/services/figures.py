"""The management center's figures and an institution's day, as ``AdminService``
(``GetFigures``, ``GetInstitutionDay``) and ``FederationService`` (``CollectFigures``,
``CollectInstitutionDay``) answer them.

A province answers from its own records (``node.figures.FigureSource``; the day's
statement of ``node.settlement.statement``). National answers ``GetFigures`` with its
own figures and every registered province's, asked at once through the hub's
forwarder (``federation.forward``, within :data:`COLLECT_DEADLINE` seconds each): a
province that is not up, or does not answer, is named in ``missing`` with why, and
the others' figures are answered all the same. ``GetInstitutionDay`` goes to the
institution's province (its orgId names its pooling region, whose first two digits
are the province), or to the province asked.

A province operator (pNN) sees the rows of its province only: those its node counted,
and national's of persons insured there; an institution's day of its province only
(-4 for another). Persons' names in a day's settlements are masked for every operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ecnet.v1 import admin_service_pb2 as pb
from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.directory import Directory, NodeStatus
from federation.forward import Forwarder
from node.clock import Clock, timestamp
from node.domain.masking import mask_name
from node.domain.regions import is_province
from node.errors import EcError, invalid
from node.figures import FigureSource, figure_rows, last_seen_rows
from node.settlement.core import Settlements
from node.settlement.statement import check_org
from node.settlement.wire import day_row_to_proto, statement_to_proto

__all__ = ["COLLECT_DEADLINE", "Figures", "NationalFigures", "institution_day"]

#: Seconds national waits for each province's figures.
COLLECT_DEADLINE = 5.0


def narrow(rows: Iterable[fed_pb.FigureRow], scope: str) -> list[fed_pb.FigureRow]:
    """The rows a caller limited to province ``scope`` may see ("" for all)."""
    if not scope:
        return list(rows)
    return [r for r in rows if r.province == scope or r.peerProvince == scope]


def _latest(into: dict[str, int], seen: Iterable[fed_pb.LastSeen]) -> None:
    for s in seen:
        at = s.lastAt.seconds * 1000 + s.lastAt.nanos // 1_000_000
        into[s.caller] = max(at, into.get(s.caller, 0))


def province_of_org(org_id: str, asked: str) -> str:
    """The province that serves institution ``org_id``: ``asked``, or the first two
    digits of the pooling region its code names (H or P, 6-digit region, 5 digits)."""
    check_org(org_id)
    if asked:
        if not is_province(asked):
            raise invalid(f"province {asked!r} is not a 2-digit province code", field="province")
        return asked
    province = org_id[1:3]
    if not is_province(province):
        raise invalid(
            f"orgId {org_id!r} names no province (its 2nd and 3rd characters are the "
            "province of its pooling region): give province",
            field="orgId",
        )
    return province


async def institution_day(
    settlements: Settlements, request: fed_pb.CollectInstitutionDayRequest
) -> fed_pb.CollectInstitutionDayResponse:
    """An institution's day at this province: its statement and a page of its
    settlements (the answers of GetDayStatement and ListDaySettlements)."""
    statement, _ = await settlements.day_statement(request.orgId, request.date)
    page = await settlements.day_settlements(
        request.orgId, request.date, request.pageSize, request.pageToken
    )
    return fed_pb.CollectInstitutionDayResponse(
        statement=statement_to_proto(statement),
        settlements=[day_row_to_proto(r, settlements.province) for r in page.rows],
        nextPageToken=page.next_token,
    )


def _masked_day(
    province: str, day: fed_pb.CollectInstitutionDayResponse
) -> pb.GetInstitutionDayResponse:
    out = pb.GetInstitutionDayResponse(
        province=province, statement=day.statement, nextPageToken=day.nextPageToken
    )
    for s in day.settlements:
        row = out.settlements.add()
        row.CopyFrom(s)
        row.userName = mask_name(s.userName)
    return out


class Figures:
    """A province's answers: its own figures, its own institutions' days."""

    def __init__(self, source: FigureSource, clock: Clock, settlements: Settlements | None) -> None:
        self.source = source
        self.clock = clock
        self.settlements = settlements

    async def collect(self, request: fed_pb.CollectFiguresRequest) -> fed_pb.CollectFiguresResponse:
        figures, seen = await self.source.read(request.fromDate, request.toDate, request.lastSeenOf)
        return fed_pb.CollectFiguresResponse(
            rows=figure_rows(figures, self.source.province), lastSeen=last_seen_rows(seen)
        )

    async def figures(self, request: pb.GetFiguresRequest, scope: str) -> pb.GetFiguresResponse:
        asked = fed_pb.CollectFiguresRequest(
            fromDate=request.fromDate, toDate=request.toDate, lastSeenOf=request.lastSeenOf
        )
        only = _province_asked(request.province, scope)
        got = await self.collect(asked)
        return pb.GetFiguresResponse(
            rows=narrow(got.rows, only),
            asOf=timestamp(self.clock.now_ms()),
            lastSeen=got.lastSeen,
        )

    async def institution(
        self, request: pb.GetInstitutionDayRequest, scope: str
    ) -> pb.GetInstitutionDayResponse:
        province = province_of_org(request.orgId, request.province or self.source.province)
        if province != self.source.province or self.settlements is None:
            raise invalid(
                f"institution {request.orgId} is served by province {province}, not here "
                f"(province {self.source.province}): ask national or that province"
            )
        _in_scope(province, scope, request.orgId)
        day = await institution_day(
            self.settlements,
            fed_pb.CollectInstitutionDayRequest(
                orgId=request.orgId,
                date=request.date,
                pageSize=request.pageSize,
                pageToken=request.pageToken,
            ),
        )
        return _masked_day(province, day)


def _province_asked(asked: str, scope: str) -> str:
    """The province whose figures are asked: ``asked``, or a province operator's own
    (``scope``); -4 when a province operator asks for another."""
    if scope and asked and asked != scope:
        raise EcError(
            -4,
            f"an operator of province {scope} sees its own province's figures only, "
            f"not province {asked}'s",
        )
    return scope or asked


def _in_scope(province: str, scope: str, org_id: str) -> None:
    if scope and province != scope:
        raise EcError(
            -4,
            f"institution {org_id} is of province {province}: an operator of province "
            f"{scope} sees its own province's institutions only",
        )


class NationalFigures(Figures):
    """National's answers: its own figures and every registered province's."""

    def __init__(
        self, source: FigureSource, clock: Clock, directory: Directory, forwarder: Forwarder
    ) -> None:
        super().__init__(source, clock, None)
        self.directory = directory
        self.forwarder = forwarder

    async def figures(self, request: pb.GetFiguresRequest, scope: str) -> pb.GetFiguresResponse:
        only = _province_asked(request.province, scope)
        if only and not is_province(only):
            raise invalid(f"province {only!r} is not a 2-digit province code", field="province")
        asked = fed_pb.CollectFiguresRequest(
            fromDate=request.fromDate, toDate=request.toDate, lastSeenOf=request.lastSeenOf
        )
        own = await self.collect(asked)  # checks the dates first (-2)
        rows = narrow(own.rows, only)
        seen: dict[str, int] = {}
        _latest(seen, own.lastSeen)
        missing: list[pb.MissingFigures] = []

        async def one(province: str, status: str) -> None:
            if status != NodeStatus.UP:
                missing.append(pb.MissingFigures(province=province, reason=f"the node is {status}"))
                return
            try:
                got: fed_pb.CollectFiguresResponse = await self.forwarder.forward(
                    province,
                    "the province",
                    lambda peer, timeout: peer.federation.CollectFigures(
                        asked, timeout=timeout, metadata=peer.metadata
                    ),
                    None,
                    COLLECT_DEADLINE,
                )
            except EcError as err:
                missing.append(pb.MissingFigures(province=province, reason=err.message))
                return
            for r in got.rows:
                r.province = province  # whatever it wrote: these are its figures
            rows.extend(narrow(got.rows, only))
            _latest(seen, got.lastSeen)

        nodes = [
            (row.province, status)
            for row, status in await self.directory.nodes()
            if not only or row.province == only
        ]
        await asyncio.gather(*(one(p, s) for p, s in nodes))
        missing.sort(key=lambda m: m.province)
        return pb.GetFiguresResponse(
            rows=rows,
            missing=missing,
            asOf=timestamp(self.clock.now_ms()),
            lastSeen=last_seen_rows(seen),
        )

    async def institution(
        self, request: pb.GetInstitutionDayRequest, scope: str
    ) -> pb.GetInstitutionDayResponse:
        province = province_of_org(request.orgId, request.province)
        _in_scope(province, scope, request.orgId)
        asked = fed_pb.CollectInstitutionDayRequest(
            orgId=request.orgId,
            date=request.date,
            pageSize=request.pageSize,
            pageToken=request.pageToken,
        )
        day: fed_pb.CollectInstitutionDayResponse = await self.forwarder.forward(
            province,
            "the institution's province",
            lambda peer, timeout: peer.federation.CollectInstitutionDay(
                asked, timeout=timeout, metadata=peer.metadata
            ),
            None,
            COLLECT_DEADLINE,
        )
        return _masked_day(province, day)
