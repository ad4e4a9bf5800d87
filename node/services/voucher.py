"""VoucherService: a thin adapter from gRPC to the lifecycle functions of node/voucher/.

Each method reads the calling channel from ``current_caller()`` (the ``ec-channel-id``
metadata), calls one typed function and turns its result into the response message.
Rules, checks and error codes live in :mod:`node.voucher`; only national serves this.
"""

from __future__ import annotations

from typing import cast

import grpc

from ecnet.v1 import common_pb2, voucher_service_pb2_grpc
from ecnet.v1 import voucher_service_pb2 as pb
from node.clock import timestamp
from node.errors import EcError
from node.interceptor import Caller, current_caller
from node.pki import Role
from node.voucher.activation import activate, open_password_page, set_password
from node.voucher.authorization import (
    authorize,
    list_authorizations,
    revoke_authorization,
    voucher_status,
)
from node.voucher.context import Lifecycle
from node.voucher.identification import real_name_check, real_person_check, simulated_face
from node.voucher.model import AuthorizationView
from node.wire.voucher import authorization_pb, regions_pb

__all__ = ["VoucherServicer", "SIMULATION_SCOPE", "channel_scopes", "may_simulate"]

#: The scope a channel needs for the simulation's doors (GetSimulatedFaceTemplate).
SIMULATION_SCOPE = "simulation"


def channel_scopes(caller: Caller) -> frozenset[str]:
    """The scopes national approved for the channel ``caller`` calls for: those its
    verified signature carried (``node.interceptor.ChannelCheck``); none without one (an
    ``ec-channel-id`` header names no channel)."""
    return frozenset(caller.channel_scopes) if caller.channel_id else frozenset()


def may_simulate(caller: Caller) -> bool:
    """An operator of the national CA, or a channel allowed :data:`SIMULATION_SCOPE`."""
    identity = caller.identity
    if identity is not None and identity.role is Role.OPERATOR:
        return True
    return SIMULATION_SCOPE in channel_scopes(caller)


def _state(state: int) -> common_pb2.VoucherState:
    """A state of :mod:`node.domain.voucher_state` as the proto enum: both number the
    states alike, but mypy sees ``ecnet.v1.VoucherState`` as a class of its own."""
    return cast(common_pb2.VoucherState, state)


def _authorization(a: AuthorizationView) -> common_pb2.Authorization:
    return authorization_pb(
        channel_id=a.channel_id,
        channel_name=a.channel_name,
        authorized_at=a.authorized_at,
        revoked_at=a.revoked_at,
    )


