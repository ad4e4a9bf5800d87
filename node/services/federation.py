"""FederationService: registration and heartbeats at national; Identify everywhere;
DeliverEvents at a province (the receiving end of ``federation.delivery``)."""

from __future__ import annotations

import logging

from ecnet.v1 import federation_service_pb2 as pb
from ecnet.v1 import federation_service_pb2_grpc
from federation.events import inbound_from_proto
from node.errors import EcError, invalid
from node.interceptor import current_caller
from node.services.admin import ts_from_ms

__all__ = ["FederationServicer"]

log = logging.getLogger("ecnet.inbox")

# The only sender of events so far; a province's own outbox (settlement notices) would
# add its node name here.
EVENT_ORIGINS = frozenset({"national"})


class FederationServicer(federation_service_pb2_grpc.FederationServiceServicer):
    def __init__(self, node) -> None:
        self.node = node

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
        await directory.register(request.province, request.address, request.version, request.instanceId)
        return pb.RegisterResponse(
            heartbeatIntervalSeconds=max(1, int(directory.interval)),
            registeredAt=ts_from_ms(self.node.clock.now_ms()),
        )

    async def Heartbeat(self, request, context):
        directory = self._directory("Heartbeat")
        self._check_caller(request.province)
        known = await directory.heartbeat(request.province, request.instanceId, request.appliedPosition)
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

    async def DeliverEvents(self, request, context):
        node = self.node
        if node.config.role != "provincial":
            raise EcError(-5, "DeliverEvents is served by provincial nodes; national is the sender")
        caller = current_caller().node
        if caller not in EVENT_ORIGINS:
            raise EcError(-4, f"only national may deliver events (caller: {caller or 'anonymous'})")
        if request.origin and request.origin != caller:
            raise invalid(f"origin {request.origin!r} is not the calling node {caller!r}")
        events = [inbound_from_proto(e) for e in request.events]
        result = await node.store.apply_events(caller, events, node.clock.now_ms())
        # After the commit, so a heartbeat never reports a position that could be lost.
        if caller == "national":
            node.applied_position = max(node.applied_position, result.position)
        if events:
            log.info(
                "events applied",
                extra={
                    "fields": {
                        "origin": caller, "batch": request.batchId, "position": result.position,
                        "applied": result.applied, "stale": result.stale, "duplicates": result.duplicates,
                    }
                },
            )
        return pb.DeliverEventsResponse(appliedPosition=result.position)
