"""FederationService: the calls between nodes.

Every node answers ``Identify`` and carries routed calls on ``Link`` streams
(``federation.link``: each message reaches the same method as the unary call).

* **National** (:class:`NationalFederationServicer`): the node directory (``Register``,
  ``Heartbeat``, ``Deregister``), ``FetchVoucher`` for a province that lacks a voucher
  (6.2.2 b 2), the hub's forwarding of ``RouteQuery`` / ``RouteSettle`` /
  ``RouteReverse`` (``federation.hub``), and ``DeliverEvents`` from the provinces (their
  settlement notices, relayed: ``federation.relay``).
* **A province** (:class:`ProvincialFederationServicer`): the issuer's decode of a
  routed scan, the insured province's routed settlement and reversal (each only from
  national), and ``DeliverEvents`` from national (``federation.inbox``). The directory
  and ``FetchVoucher`` answer -5. ``CollectFigures`` and ``CollectInstitutionDay``
  answer national's management center (``node.services.figures``), national only.

The caller is the node its certificate names (``current_caller().node``, decided in
``node.interceptor``; only nodes reach this service); a node may speak only for itself.
The directory keeps when that certificate expires (``current_caller().cert_not_after_ms``)
from each Register and Heartbeat: a renewed certificate is known from its first call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from ecnet.v1 import federation_service_pb2 as pb
from ecnet.v1 import federation_service_pb2_grpc
from federation.directory import Directory
from federation.hub import Hub
from federation.inbox import Inbox
from federation.link import CallContext, Handler, LinkServer
from federation.relay import NoticeRelay
from node.acceptance import Acceptance
from node.clock import Clock, timestamp
from node.errors import EcError, Problems
from node.interceptor import current_caller
from node.services.figures import Figures, institution_day
from node.services.identity import NodeIdentity
from node.settlement.core import Settlements
from node.settlement.wire import settlement_to_proto
from node.tls import Trust
from node.voucher.context import Lifecycle
from node.voucher.fetch import fetch_voucher
from node.wire.voucher import cached_voucher_data

__all__ = [
    "FederationServicer",
    "NationalFederationServicer",
    "ProvincialFederationServicer",
]


class FederationServicer(federation_service_pb2_grpc.FederationServiceServicer):
    """What every node answers. ``links`` is the answering end of its Link streams,
    built here because it calls this servicer's routed methods."""

    def __init__(self, identity: NodeIdentity, log_calls: bool) -> None:
        self.identity = identity
        handlers: dict[str, Handler] = {
            "RouteQuery": self.RouteQuery,
            "RouteSettle": self.RouteSettle,
            "RouteReverse": self.RouteReverse,
        }
        self.links = LinkServer(identity.name, log_calls, handlers)

    async def Identify(
        self,
        request: pb.IdentifyRequest,
        context: grpc.aio.ServicerContext[pb.IdentifyRequest, pb.IdentifyResponse],
    ) -> pb.IdentifyResponse:
        me = self.identity
        return pb.IdentifyResponse(
            role=me.role_pb,
            province=me.province,
            instanceId=me.instance_id,
            version=me.version,
            address=me.address,
        )

    # The routed calls, answered per role; a Link message runs them with a context that
    # gives only the time left (federation.link.CallContext).
    async def RouteQuery(
        self, request: pb.RouteQueryRequest, context: CallContext
    ) -> pb.RouteQueryResponse:
        raise NotImplementedError

    async def RouteSettle(
        self, request: pb.RouteSettleRequest, context: CallContext
    ) -> pb.RouteSettleResponse:
        raise NotImplementedError

    async def RouteReverse(
        self, request: pb.RouteReverseRequest, context: CallContext
    ) -> pb.RouteReverseResponse:
        raise NotImplementedError

    # grpc.aio lets a stream handler write with context.write and return None; the
    # generated servicer declares only the iterator form.
    async def Link(  # type: ignore[override]
        self,
        request_iterator: AsyncIterator[pb.LinkFrame],
        context: grpc.aio.ServicerContext[pb.LinkFrame, pb.LinkFrame],
    ) -> None:
        """Route calls multiplexed on one stream (federation.link)."""
        await self.links.serve(request_iterator, context)


def _required(**fields: str) -> None:
    """-2 naming every one of the request's required ``fields`` that is empty."""
    p = Problems()
    for name, value in fields.items():
        p.require(name, value)
    p.check()


