"""National's part of a scan of another province's code: forward it, never decode it (4.9).

``RouteQuery`` arrives from the serving province (``ec-node: pNN``). National reads the
issuing province from the value's digits 23–24 (no key: national cannot tell a real
code from a forged one, and does not try), finds the issuer's address in the node
directory and forwards the request unchanged. The forward gets what is left of the
caller's deadline less a margin, capped at ``route_deadline``, so that national's own
clear -3 ("province 44 did not answer") reaches the serving province before its
deadline runs out. Channels to issuers are kept per address and dropped when a call
finds the peer gone; the directory's answer for a province is kept for
``ADDRESS_TTL`` seconds (forgotten at once when a call to it fails), so a routed scan
costs national no database read. The forwarding itself is :class:`federation.forward.Forwarder`,
shared with remote settlements.
"""

from __future__ import annotations

import logging

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.forward import Forwarder, forwarder_of
from node.acceptance.settings import AcceptanceSettings
from node.domain.qrcode import issuer_of
from node.errors import EcError, invalid

__all__ = ["Router", "router_of"]

log = logging.getLogger("ecnet.route")


class Router:
    def __init__(self, forwarder: Forwarder, settings: AcceptanceSettings) -> None:
        self.settings = settings
        self.forwarder = forwarder

    async def route(
        self, caller: str, request: fed_pb.RouteQueryRequest, time_remaining: float | None
    ) -> fed_pb.RouteQueryResponse:
        serving = request.servingProvince
        if caller != f"p{serving}":
            raise EcError(
                -4,
                f"RouteQuery for province {serving or '?'} must come from that province's node "
                f"(caller: {caller or 'anonymous'})",
            )
        issuer = issuer_of(request.query.ecQrCode)
        if issuer is None:
            raise EcError(500049, "this is not a QR code of the medical-insurance voucher")
        if issuer == serving:
            raise invalid(
                f"a code of province {issuer} is decoded by province {issuer} itself, not routed"
            )
        return await self.forwarder.forward(
            issuer,
            "the issuer of this code",
            lambda peer, timeout: peer.link.RouteQuery(request, timeout=timeout),
            time_remaining,
            self.settings.route_deadline,
        )


def router_of(node) -> Router:
    """National's router, built on first use."""
    router = getattr(node, "scan_router", None)
    if router is None:
        router = Router(forwarder_of(node), AcceptanceSettings.from_config(node.config.extra))
        node.scan_router = router
    return router
