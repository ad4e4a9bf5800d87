"""SettlementService: a thin adapter from gRPC to :mod:`node.settlement` (provincial
nodes only; failures as a gRPC status with the C.4 code in ``ErrorInfo``).

A settlement, its reversal, the notices and the day's listings answer only those
:class:`~node.services.access.Holders` allows: the institution that made it (the orgId
of the calling terminal), the insured province's node, an operator with a role (-4 for
anyone else)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc

from ecnet.v1 import settlement_service_pb2 as pb
from ecnet.v1 import settlement_service_pb2_grpc
from node.domain.idno import ID_TYPES
from node.errors import Problems, invalid
from node.interceptor import current_caller
from node.services.access import Holders
from node.settlement.core import Settlements, check_input
from node.settlement.wire import (
    day_row_to_proto,
    input_from_proto,
    notice_to_proto,
    settlement_to_proto,
    statement_to_proto,
)

__all__ = ["SettlementServicer", "TerminalCheck"]

# (terminal number, orgId) -> the orgId it is bound to; 500100 for a terminal not
# registered here or bound to another institution, -4 for a caller without a terminal's
# certificate (node.acceptance.terminals.TerminalRegistry.check).
TerminalCheck = Callable[[str, str | None], Awaitable[str]]


class SettlementServicer(settlement_service_pb2_grpc.SettlementServiceServicer):
    """``Settle`` is a terminal's call: the caller's terminal certificate must name a
    terminal of this province bound to the request's ``orgId`` (``terminals``); a
    settlement's reads and its reversal answer only its holders (``holders``)."""

    def __init__(
        self, settlements: Settlements, holders: Holders, terminals: TerminalCheck
    ) -> None:
        self.settlements = settlements
        self.holders = holders
        self.terminals = terminals

    async def Settle(
        self,
        request: pb.SettleRequest,
        context: grpc.aio.ServicerContext[pb.SettleRequest, pb.SettleResponse],
    ) -> pb.SettleResponse:
        settle = check_input(input_from_proto(request))  # every bad field named first
        caller = current_caller()
        if caller.org_id:  # the certificate's institution is the terminal's
            await self.terminals(caller.terminal_id, caller.org_id)
        await self.terminals(caller.terminal_id, settle.org_id)
        row = await self.settlements.settle(settle)
        return pb.SettleResponse(settlement=settlement_to_proto(row))

    async def Reverse(
        self,
        request: pb.ReverseRequest,
        context: grpc.aio.ServicerContext[pb.ReverseRequest, pb.ReverseResponse],
    ) -> pb.ReverseResponse:
        if not request.settlementId:
            raise invalid("settlementId is required", field="settlementId")
        held = await self.settlements.get(request.settlementId)
        await self.holders.check(
            current_caller(),
            f"settlement {held.settlement_id}",
            held.org_id,
            held.insu_org[:2],
            write=True,
        )
        row = await self.settlements.reverse(request.settlementId, request.orgId, request.requestId)
        return pb.ReverseResponse(settlement=settlement_to_proto(row))

    async def GetSettlement(
        self,
        request: pb.GetSettlementRequest,
        context: grpc.aio.ServicerContext[pb.GetSettlementRequest, pb.GetSettlementResponse],
    ) -> pb.GetSettlementResponse:
        row = await self.settlements.get(request.settlementId)
        await self.holders.check(
            current_caller(), f"settlement {row.settlement_id}", row.org_id, row.insu_org[:2]
        )
        return pb.GetSettlementResponse(settlement=settlement_to_proto(row))

    async def ListNotices(
        self,
        request: pb.ListNoticesRequest,
        context: grpc.aio.ServicerContext[pb.ListNoticesRequest, pb.ListNoticesResponse],
    ) -> pb.ListNoticesResponse:
        p = Problems()
        types = f"table C.2: {', '.join(sorted(ID_TYPES))}"
        if p.require("idType", request.idType, hint=types) and request.idType not in ID_TYPES:
            p.wrong("idType", f"{request.idType!r} is not a code of {types}")
        p.require("idNo", request.idNo, hint="the id number of the person whose notices to list")
        p.check()
        # Notices are the insured province's own records of a person: no institution's.
        await self.holders.check(
            current_caller(), "the notices of a person", "", self.settlements.province
        )
        limit = request.limit if 0 < request.limit <= 500 else 50
        received = await self.settlements.notices(request.idType, request.idNo, limit)
        return pb.ListNoticesResponse(
            notices=[notice_to_proto(r.notice, r.received_at) for r in received]
        )

    async def ListDaySettlements(
        self,
        request: pb.ListDaySettlementsRequest,
        context: grpc.aio.ServicerContext[
            pb.ListDaySettlementsRequest, pb.ListDaySettlementsResponse
        ],
    ) -> pb.ListDaySettlementsResponse:
        await self.holders.check(
            current_caller(),
            f"the day's settlements of institution {request.orgId}",
            request.orgId,
            self.settlements.province,
        )
        page = await self.settlements.day_settlements(
            request.orgId, request.date, request.pageSize, request.pageToken
        )
        province = self.settlements.province
        return pb.ListDaySettlementsResponse(
            settlements=[day_row_to_proto(r, province) for r in page.rows],
            nextPageToken=page.next_token,
        )

    async def GetDayStatement(
        self,
        request: pb.GetDayStatementRequest,
        context: grpc.aio.ServicerContext[pb.GetDayStatementRequest, pb.GetDayStatementResponse],
    ) -> pb.GetDayStatementResponse:
        what = (
            f"the day's statement of institution {request.orgId}"
            if request.orgId
            else "the day's statement of the province"
        )
        await self.holders.check(current_caller(), what, request.orgId, self.settlements.province)
        whole, institutions = await self.settlements.day_statement(request.orgId, request.date)
        return pb.GetDayStatementResponse(
            statement=statement_to_proto(whole),
            institutions=[statement_to_proto(s) for s in institutions],
        )