class NationalFederationServicer(FederationServicer):
    def __init__(
        self,
        identity: NodeIdentity,
        log_calls: bool,
        clock: Clock,
        directory: Directory,
        hub: Hub,
        relay: NoticeRelay,
        lifecycle: Lifecycle,
        sign_key: bytes,
        trust: Trust | None = None,
    ) -> None:
        super().__init__(identity, log_calls)
        # National's SM2 public key, sent to the provinces (node.wire.signing).
        self.sign_key = sign_key
        self.trust = trust  # its CRL goes to the provinces (None: --insecure)
        self.clock = clock
        self.directory = directory
        self.hub = hub
        self.relay = relay
        self.lifecycle = lifecycle

    @staticmethod
    def _check_caller(province: str) -> None:
        """Only the holder of province NN's certificate speaks for NN."""
        caller = current_caller().node
        if caller != f"p{province}":
            raise EcError(
                -4,
                f"only province {province or '?'}'s own node may do this "
                f"(caller: {current_caller().describe()})",
            )

    async def Register(
        self,
        request: pb.RegisterRequest,
        context: grpc.aio.ServicerContext[pb.RegisterRequest, pb.RegisterResponse],
    ) -> pb.RegisterResponse:
        _required(
            province=request.province,
            address=request.address,
            instanceId=request.instanceId,
            signKey=request.signKey.hex(),
        )
        self._check_caller(request.province)
        await self.directory.register(
            request.province,
            request.address,
            request.version,
            request.instanceId,
            request.signKey,
            current_caller().cert_not_after_ms,
            request.appliedPosition if request.HasField("appliedPosition") else None,
        )
        return pb.RegisterResponse(
            heartbeatIntervalSeconds=max(1, int(self.directory.interval)),
            registeredAt=timestamp(self.clock.now_ms()),
            crl=self.trust.crl_der() if self.trust is not None else b"",
            nationalSignKey=self.sign_key,
        )

    async def Heartbeat(
        self,
        request: pb.HeartbeatRequest,
        context: grpc.aio.ServicerContext[pb.HeartbeatRequest, pb.HeartbeatResponse],
    ) -> pb.HeartbeatResponse:
        self._check_caller(request.province)
        known = await self.directory.heartbeat(
            request.province,
            request.instanceId,
            request.appliedPosition,
            current_caller().cert_not_after_ms,
        )
        crl = self.trust.crl_der(request.crlNumber) if self.trust is not None else b""
        return pb.HeartbeatResponse(known=known, nationalSignKey=self.sign_key, crl=crl)

    async def Deregister(
        self,
        request: pb.DeregisterRequest,
        context: grpc.aio.ServicerContext[pb.DeregisterRequest, pb.DeregisterResponse],
    ) -> pb.DeregisterResponse:
        self._check_caller(request.province)
        await self.directory.deregister(request.province, request.instanceId)
        return pb.DeregisterResponse()

    async def FetchVoucher(
        self,
        request: pb.FetchVoucherRequest,
        context: grpc.aio.ServicerContext[pb.FetchVoucherRequest, pb.FetchVoucherResponse],
    ) -> pb.FetchVoucherResponse:
        _required(authCode=request.authCode, channelId=request.channelId, province=request.province)
        # Personal data: only the province named in the request may fetch, as itself.
        caller = current_caller().node
        if caller != f"p{request.province}":
            raise EcError(
                -4,
                f"FetchVoucher for province {request.province!r} must come from node "
                f"p{request.province} (caller: {caller or 'anonymous'})",
            )
        data = await fetch_voucher(
            self.lifecycle, request.province, request.channelId, request.authCode
        )
        return pb.FetchVoucherResponse(voucher=data)

    async def RouteQuery(
        self, request: pb.RouteQueryRequest, context: CallContext
    ) -> pb.RouteQueryResponse:
        """A scan of another province's code (4.9), to its issuer (never decoded here)."""
        return await self.hub.route_query(current_caller().node, request, context.time_remaining())

    async def RouteSettle(
        self, request: pb.RouteSettleRequest, context: CallContext
    ) -> pb.RouteSettleResponse:
        """A remote settlement (6.5), to the insured province."""
        return await self.hub.route_settle(current_caller().node, request, context.time_remaining())

    async def RouteReverse(
        self, request: pb.RouteReverseRequest, context: CallContext
    ) -> pb.RouteReverseResponse:
        """The reversal of a remote settlement, to the province that settled it."""
        return await self.hub.route_reverse(
            current_caller().node, request, context.time_remaining()
        )

    async def DeliverEvents(
        self,
        request: pb.DeliverEventsRequest,
        context: grpc.aio.ServicerContext[pb.DeliverEventsRequest, pb.DeliverEventsResponse],
    ) -> pb.DeliverEventsResponse:
        """A province's settlement notices, relayed to their destinations."""
        return await self.relay.deliver(current_caller().node, request)

    async def CollectFigures(
        self, request: pb.CollectFiguresRequest, context: object
    ) -> pb.CollectFiguresResponse:
        raise _provinces_only("CollectFigures")

    async def CollectInstitutionDay(
        self, request: pb.CollectInstitutionDayRequest, context: object
    ) -> pb.CollectInstitutionDayResponse:
        raise _provinces_only("CollectInstitutionDay")


