"""QrService: a thin adapter from gRPC to :class:`node.qr.issuer.QrIssuer`.

Served by provincial nodes only (the business place issues and alone decodes its
codes). The calling channel is the ``ec-channel-id`` metadata.
"""

from __future__ import annotations

from typing import TypedDict

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from ecnet.v1 import qr_service_pb2 as pb
from ecnet.v1 import qr_service_pb2_grpc
from node.clock import timestamp
from node.interceptor import current_caller
from node.qr.issuer import Issued, QrIssuer

__all__ = ["QrServicer"]


class _Fields(TypedDict):
    """Keyword arguments of both responses."""

    ecQrCode: str
    expiresAt: Timestamp
    insuOrg: str


def _fields(r: Issued) -> _Fields:
    """The response fields shared by IssueQrCodeResponse and RefreshQrCodeResponse."""
    return {"ecQrCode": r.code, "expiresAt": timestamp(r.expires_at), "insuOrg": r.insu_org}


class QrServicer(qr_service_pb2_grpc.QrServiceServicer):
    def __init__(self, issuer: QrIssuer) -> None:
        self.issuer = issuer

    async def IssueQrCode(
        self,
        request: pb.IssueQrCodeRequest,
        context: grpc.aio.ServicerContext[pb.IssueQrCodeRequest, pb.IssueQrCodeResponse],
    ) -> pb.IssueQrCodeResponse:
        r = await self.issuer.issue(
            current_caller().channel_id, request.authCode, request.insuOrg, request.requestId
        )
        return pb.IssueQrCodeResponse(**_fields(r))

    async def RefreshQrCode(
        self,
        request: pb.RefreshQrCodeRequest,
        context: grpc.aio.ServicerContext[pb.RefreshQrCodeRequest, pb.RefreshQrCodeResponse],
    ) -> pb.RefreshQrCodeResponse:
        r = await self.issuer.refresh(
            current_caller().channel_id,
            request.authCode,
            request.ecQrCode,
            request.insuOrg,
            request.requestId,
        )
        return pb.RefreshQrCodeResponse(**_fields(r))
