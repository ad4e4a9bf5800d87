"""SettlementService: a thin adapter from gRPC to :mod:`node.settlement` (provincial
nodes only; failures as a gRPC status with the C.4 code in ``ErrorInfo``)."""

from __future__ import annotations

from ecnet.v1 import settlement_service_pb2 as pb
from ecnet.v1 import settlement_service_pb2_grpc
from node.domain.idno import ID_TYPES
from node.errors import invalid
from node.settlement import settlements_of
from node.settlement.notice import list_notices
from node.settlement.wire import input_from_proto, settlement_to_proto

__all__ = ["SettlementServicer"]


class SettlementServicer(settlement_service_pb2_grpc.SettlementServiceServicer):
    def __init__(self, node) -> None:  # node: node.app.Node (avoids an import cycle)
        self.node = node

    async def Settle(self, request, context):
        row = await settlements_of(self.node).settle(input_from_proto(request))
        return pb.SettleResponse(settlement=settlement_to_proto(row))

    async def Reverse(self, request, context):
        if not request.settlementId:
            raise invalid("settlementId is required", field="settlementId")
        row = await settlements_of(self.node).reverse(
            request.settlementId, request.orgId, request.requestId
        )
        return pb.ReverseResponse(settlement=settlement_to_proto(row))

    async def GetSettlement(self, request, context):
        row = await settlements_of(self.node).get(request.settlementId)
        return pb.GetSettlementResponse(settlement=settlement_to_proto(row))

    async def ListNotices(self, request, context):
        settlements_of(self.node)  # provincial nodes only (-5 at national)
        if request.idType not in ID_TYPES or not request.idNo:
            raise invalid(
                f"idType (table C.2: {', '.join(sorted(ID_TYPES))}) and idNo name the person whose "
                "notices to list",
                field="idType",
            )
        limit = request.limit if 0 < request.limit <= 500 else 50
        return pb.ListNoticesResponse(
            notices=await list_notices(self.node, request.idType, request.idNo, limit)
        )
