"""QrService: a thin adapter from gRPC to :class:`node.qr.issuer.QrIssuer`.

Served by provincial nodes only (the business place issues and alone decodes its
codes); national answers -5. The calling channel is the ``ec-channel-id`` metadata.
"""

from __future__ import annotations

from ecnet.v1 import common_pb2, qr_service_pb2_grpc
from ecnet.v1 import qr_service_pb2 as pb
from node.clock import timestamp
from node.config import ConfigError
from node.domain.regions import region_name
from node.errors import EcError
from node.interceptor import current_caller
from node.qr.issuer import Issued, QrIssuer
from node.qr.settings import QrSettings

__all__ = ["QrServicer"]


def _fields(r: Issued) -> dict:
    """The response fields shared by IssueQrCodeResponse and RefreshQrCodeResponse."""
    if not r.code:
        return {
            "insuredRegions": [
                common_pb2.InsuredRegion(insuOrg=org, insuType=kind, insuOrgName=_name(org))
                for org, kind in r.regions
            ]
        }
    return {"ecQrCode": r.code, "expiresAt": timestamp(r.expires_at), "insuOrg": r.insu_org}


def _name(code: str) -> str:
    try:
        return region_name(code)
    except KeyError:
        return ""


class QrServicer(qr_service_pb2_grpc.QrServiceServicer):
    def __init__(self, node) -> None:  # node: node.app.Node (avoids an import cycle)
        self.node = node
        self._issuer: QrIssuer | None = None
        self.settings: QrSettings | None = None
        if node.config.role == "provincial":
            try:  # a bad setting stops the node at start with one line, not every call later
                self.settings = QrSettings.from_config(node.config.extra)
            except ConfigError as exc:
                from node.app import NodeStartError  # loaded by now: the node is starting

                raise NodeStartError(str(exc)) from None

    def _qr(self) -> QrIssuer:
        if self.node.config.role != "provincial":
            raise EcError(
                -5,
                "QrService is served by the provincial nodes (the business place), not by national",
            )
        if self._issuer is None:  # the store is open once calls arrive
            self._issuer = QrIssuer(self.node, self.settings)
        return self._issuer

    async def IssueQrCode(self, request, context):
        r = await self._qr().issue(
            current_caller().channel_id, request.authCode, request.insuOrg, request.requestId
        )
        return pb.IssueQrCodeResponse(**_fields(r))

    async def RefreshQrCode(self, request, context):
        r = await self._qr().refresh(
            current_caller().channel_id,
            request.authCode,
            request.ecQrCode,
            request.insuOrg,
            request.requestId,
        )
        return pb.RefreshQrCodeResponse(**_fields(r))