class VoucherServicer(voucher_service_pb2_grpc.VoucherServiceServicer):
    """National only."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle

    @staticmethod
    def _channel() -> str:
        return current_caller().channel_id

    async def RealNameCheck(
        self,
        request: pb.RealNameCheckRequest,
        context: grpc.aio.ServicerContext[pb.RealNameCheckRequest, pb.RealNameCheckResponse],
    ) -> pb.RealNameCheckResponse:
        r = await real_name_check(
            self.lifecycle,
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

    async def RealPersonCheck(
        self,
        request: pb.RealPersonCheckRequest,
        context: grpc.aio.ServicerContext[pb.RealPersonCheckRequest, pb.RealPersonCheckResponse],
    ) -> pb.RealPersonCheckResponse:
        r = await real_person_check(
            self.lifecycle, self._channel(), request.realNameSerial, request.livenessSample
        )
        return pb.RealPersonCheckResponse(
            realPersonSerial=r.real_person_serial,
            expiresAt=timestamp(r.expires_at),
            unfrozen=r.unfrozen,
        )

    async def OpenPasswordPage(
        self,
        request: pb.OpenPasswordPageRequest,
        context: grpc.aio.ServicerContext[pb.OpenPasswordPageRequest, pb.OpenPasswordPageResponse],
    ) -> pb.OpenPasswordPageResponse:
        r = await open_password_page(self.lifecycle, self._channel(), request.realPersonSerial)
        return pb.OpenPasswordPageResponse(
            pageSession=r.page_session, expiresAt=timestamp(r.expires_at)
        )

    async def SetPassword(
        self,
        request: pb.SetPasswordRequest,
        context: grpc.aio.ServicerContext[pb.SetPasswordRequest, pb.SetPasswordResponse],
    ) -> pb.SetPasswordResponse:
        r = await set_password(
            self.lifecycle,
            self._channel(),
            request.realPersonSerial,
            request.pageSession,
            request.password,
            request.passwordConfirm,
        )
        return pb.SetPasswordResponse(
            passwordSerial=r.password_serial, expiresAt=timestamp(r.expires_at)
        )

    async def Activate(
        self,
        request: pb.ActivateRequest,
        context: grpc.aio.ServicerContext[pb.ActivateRequest, pb.ActivateResponse],
    ) -> pb.ActivateResponse:
        r = await activate(
            self.lifecycle,
            self._channel(),
            request.realPersonSerial,
            request.passwordSerial,
            request.businessProvince,
            request.requestId,
        )
        return pb.ActivateResponse(
            ecCardNo=r.ec_card_no,
            state=_state(r.state),
            authCode=r.auth_code,
            insuredRegions=regions_pb(r.insured),
            version=r.version,
        )

    async def Authorize(
        self,
        request: pb.AuthorizeRequest,
        context: grpc.aio.ServicerContext[pb.AuthorizeRequest, pb.AuthorizeResponse],
    ) -> pb.AuthorizeResponse:
        r = await authorize(
            self.lifecycle,
            self._channel(),
            request.userName,
            request.idType,
            request.idNo,
            request.password,
            request.businessProvince,
            request.requestId,
        )
        return pb.AuthorizeResponse(authCode=r.auth_code, ecCardNo=r.ec_card_no, version=r.version)

    async def ListAuthorizations(
        self,
        request: pb.ListAuthorizationsRequest,
        context: grpc.aio.ServicerContext[
            pb.ListAuthorizationsRequest, pb.ListAuthorizationsResponse
        ],
    ) -> pb.ListAuthorizationsResponse:
        rows = await list_authorizations(self.lifecycle, self._channel(), request.authCode)
        return pb.ListAuthorizationsResponse(authorizations=[_authorization(a) for a in rows])

    async def RevokeAuthorization(
        self,
        request: pb.RevokeAuthorizationRequest,
        context: grpc.aio.ServicerContext[
            pb.RevokeAuthorizationRequest, pb.RevokeAuthorizationResponse
        ],
    ) -> pb.RevokeAuthorizationResponse:
        a = await revoke_authorization(
            self.lifecycle, self._channel(), request.authCode, request.channelId, request.requestId
        )
        return pb.RevokeAuthorizationResponse(authorization=_authorization(a))

    async def GetVoucherStatus(
        self,
        request: pb.GetVoucherStatusRequest,
        context: grpc.aio.ServicerContext[pb.GetVoucherStatusRequest, pb.GetVoucherStatusResponse],
    ) -> pb.GetVoucherStatusResponse:
        s = await voucher_status(
            self.lifecycle,
            self._channel(),
            request.authCode,
            request.userName,
            request.idType,
            request.idNo,
        )
        out = pb.GetVoucherStatusResponse(
            ecCardNo=s.ec_card_no,
            state=_state(s.state),
            version=s.version,
            insuredRegions=regions_pb(s.insured),
            authorizations=[_authorization(a) for a in s.authorizations],
        )
        if s.frozen_until is not None:
            out.frozenUntil.CopyFrom(timestamp(s.frozen_until))
        return out

    async def GetSimulatedFaceTemplate(
        self,
        request: pb.GetSimulatedFaceTemplateRequest,
        context: grpc.aio.ServicerContext[
            pb.GetSimulatedFaceTemplateRequest, pb.GetSimulatedFaceTemplateResponse
        ],
    ) -> pb.GetSimulatedFaceTemplateResponse:
        caller = current_caller()
        if not may_simulate(caller):
            raise EcError(
                -4,
                f"GetSimulatedFaceTemplate answers an operator or a channel with the "
                f"{SIMULATION_SCOPE!r} scope only; {caller.describe()} has neither",
                subject=caller.subject,
            )
        template = await simulated_face(
            self.lifecycle, caller.channel_id, request.userName, request.idType, request.idNo
        )
        return pb.GetSimulatedFaceTemplateResponse(faceTemplate=template)