def _provinces_only(method: str) -> EcError:
    return EcError(
        -5, f"{method} is answered by the provinces (of their own records), not by national"
    )


def _from_national(what: str) -> None:
    """``what`` ("a routed scan reaches an issuer") comes only through national."""
    caller = current_caller().node
    if caller != "national":
        raise EcError(-4, f"{what} only through the national hub (caller: {caller or 'anonymous'})")


def _hub_only(method: str) -> EcError:
    return EcError(-5, f"{method} is served by the national node (the hub), not by a province")


class ProvincialFederationServicer(FederationServicer):
    def __init__(
        self,
        identity: NodeIdentity,
        log_calls: bool,
        inbox: Inbox,
        acceptance: Acceptance,
        settlements: Settlements,
    ) -> None:
        super().__init__(identity, log_calls)
        # This province's figures (node.services.figures), set by the composition root.
        self.figures: Figures | None = None
        self.inbox = inbox
        self.acceptance = acceptance
        self.settlements = settlements

    async def Register(self, request: pb.RegisterRequest, context: object) -> pb.RegisterResponse:
        raise _hub_only("Register")

    async def Heartbeat(
        self, request: pb.HeartbeatRequest, context: object
    ) -> pb.HeartbeatResponse:
        raise _hub_only("Heartbeat")

    async def Deregister(
        self, request: pb.DeregisterRequest, context: object
    ) -> pb.DeregisterResponse:
        raise _hub_only("Deregister")

    async def FetchVoucher(
        self, request: pb.FetchVoucherRequest, context: object
    ) -> pb.FetchVoucherResponse:
        raise _hub_only("FetchVoucher")

    async def RouteQuery(
        self, request: pb.RouteQueryRequest, context: CallContext
    ) -> pb.RouteQueryResponse:
        """The issuer's side of a routed scan: decode and claim (node.acceptance)."""
        _from_national("a routed scan reaches an issuer")
        decoded = await self.acceptance.decode_routed(
            request.servingProvince, request.terminalId, request.query.ecQrCode
        )
        return pb.RouteQueryResponse(
            voucher=cached_voucher_data(decoded.voucher),
            insuOrg=decoded.insu_org,
            staleCache=decoded.stale,
            codeVersion=decoded.code_version,
        )

    async def RouteSettle(
        self, request: pb.RouteSettleRequest, context: CallContext
    ) -> pb.RouteSettleResponse:
        """The insured province's side of a remote settlement (node.settlement)."""
        _from_national("a remote settlement reaches the insured province")
        return await self.settlements.settle_routed(request)

    async def RouteReverse(
        self, request: pb.RouteReverseRequest, context: CallContext
    ) -> pb.RouteReverseResponse:
        """The reversal of a remote settlement this province made."""
        _from_national("a remote reversal reaches the insured province")
        row = await self.settlements.reverse_routed(request)
        return pb.RouteReverseResponse(settlement=settlement_to_proto(row))

    async def DeliverEvents(
        self,
        request: pb.DeliverEventsRequest,
        context: grpc.aio.ServicerContext[pb.DeliverEventsRequest, pb.DeliverEventsResponse],
    ) -> pb.DeliverEventsResponse:
        """What national delivers: voucher changes, relayed notices, channel status."""
        return await self.inbox.deliver(current_caller().node, request)

    async def CollectFigures(
        self, request: pb.CollectFiguresRequest, context: object
    ) -> pb.CollectFiguresResponse:
        """This province's figures, for national's management center (node.figures)."""
        _from_national("the figures of a province are gathered")
        if self.figures is None:
            raise _provinces_only("CollectFigures")
        return await self.figures.collect(request)

    async def CollectInstitutionDay(
        self, request: pb.CollectInstitutionDayRequest, context: object
    ) -> pb.CollectInstitutionDayResponse:
        """An institution's day here, for national's management center."""
        _from_national("an institution's day is gathered")
        return await institution_day(self.settlements, request)
