"""AcceptanceService: a thin adapter from gRPC to :mod:`node.acceptance`.

``Query`` and ``CheckToken`` are the typed calls (failures as a gRPC status with the C.4
code in ``ErrorInfo``); ``Trans`` is the Appendix B envelope, whose failures travel in
the answer's ``code`` and ``message`` with gRPC status OK. The terminal is the one named
by the ``ec-terminal-id`` metadata. Only provincial nodes serve this service.
"""

from __future__ import annotations

import logging

from google.protobuf import struct_pb2

from ecnet.v1 import acceptance_service_pb2 as pb
from ecnet.v1 import acceptance_service_pb2_grpc
from node.acceptance import TokenCheckInput, acceptance_of
from node.acceptance.envelope import trans
from node.acceptance.wire import query_from_proto
from node.errors import EcError, envelope_fields
from node.interceptor import current_caller

__all__ = ["AcceptanceServicer"]

log = logging.getLogger("ecnet.acceptance")


def _value(v: struct_pb2.Value):
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "number_value":
        return v.number_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "struct_value":
        return _plain(v.struct_value)
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    return None


def _plain(s: struct_pb2.Struct) -> dict:
    """A Struct as a dict (what ``MessageToDict`` gives, without its generic walk)."""
    return {key: _value(v) for key, v in s.fields.items()}


class AcceptanceServicer(acceptance_service_pb2_grpc.AcceptanceServiceServicer):
    def __init__(self, node) -> None:  # node: node.app.Node (avoids an import cycle)
        self.node = node

    def _acceptance(self):
        return acceptance_of(self.node)

    async def Query(self, request, context):
        result = await self._acceptance().query(
            current_caller().terminal_id, query_from_proto(request)
        )
        return pb.QueryResponse(**result.as_dict())

    async def CheckToken(self, request, context):
        flag, insu_org = await self._acceptance().check_token(
            TokenCheckInput(
                ecToken=request.ecToken,
                idType=request.idType,
                idNo=request.idNo,
                userName=request.userName,
                orgId=request.orgId,
            )
        )
        return pb.CheckTokenResponse(flag=flag, insuOrg=insu_org)

    async def Trans(self, request, context):
        data = _plain(request.data) if request.HasField("data") else {}
        try:
            answer = {
                "code": 0,
                "message": "success",
                "data": await trans(
                    self._acceptance,
                    current_caller().terminal_id,
                    request.orgId,
                    request.transType,
                    data,
                ),
            }
        except EcError as err:
            answer = envelope_fields(err)
        except Exception:  # a bug: still an envelope, as the DLL contract promises
            log.exception("unexpected error in Trans")
            answer = envelope_fields(
                EcError(-1, f"unexpected error on node {self.node.config.name}; see its log")
            )
        response = pb.TransResponse(
            orgId=request.orgId, code=answer["code"], message=answer["message"]
        )
        response.data.update(answer["data"])
        response.data.SetInParent()
        response.extra.SetInParent()
        return response
