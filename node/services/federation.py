"""FederationService: registration and heartbeats at national; Identify everywhere;
DeliverEvents at a province (the receiving end of ``federation.delivery``) and at
national (a province's settlement notices, relayed: ``node.settlement.notice``);
FetchVoucher at national (a province lacking a voucher, 6.2.2 b 2)."""

from __future__ import annotations

import logging

from ecnet.v1 import federation_service_pb2 as pb
from ecnet.v1 import federation_service_pb2_grpc
from federation.delivery import log_epoch_restart
from federation.link import LinkServer
from node.clock import timestamp
from node.errors import EcError, invalid
from node.interceptor import current_caller
from node.services.voucher import lifecycle_of
from node.voucher.fetch import fetch_voucher
from node.wire.events import inbound_from_proto
from node.wire.voucher import cached_voucher_data

__all__ = ["FederationServicer"]

log = logging.getLogger("ecnet.inbox")

# Who may deliver events to a province. Provinces deliver only to national (their
# settlement notices), which relays them; a province never hears from another directly.
EVENT_ORIGINS = frozenset({"national"})


class FederationServicer(federation_service_pb2_grpc.FederationServiceServicer):
    def __init__(self, node) -> None:
        self.node = node
        # The answering end of Link streams: the same methods as the unary calls.
        self.links = node.links = LinkServer(
            node.config.name,
            node.config.log_calls,
            {
                "RouteQuery": self.RouteQuery,
                "RouteSettle": self.RouteSettle,
                "RouteReverse": self.RouteReverse,
            },
        )

    def _directory(self, what: str):
        if self.node.config.role != "national":
            raise EcError(-5, f"{what} is served by the national node (the hub), not by a province")
        return self.node.directory

    def _check_caller(self, province: str) -> None:
        # Until mutual TLS, a node asserts itself in metadata; it may speak only for itself.
        caller = current_caller().node
        if caller and caller != f"p{province}":
            raise EcError(-4, f"node {caller} may not act for province {province}")

    async def Register(self, request, context):
        directory = self._directory("Register")
        self._check_caller(request.province)
        await directory.register(
            request.province, request.address, request.version, request.instanceId
        )
        return pb.RegisterResponse(
            heartbeatIntervalSeconds=max(1, int(directory.interval)),
            registeredAt=timestamp(self.node.clock.now_ms()),
        )

    async def Heartbeat(self, request, context):
        directory = self._directory("Heartbeat")
        self._check_caller(request.province)
        known = await directory.heartbeat(
            request.province, request.instanceId, request.appliedPosition
        )
        return pb.HeartbeatResponse(known=known)

    async def Deregister(self, request, context):
        directory = self._directory("Deregister")
        self._check_caller(request.province)
        await directory.deregister(request.province, request.instanceId)
        return pb.DeregisterResponse()

    async def Identify(self, request, context):
        node = self.node
        return pb.IdentifyResponse(
            role=node.role_enum,
            province=node.config.province,
            instanceId=node.instance_id,
            version=node.config.version,
            address=node.address,
        )

    async def FetchVoucher(self, request, context):
        if self.node.config.role != "national":
            raise EcError(-5, "FetchVoucher is served by the national node, not by a province")
        # Personal data: only the province named in the request may fetch, as itself.
        caller = current_caller().node
        if caller != f"p{request.province}":
            raise EcError(
                -4,
                f"FetchVoucher for province {request.province!r} must come from node "
                f"p{request.province} (caller: {caller or 'anonymous'})",
            )
        data = await fetch_voucher(
            lifecycle_of(self.node), request.province, request.channelId, request.authCode
        )
        return pb.FetchVoucherResponse(voucher=data)

    async def RouteQuery(self, request, context):
        """A scan of another province's code (4.9): national forwards it to the issuer
        (never decoding it); the issuer decodes and claims it (node.acceptance)."""
        from node.acceptance import acceptance_of, router_of

        caller = current_caller().node
        if self.node.config.role == "national":
            return await router_of(self.node).route(caller, request, context.time_remaining())
        if caller != "national":
            raise EcError(
                -4,
                f"a routed scan reaches an issuer only through the national hub "
                f"(caller: {caller or 'anonymous'})",
            )
        decoded = await acceptance_of(self.node).decode_routed(
            request.servingProvince, request.terminalId, request.query.ecQrCode
        )
        return pb.RouteQueryResponse(
            voucher=cached_voucher_data(decoded.voucher),
            insuOrg=decoded.insu_org,
            staleCache=decoded.stale,
            codeVersion=decoded.code_version,
        )

    async def RouteSettle(self, request, context):
        """A remote settlement (6.5): national forwards it to the insured province, which
        settles under its own policy (node.settlement)."""
        from node.settlement import route_settle

        return await route_settle(
            self.node, current_caller().node, request, context.time_remaining()
        )

    async def RouteReverse(self, request, context):
        """The reversal of a remote settlement: national forwards it to the province that
        settled it."""
        from node.settlement import route_reverse

        return await route_reverse(
            self.node, current_caller().node, request, context.time_remaining()
        )

    async def Link(self, request_iterator, context):
        """Route calls multiplexed on one stream (federation.link)."""
        await self.links.serve(request_iterator, context)

    async def DeliverEvents(self, request, context):
        node = self.node
        caller = current_caller().node
        if node.config.role != "provincial":
            if caller == "national":
                raise EcError(-5, "national delivers events to the provinces, not to itself")
            from node.settlement.notice import relay_delivered

            return await relay_delivered(node, caller, request)
        if caller not in EVENT_ORIGINS:
            raise EcError(-4, f"only national may deliver events (caller: {caller or 'anonymous'})")
        if request.origin and request.origin != caller:
            raise invalid(f"origin {request.origin!r} is not the calling node {caller!r}")
        events = [inbound_from_proto(e) for e in request.events]
        result = await node.store.apply_events(caller, events, node.clock.now_ms(), request.epoch)
        log_epoch_restart(caller, request, result.restarted_from, result.position)
        # After the commit, so a heartbeat never reports a position that could be lost.
        if caller == "national":
            # A new epoch restarts the position: report it, not the old epoch's larger one
            # (national's cursor for this province restarted with its database).
            if result.restarted_from:
                node.applied_position = result.position
            else:
                node.applied_position = max(node.applied_position, result.position)
        if events:
            log.info(
                "events applied",
                extra={
                    "fields": {
                        "origin": caller,
                        "batch": request.batchId,
                        "position": result.position,
                        "applied": result.applied,
                        "stale": result.stale,
                        "duplicates": result.duplicates,
                    }
                },
            )
        return pb.DeliverEventsResponse(appliedPosition=result.position)
