"""AcceptanceService: a thin adapter from gRPC to :mod:`node.acceptance`.

``Query`` and ``CheckToken`` are the typed calls (failures as a gRPC status with the C.4
code in ``ErrorInfo``); ``Trans`` is the Appendix B envelope, whose failures travel in
the answer's ``code`` and ``message`` with gRPC status OK. The terminal is the one whose
certificate the caller holds (``current_caller().terminal_id``: -4 without one). Only
provincial nodes serve this service.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf import struct_pb2

from ecnet.v1 import acceptance_service_pb2 as pb
from ecnet.v1 import acceptance_service_pb2_grpc
from node.acceptance import Acceptance, TokenCheckInput
from node.acceptance.envelope import trans
from node.acceptance.wire import query_from_proto
from node.errors import EcError, EnvelopeFields, envelope_fields
from node.interceptor import current_caller
from node.services.unserved import unserved

__all__ = ["AcceptanceServicer", "TRANS_METHOD", "acceptance_unserved", "trans_refusal"]

log = logging.getLogger("ecnet.acceptance")


def _value(v: struct_pb2.Value) -> str | float | bool | dict[str, Any] | list[Any] | None:
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


def _plain(s: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a dict (what ``MessageToDict`` gives, without its generic walk)."""
    return {key: _value(v) for key, v in s.fields.items()}


def _envelope(org_id: str, answer: EnvelopeFields) -> pb.TransResponse:
    response = pb.TransResponse(orgId=org_id, code=answer["code"], message=answer["message"])
    response.data.update(answer["data"])
    response.data.SetInParent()
    response.extra.SetInParent()
    return response


TRANS_METHOD = "/ecnet.v1.AcceptanceService/Trans"
"""The full name of ``Trans``, whose refusals travel in its envelope (even of a request
that could not be decoded: :class:`node.interceptor.CallInterceptor`)."""


def trans_refusal(err: EcError) -> pb.TransResponse:
    """The envelope of a refused ``Trans`` whose request could not be read."""
    return _envelope("", envelope_fields(err))


class AcceptanceServicer(acceptance_service_pb2_grpc.AcceptanceServiceServicer):
    """Provincial nodes only; ``node_name`` names the node in the answer to a bug (-1)."""

    def __init__(self, acceptance: Acceptance, node_name: str) -> None:
        self.acceptance = acceptance
        self.node_name = node_name

    async def _certified(self) -> str:
        """The calling terminal's number, its certificate's institution checked against
        the registry (500100 for a certificate naming another institution than the
        terminal is registered for); the request's orgId is checked by the call."""
        caller = current_caller()
        if caller.org_id:
            await self.acceptance.terminals.check(caller.terminal_id, caller.org_id)
        return caller.terminal_id

    async def Query(
        self,
        request: pb.QueryRequest,
        context: grpc.aio.ServicerContext[pb.QueryRequest, pb.QueryResponse],
    ) -> pb.QueryResponse:
        result = await self.acceptance.query(await self._certified(), query_from_proto(request))
        return pb.QueryResponse(**result.as_dict())

    async def CheckToken(
        self,
        request: pb.CheckTokenRequest,
        context: grpc.aio.ServicerContext[pb.CheckTokenRequest, pb.CheckTokenResponse],
    ) -> pb.CheckTokenResponse:
        checked = await self.acceptance.check_token(
            await self._certified(),
            TokenCheckInput(
                ecToken=request.ecToken,
                idType=request.idType,
                idNo=request.idNo,
                userName=request.userName,
                orgId=request.orgId,
            ),
        )
        return pb.CheckTokenResponse(
            flag=checked.flag, insuOrg=checked.insu_org, mismatches=checked.mismatches
        )

    async def Trans(
        self,
        request: pb.TransRequest,
        context: grpc.aio.ServicerContext[pb.TransRequest, pb.TransResponse],
    ) -> pb.TransResponse:
        data = _plain(request.data) if request.HasField("data") else {}
        try:
            answer: EnvelopeFields = {
                "code": 0,
                "message": "success",
                "data": await trans(
                    self.acceptance,
                    await self._certified(),
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
                EcError(-1, f"unexpected error on node {self.node_name}; see its log")
            )
        return _envelope(request.orgId, answer)


def acceptance_unserved(message: str) -> grpc.GenericRpcHandler:
    """AcceptanceService at a node that does not serve it (national): -5 and ``message``;
    ``Trans`` answers with the envelope, whose failures travel in ``code`` and ``message``."""
    return unserved(
        pb.DESCRIPTOR.services_by_name["AcceptanceService"],
        message,
        {"Trans": lambda request, err: _envelope(request.orgId, envelope_fields(err))},
    )
