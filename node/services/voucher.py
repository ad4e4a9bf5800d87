"""VoucherService: a thin adapter from gRPC to the lifecycle functions of node/voucher/.

Each method reads the calling channel from ``current_caller()`` (the ``ec-channel-id``
metadata), calls one typed function and turns its result into the response message.
Rules, checks and error codes live in :mod:`node.voucher`; only national serves this.
"""

from __future__ import annotations

from ecnet.v1 import common_pb2, voucher_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as pb
from node import voucher
from node.clock import timestamp
from node.domain.regions import region_name
from node.errors import EcError
from node.interceptor import current_caller
from node.voucher.biometric import SimulatedFaceVerifier
from node.voucher.model import AuthorizationView

__all__ = ["VoucherServicer", "authorization_pb", "lifecycle_of", "regions_pb"]


def _name(code: str) -> str:
    try:
        return region_name(code)
    except KeyError:
        return ""


def regions_pb(regions) -> list[common_pb2.InsuredRegion]:
    return [
        common_pb2.InsuredRegion(
            insuOrg=r.insu_org, insuType=r.insu_type, insuOrgName=_name(r.insu_org)
        )
        for r in regions
    ]


def authorization_pb(a: AuthorizationView) -> common_pb2.Authorization:
    out = common_pb2.Authorization(
        channelId=a.channel_id,
        channelName=a.channel_name,
        authorizedAt=timestamp(a.authorized_at),
        revoked=a.revoked_at is not None,
        authCode=a.auth_code,
    )
    if a.revoked_at is not None:
        out.revokedAt.CopyFrom(timestamp(a.revoked_at))
    return out


def lifecycle_of(node) -> voucher.Lifecycle:
    """The node's lifecycle, built on first use (the store is open by then)."""
    lc = getattr(node, "voucher_lifecycle", None)
    if lc is None:
        settings = voucher.LifecycleSettings.from_config(node.config.extra)
        verifier = getattr(node, "liveness_verifier", None) or SimulatedFaceVerifier(
            settings.liveness_window * 1000
        )

        def wake() -> None:
            delivery = getattr(node, "delivery", None)
            if delivery is not None:
                delivery.wake()

        lc = voucher.Lifecycle(node.store, node.clock, node.entropy, settings, verifier, wake)
        node.voucher_lifecycle = lc
    return lc


class VoucherServicer(voucher_service_pb2_grpc.VoucherServiceServicer):
    def __init__(self, node) -> None:  # node: node.app.Node (avoids an import cycle)
        self.node = node

    def _lc(self) -> voucher.Lifecycle:
        if self.node.config.role != "national":
            raise EcError(
                -5,
                f"VoucherService is served by the national node, not by province {self.node.config.province}",
            )
        return lifecycle_of(self.node)

    @staticmethod
    def _channel() -> str:
        return current_caller().channel_id

    async def RealNameCheck(self, request, context):
        r = await voucher.real_name_check(
            self._lc(),
            self._channel(),
            request.userName,
            request.idType,
            request.idNo,
            request.requestId,
        )
        return pb.RealNameCheckResponse(
            realNameSerial=r.real_name_serial,
            expiresAt=timestamp(r.expires_at),
            livenessChallenge=r.liveness_challenge,
        )

    async def RealPersonCheck(self, request, context):
        r = await voucher.real_person_check(
            self._lc(), self._channel(), request.realNameSerial, request.livenessSample
        )
        return pb.RealPersonCheckResponse(
            realPersonSerial=r.real_person_serial,
            expiresAt=timestamp(r.expires_at),
            unfrozen=r.unfrozen,
        )

    async def OpenPasswordPage(self, request, context):
        r = await voucher.open_password_page(self._lc(), self._channel(), request.realPersonSerial)
        return pb.OpenPasswordPageResponse(
            pageSession=r.page_session, expiresAt=timestamp(r.expires_at)
        )

    async def SetPassword(self, request, context):
        r = await voucher.set_password(
            self._lc(),
            self._channel(),
            request.realPersonSerial,
            request.pageSession,
            request.password,
            request.passwordConfirm,
        )
        return pb.SetPasswordResponse(
            passwordSerial=r.password_serial, expiresAt=timestamp(r.expires_at)
        )

    async def Activate(self, request, context):
        r = await voucher.activate(
            self._lc(),
            self._channel(),
            request.realPersonSerial,
            request.passwordSerial,
            request.businessProvince,
            request.requestId,
        )
        return pb.ActivateResponse(
            ecCardNo=r.ec_card_no,
            state=r.state,
            authCode=r.auth_code,
            insuredRegions=regions_pb(r.insured),
            version=r.version,
        )

    async def Authorize(self, request, context):
        r = await voucher.authorize(
            self._lc(),
            self._channel(),
            request.userName,
            request.idType,
            request.idNo,
            request.password,
            request.businessProvince,
            request.requestId,
        )
        return pb.AuthorizeResponse(authCode=r.auth_code, ecCardNo=r.ec_card_no, version=r.version)

    async def ListAuthorizations(self, request, context):
        rows = await voucher.list_authorizations(self._lc(), self._channel(), request.authCode)
        return pb.ListAuthorizationsResponse(authorizations=[authorization_pb(a) for a in rows])

    async def RevokeAuthorization(self, request, context):
        a = await voucher.revoke_authorization(
            self._lc(), self._channel(), request.authCode, request.channelId, request.requestId
        )
        return pb.RevokeAuthorizationResponse(authorization=authorization_pb(a))

    async def GetVoucherStatus(self, request, context):
        s = await voucher.voucher_status(
            self._lc(),
            self._channel(),
            request.authCode,
            request.userName,
            request.idType,
            request.idNo,
        )
        out = pb.GetVoucherStatusResponse(
            ecCardNo=s.ec_card_no,
            state=s.state,
            version=s.version,
            insuredRegions=regions_pb(s.insured),
            authorizations=[authorization_pb(a) for a in s.authorizations],
        )
        if s.frozen_until is not None:
            out.frozenUntil.CopyFrom(timestamp(s.frozen_until))
        return out

    async def GetSimulatedFaceTemplate(self, request, context):
        template = await voucher.simulated_face(
            self._lc(), self._channel(), request.userName, request.idType, request.idNo
        )
        return pb.GetSimulatedFaceTemplateResponse(faceTemplate=template)
