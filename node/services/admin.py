"""AdminService: each node's own status everywhere; the management center at national.

``Ping``, ``GetNodeInfo``, ``RetryParked`` and the audit log are served by every node
(:class:`AdminServicer`); the directory, registry listings, channel control and registry
changes by national (:class:`NationalAdminServicer`). At a province those answer -5
(:class:`ProvincialAdminServicer`).

Which role may call each method is decided before the handler (``node.services.access``,
``ADMIN_ROLES``); the handlers narrow a province operator to its province and mask
personal data (``ListPersons``: unmasked only for an administrator or auditor who gives
a reason, which the call's audit record keeps).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from ecnet.v1 import admin_service_pb2 as pb
from ecnet.v1 import admin_service_pb2_grpc, common_pb2
from federation.delivery import Delivery
from federation.directory import Directory
from node.clock import timestamp
from node.domain.channelsig import sm4_key_for
from node.domain.masking import mask_id_no, mask_name, mask_phone
from node.domain.regions import is_province, province_name
from node.errors import EcError, invalid
from node.interceptor import audit_note, current_caller
from node.pki import PkiError, Role, read_certificate
from node.pki import Role as IdentityRole
from node.services.access import ADMIN, AUDITOR, Access
from node.services.figures import Figures
from node.services.identity import NodeIdentity
from node.storage.audit import AuditRecord, q_audit_tail, q_audit_verify
from node.storage.db import RoleStore
from node.storage.national import (
    ApplicationRow,
    ChannelRow,
    NationalStore,
    TerminalRow,
    q_list_applications,
)
from node.storage.outbox import UPLINK_LANE, Parked
from node.voucher.channels import (
    apply_channel,
    approve_application,
    reject_application,
    rotate_key,
    set_channel_status,
)
from node.voucher.context import Lifecycle
from node.voucher.model import PersonUpdate, Region
from node.voucher.registry import update_person
from node.voucher.terminals import TerminalRegistration, register_terminal, revoke_terminal
from node.wire.voucher import person_pb

__all__ = ["AdminServicer", "NationalAdminServicer", "ProvincialAdminServicer"]

MAX_PAGE = 1000
REASON_MAX = 200
_NODE_STATE = {
    "up": pb.NODE_STATE_UP,
    "down": pb.NODE_STATE_DOWN,
    "stopped": pb.NODE_STATE_STOPPED,
}
_KIND = {
    "official": common_pb2.CHANNEL_KIND_OFFICIAL,
    "third_party": common_pb2.CHANNEL_KIND_THIRD_PARTY,
}


def _page(page_size: int, default: int = 20) -> int:
    if page_size < 0:
        raise invalid("pageSize must not be negative")
    return min(page_size or default, MAX_PAGE)


_TOKEN_DIGITS = 18  # a person id fits an SQLite integer (at most 19 digits) with room


def _token_int(token: str) -> int:
    """The person id a ``ListPersons`` page token carries (0: the first page)."""
    if not token:
        return 0
    if not (token.isascii() and token.isdigit() and len(token) <= _TOKEN_DIGITS):
        raise invalid(
            f"pageToken {token[:40]!r} is not one this node issued: send the nextPageToken "
            "of the previous answer unchanged, or none for the first page",
            field="pageToken",
        )
    return int(token)


def _token_terminal(token: str) -> str:
    """The terminal id (20 digits) a ``ListTerminals`` page token carries ("" at first)."""
    if token and not (token.isascii() and token.isdigit() and len(token) == 20):
        raise invalid(
            f"pageToken {token[:40]!r} is not one this node issued: send the nextPageToken "
            "of the previous answer unchanged, or none for the first page",
            field="pageToken",
        )
    return token


def _channel(c: ChannelRow) -> common_pb2.Channel:
    msg = common_pb2.Channel(
        channelId=c.channel_id,
        name=c.name,
        kind=_KIND[c.kind],
        status=c.status,
        statusReason=c.status_reason,
        publicKey=c.public_key,
        scopes=[x for x in c.scopes.split(",") if x],
        keyVersion=c.key_version,
    )
    if c.status_changed_at is not None:
        msg.statusChangedAt.CopyFrom(timestamp(c.status_changed_at))
    return msg


def _masked(p: common_pb2.Person) -> common_pb2.Person:
    p.userName = mask_name(p.userName)
    p.idNo = mask_id_no(p.idNo)
    p.phone = mask_phone(p.phone)
    return p


def _record_pb(r: AuditRecord) -> pb.AuditRecord:
    return pb.AuditRecord(
        sequence=r.seq,
        at=timestamp(r.at),
        who=r.who,
        peer=r.peer,
        method=r.method,
        subject=r.subject,
        outcome=r.outcome,
        code=r.code,
        previousDigest=r.prev_digest,
        digest=r.digest,
    )


def _scoped(asked: str, scope: str, field: str, what: str) -> str:
    """The province a listing is of: ``asked``, limited to ``scope`` (a province operator's
    or node's own province; "" for no limit): -4 for another province."""
    if not scope:
        return asked
    if asked and asked != scope:
        raise EcError(
            -4,
            f"{current_caller().describe()} may list {what} of province {scope} only, not "
            f"{field} {asked}",
        )
    return scope


def _terminal(t: TerminalRow) -> common_pb2.Terminal:
    msg = common_pb2.Terminal(
        terminalId=t.terminal_id,
        province=t.province,
        orgId=t.org_id,
        orgName=t.org_name,
        name=t.name,
        purpose=t.purpose,
        version=t.version,
        developer=t.developer,
        registeredOn=t.registered_on,
        mac=t.mac,
        revokeReason=t.revoke_reason,
    )
    if t.revoked_at is not None:
        msg.revokedAt.CopyFrom(timestamp(t.revoked_at))
    return msg


def require_operator(method: str) -> None:
    """-4 unless an operator of the national CA calls (an ``--insecure`` node: its claim).
    The management center's roles (issue 13, part 3) refine this."""
    caller = current_caller()
    identity = caller.identity
    if identity is None or identity.role is not IdentityRole.OPERATOR:
        raise EcError(
            -4,
            f"{method} is the management center's: call with an operator's certificate "
            f"({caller.describe()} is not an operator)",
            subject=caller.subject,
        )


def _application(a: ApplicationRow) -> pb.ChannelApplication:
    return pb.ChannelApplication(
        applicationId=a.application_id,
        province=a.province,
        name=a.name,
        publicKey=a.public_key,
        scopes=[x for x in a.scopes.split(",") if x],
        status=a.status,
        appId=a.app_id,
        reason=a.reason,
        appliedAt=timestamp(a.applied_at),
    )


def _management_center(what: str) -> None:
    """Decisions on channels are the management center's: an operator (or, on an
    ``--insecure`` node, anyone), never a channel or a node (-4)."""
    identity = current_caller().identity
    if identity is not None and identity.role is not Role.OPERATOR:
        raise EcError(-4, f"{what} is for the management center's operators, not {identity}")


def _parked_pb(requeued: list[Parked]) -> pb.RetryParkedResponse:
    return pb.RetryParkedResponse(
        events=[
            pb.ParkedEvent(
                sequence=p.seq,
                eventId=p.event_id,
                kind=p.kind,
                error=p.error,
                parkedAt=timestamp(p.parked_at),
            )
            for p in requeued
        ]
    )


class AdminServicer(admin_service_pb2_grpc.AdminServiceServicer):
    """What every node answers of itself. ``lanes`` is the node's outbox delivery (its
    parked events are queued again by ``RetryParked``); ``registration()`` a province's
    registration with national (``federation.registrar.Registrar.state``)."""

    def __init__(
        self,
        identity: NodeIdentity,
        store: RoleStore,
        lanes: Delivery,
        access: Access,
        registration: Callable[[], str] = lambda: "",
    ) -> None:
        self.identity = identity
        self.store = store
        self.lanes = lanes
        self.access = access
        self.registration = registration
        # The figures and institutions' days (node.services.figures), set by the
        # composition root.
        self.figures: Figures | None = None

    async def ListAudit(
        self,
        request: pb.ListAuditRequest,
        context: grpc.aio.ServicerContext[pb.ListAuditRequest, pb.ListAuditResponse],
    ) -> pb.ListAuditResponse:
        """The newest records of this node's audit log, oldest first."""
        if request.limit < 0:
            raise invalid("limit must not be negative", field="limit")
        rows = await self.store.db.read(q_audit_tail, _page(request.limit))
        return pb.ListAuditResponse(records=[_record_pb(r) for r in rows])

    async def VerifyAudit(
        self,
        request: pb.VerifyAuditRequest,
        context: grpc.aio.ServicerContext[pb.VerifyAuditRequest, pb.VerifyAuditResponse],
    ) -> pb.VerifyAuditResponse:
        """The chain of this node's audit log checked from its first record."""
        check = await self.store.db.read(q_audit_verify)
        return pb.VerifyAuditResponse(
            intact=check.intact,
            records=check.records,
            firstBadSequence=check.first_bad,
            problem=check.problem,
        )

    async def Ping(
        self,
        request: pb.PingRequest,
        context: grpc.aio.ServicerContext[pb.PingRequest, pb.PingResponse],
    ) -> pb.PingResponse:
        return pb.PingResponse()

    async def GetNodeInfo(
        self,
        request: pb.GetNodeInfoRequest,
        context: grpc.aio.ServicerContext[pb.GetNodeInfoRequest, pb.GetNodeInfoResponse],
    ) -> pb.GetNodeInfoResponse:
        me = self.identity
        return pb.GetNodeInfoResponse(
            role=me.role_pb,
            province=me.province,
            address=me.address,
            version=me.version,
            instanceId=me.instance_id,
            startedAt=timestamp(me.started_at_ms),
            counts=await self.store.counts(),
            pid=os.getpid(),
            registration=self.registration(),
            transport=me.transport,
            certNotAfter=self._cert_not_after(),
        )

    async def GetFigures(
        self,
        request: pb.GetFiguresRequest,
        context: grpc.aio.ServicerContext[pb.GetFiguresRequest, pb.GetFiguresResponse],
    ) -> pb.GetFiguresResponse:
        """The management center's figures (node.services.figures)."""
        if self.figures is None:
            raise EcError(-5, "this node keeps no figures")
        return await self.figures.figures(request, self.access.scope(current_caller()))

    async def GetInstitutionDay(
        self,
        request: pb.GetInstitutionDayRequest,
        context: grpc.aio.ServicerContext[
            pb.GetInstitutionDayRequest, pb.GetInstitutionDayResponse
        ],
    ) -> pb.GetInstitutionDayResponse:
        """An institution's day (node.services.figures)."""
        if self.figures is None:
            raise EcError(-5, "this node keeps no figures")
        return await self.figures.institution(request, self.access.scope(current_caller()))

    def _cert_not_after(self) -> Timestamp | None:
        """When this node's certificate expires, read from its file (None: --insecure,
        or a file that is not a certificate just now)."""
        path = self.identity.certificate
        if path is None:
            return None
        try:
            cert = read_certificate(path)
        except PkiError:
            return None
        return timestamp(round(cert.not_valid_after_utc.timestamp() * 1000))

    def _lane(self, destination: str) -> str:
        """The lane of ``RetryParked``'s destination (per role)."""
        raise NotImplementedError

    async def RetryParked(
        self,
        request: pb.RetryParkedRequest,
        context: grpc.aio.ServicerContext[pb.RetryParkedRequest, pb.RetryParkedResponse],
    ) -> pb.RetryParkedResponse:
        """Queue a lane's parked events again (federation.delivery): at national a
        destination province's, at a province its uplink's."""
        requeued = await self.lanes.retry_parked(self._lane(request.destination))
        return _parked_pb(requeued)


class NationalAdminServicer(AdminServicer):
    """The management center (standard 5.2.1) at national."""

    def __init__(
        self,
        identity: NodeIdentity,
        store: NationalStore,
        delivery: Delivery,
        directory: Directory,
        lifecycle: Lifecycle,
        access: Access,
    ) -> None:
        super().__init__(identity, store, delivery, access)
        self.national = store
        self.delivery = delivery
        self.directory = directory
        self.lifecycle = lifecycle

    def _lane(self, destination: str) -> str:
        if not is_province(destination):
            raise invalid(f"destination {destination!r} is not a province code")
        return destination

    async def ListNodes(
        self,
        request: pb.ListNodesRequest,
        context: grpc.aio.ServicerContext[pb.ListNodesRequest, pb.ListNodesResponse],
    ) -> pb.ListNodesResponse:
        lanes = {
            lane: (pending, oldest, parked)
            for lane, pending, oldest, parked in await self.delivery.backlog()
        }
        nodes = []
        for row, status in await self.directory.nodes():
            pending, oldest, parked = lanes.get(row.province, (0, 0, 0))
            nodes.append(
                pb.NodeEntry(
                    province=row.province,
                    provinceName=province_name(row.province),
                    address=row.address,
                    version=row.version,
                    instanceId=row.instance_id,
                    state=_NODE_STATE[status],
                    registeredAt=timestamp(row.registered_at),
                    lastHeartbeatAt=timestamp(row.last_heartbeat_at),
                    appliedPosition=row.applied_position,
                    pendingEvents=pending,
                    parkedEvents=parked,
                    certNotAfter=timestamp(row.cert_not_after) if row.cert_not_after else None,
                    oldestPendingAt=timestamp(oldest) if pending and oldest else None,
                )
            )
        return pb.ListNodesResponse(nodes=nodes)

    async def ListPersons(
        self,
        request: pb.ListPersonsRequest,
        context: grpc.aio.ServicerContext[pb.ListPersonsRequest, pb.ListPersonsResponse],
    ) -> pb.ListPersonsResponse:
        """Persons of the registry, masked; unmasked (``reveal``) only for an administrator
        or auditor with a reason, noted in the call's audit record."""
        province = request.insuredProvince
        if province and not (len(province) == 2 and province.isdigit()):
            raise invalid(f"insuredProvince {province!r} is not a 2-digit province code")
        caller = current_caller()
        province = _scoped(province, self.access.scope(caller), "insuredProvince", "persons")
        reason = request.reason.strip()
        if request.reveal:
            duty = self.access.duty(caller)
            if duty not in (ADMIN, AUDITOR):
                raise EcError(
                    -4,
                    f"{caller.describe()} (role {duty or 'none'}) sees persons masked only: "
                    "an administrator or auditor may reveal them, with a reason",
                )
            if not reason:
                raise invalid(
                    "reveal needs a reason: say why the names and id numbers are needed "
                    "(it is kept in the audit log)",
                    field="reason",
                )
            if len(reason) > REASON_MAX:
                raise invalid(
                    f"reason has {len(reason)} characters; at most {REASON_MAX} are allowed",
                    field="reason",
                )
        limit = _page(request.pageSize)
        rows = await self.national.list_persons(province, limit, _token_int(request.pageToken))
        token = str(rows[-1].person_id) if len(rows) == limit else ""
        persons = [person_pb(r) for r in rows]
        if request.reveal:
            audit_note(f"revealed {len(persons)} person(s) unmasked")
        else:
            persons = [_masked(p) for p in persons]
        return pb.ListPersonsResponse(persons=persons, nextPageToken=token)

    async def ListChannels(
        self,
        request: pb.ListChannelsRequest,
        context: grpc.aio.ServicerContext[pb.ListChannelsRequest, pb.ListChannelsResponse],
    ) -> pb.ListChannelsResponse:
        channels = await self.national.list_channels()
        return pb.ListChannelsResponse(channels=[_channel(c) for c in channels])

    async def SetChannelStatus(
        self,
        request: pb.SetChannelStatusRequest,
        context: grpc.aio.ServicerContext[pb.SetChannelStatusRequest, pb.SetChannelStatusResponse],
    ) -> pb.SetChannelStatusResponse:
        """Channel control (node.voucher.channels)."""
        row, changed = await set_channel_status(
            self.lifecycle, request.channelId, request.status, request.reason
        )
        return pb.SetChannelStatusResponse(channel=_channel(row), changed=changed)

    async def ApplyChannel(
        self, request: pb.ApplyChannelRequest, context: object
    ) -> pb.ApplyChannelResponse:
        """An application, made here by an operator naming the province, or passed on by
        the province it was made through (the province from its certificate)."""
        caller = current_caller()
        identity = caller.identity
        if identity is not None and identity.role is Role.PROVINCE:
            province = identity.province or ""
            if request.province and request.province != province:
                raise EcError(-4, f"province {province} cannot apply through {request.province}")
        else:
            _management_center("ApplyChannel at national")
            province = request.province
        row = await apply_channel(
            self.lifecycle, request.name, request.publicKey, list(request.scopes), province
        )
        return pb.ApplyChannelResponse(application=_application(row))

    async def ListChannelApplications(
        self, request: pb.ListChannelApplicationsRequest, context: object
    ) -> pb.ListChannelApplicationsResponse:
        _management_center("ListChannelApplications")
        rows = await self.national.query(q_list_applications)
        return pb.ListChannelApplicationsResponse(applications=[_application(a) for a in rows])

    async def ApproveChannelApplication(
        self, request: pb.ApproveChannelApplicationRequest, context: object
    ) -> pb.ApproveChannelApplicationResponse:
        _management_center("ApproveChannelApplication")
        row, application = await approve_application(
            self.lifecycle, request.applicationId, request.appId, list(request.scopes)
        )
        return pb.ApproveChannelApplicationResponse(
            channel=_channel(row),
            application=_application(application),
            sm4Key=sm4_key_for(self.national.keys.master, row.channel_id, row.key_version).hex(),
        )

    async def RejectChannelApplication(
        self, request: pb.RejectChannelApplicationRequest, context: object
    ) -> pb.RejectChannelApplicationResponse:
        _management_center("RejectChannelApplication")
        row = await reject_application(self.lifecycle, request.applicationId, request.reason)
        return pb.RejectChannelApplicationResponse(application=_application(row))

    async def RotateChannelKey(
        self, request: pb.RotateChannelKeyRequest, context: object
    ) -> pb.RotateChannelKeyResponse:
        _management_center("RotateChannelKey")
        row = await rotate_key(self.lifecycle, request.appId, request.publicKey)
        return pb.RotateChannelKeyResponse(
            channel=_channel(row),
            keyVersion=row.key_version,
            sm4Key=sm4_key_for(self.national.keys.master, row.channel_id, row.key_version).hex(),
        )

    async def ListTerminals(
        self,
        request: pb.ListTerminalsRequest,
        context: grpc.aio.ServicerContext[pb.ListTerminalsRequest, pb.ListTerminalsResponse],
    ) -> pb.ListTerminalsResponse:
        province = request.province
        if province and not (len(province) == 2 and province.isdigit()):
            raise invalid(f"province {province!r} is not a 2-digit province code")
        province = _scoped(province, self.access.scope(current_caller()), "province", "terminals")
        token = _token_terminal(request.pageToken)
        limit = _page(request.pageSize, 100)
        rows = await self.national.list_terminals(province, limit, token)
        return pb.ListTerminalsResponse(
            terminals=[_terminal(t) for t in rows],
            nextPageToken=rows[-1].terminal_id if len(rows) == limit else "",
        )

    async def RegisterTerminal(
        self,
        request: pb.RegisterTerminalRequest,
        context: grpc.aio.ServicerContext[pb.RegisterTerminalRequest, pb.RegisterTerminalResponse],
    ) -> pb.RegisterTerminalResponse:
        """Terminal registration (node.voucher.terminals)."""
        require_operator("RegisterTerminal")
        row = await register_terminal(
            self.lifecycle,
            TerminalRegistration(
                request.province,
                request.orgId,
                request.orgName,
                request.name,
                request.purpose,
                request.version,
                request.developer,
                request.mac,
            ),
            self.access.scope(current_caller()),
        )
        return pb.RegisterTerminalResponse(terminal=_terminal(row))

    async def RevokeTerminal(
        self,
        request: pb.RevokeTerminalRequest,
        context: grpc.aio.ServicerContext[pb.RevokeTerminalRequest, pb.RevokeTerminalResponse],
    ) -> pb.RevokeTerminalResponse:
        require_operator("RevokeTerminal")
        row, before = await revoke_terminal(
            self.lifecycle, request.terminalId, request.reason, self.access.scope(current_caller())
        )
        return pb.RevokeTerminalResponse(terminal=_terminal(row), alreadyRevoked=before)

    async def UpdatePerson(
        self,
        request: pb.UpdatePersonRequest,
        context: grpc.aio.ServicerContext[pb.UpdatePersonRequest, pb.UpdatePersonResponse],
    ) -> pb.UpdatePersonResponse:
        """A change of the base registry (4.4): the rules are in node.voucher.registry."""
        change = PersonUpdate(
            request.idType,
            request.idNo,
            request.newUserName,
            request.newIdType,
            request.newIdNo,
            tuple(Region(r.insuOrg, r.insuType) for r in request.insuredRegions),
        )
        caller = current_caller()
        r = await update_person(
            self.lifecycle, caller.describe(), change, request.requestId, self.access.scope(caller)
        )
        return pb.UpdatePersonResponse(
            person=person_pb(r.person),
            ecCardNo=r.ec_card_no,
            superseded=r.superseded,
            supersededEcCardNo=r.superseded_ec_card_no,
            version=r.version,
        )


class ProvincialAdminServicer(AdminServicer):
    """A province's own status; the management center's calls answer -5, but for a
    channel's application, which the province passes on to national (``apply_upstream``)."""

    apply_upstream: (
        Callable[[pb.ApplyChannelRequest], Awaitable[pb.ApplyChannelResponse]] | None
    ) = None

    def _lane(self, destination: str) -> str:
        if destination not in ("", UPLINK_LANE):
            raise invalid(f"a province delivers only to {UPLINK_LANE!r}, not {destination!r}")
        return UPLINK_LANE

    def _national_only(self, method: str) -> EcError:
        return EcError(
            -5,
            f"{method} is served by the national node, not by province {self.identity.province}",
        )

    async def ListNodes(
        self, request: pb.ListNodesRequest, context: object
    ) -> pb.ListNodesResponse:
        raise self._national_only("ListNodes")

    async def ListPersons(
        self, request: pb.ListPersonsRequest, context: object
    ) -> pb.ListPersonsResponse:
        raise self._national_only("ListPersons")

    async def ListChannels(
        self, request: pb.ListChannelsRequest, context: object
    ) -> pb.ListChannelsResponse:
        raise self._national_only("ListChannels")

    async def SetChannelStatus(
        self, request: pb.SetChannelStatusRequest, context: object
    ) -> pb.SetChannelStatusResponse:
        raise self._national_only("SetChannelStatus")

    async def ListTerminals(
        self, request: pb.ListTerminalsRequest, context: object
    ) -> pb.ListTerminalsResponse:
        raise self._national_only("ListTerminals")

    async def UpdatePerson(
        self, request: pb.UpdatePersonRequest, context: object
    ) -> pb.UpdatePersonResponse:
        raise self._national_only("UpdatePerson")

    async def RegisterTerminal(
        self, request: pb.RegisterTerminalRequest, context: object
    ) -> pb.RegisterTerminalResponse:
        raise self._national_only("RegisterTerminal")

    async def RevokeTerminal(
        self, request: pb.RevokeTerminalRequest, context: object
    ) -> pb.RevokeTerminalResponse:
        raise self._national_only("RevokeTerminal")

    async def ApplyChannel(
        self, request: pb.ApplyChannelRequest, context: object
    ) -> pb.ApplyChannelResponse:
        """An application made through this province: passed on to national, which
        records this province (from its certificate) and decides."""
        if self.apply_upstream is None:
            raise self._national_only("ApplyChannel")
        forwarded = pb.ApplyChannelRequest()
        forwarded.CopyFrom(request)
        forwarded.province = self.identity.province
        return await self.apply_upstream(forwarded)

    async def ListChannelApplications(
        self, request: pb.ListChannelApplicationsRequest, context: object
    ) -> pb.ListChannelApplicationsResponse:
        raise self._national_only("ListChannelApplications")

    async def ApproveChannelApplication(
        self, request: pb.ApproveChannelApplicationRequest, context: object
    ) -> pb.ApproveChannelApplicationResponse:
        raise self._national_only("ApproveChannelApplication")

    async def RejectChannelApplication(
        self, request: pb.RejectChannelApplicationRequest, context: object
    ) -> pb.RejectChannelApplicationResponse:
        raise self._national_only("RejectChannelApplication")

    async def RotateChannelKey(
        self, request: pb.RotateChannelKeyRequest, context: object
    ) -> pb.RotateChannelKeyResponse:
        raise self._national_only("RotateChannelKey")
