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
costs national no database read.
"""

from __future__ import annotations

import logging
import time

import grpc

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.client import PeerClient
from node.acceptance.runtime import transport_failure
from node.acceptance.settings import AcceptanceSettings
from node.domain.regions import province_name
from node.errors import EcError, from_rpc_error, invalid
from node.qr.codes import issuer_of

__all__ = ["Router", "router_of"]

log = logging.getLogger("ecnet.route")

# Seconds kept back from the caller's deadline for national's own answer to travel back.
MARGIN = 0.2
# Seconds a province's address (or its absence) is taken from the directory's last answer.
ADDRESS_TTL = 1.0


class Router:
    def __init__(self, directory, settings: AcceptanceSettings) -> None:
        self.directory = directory
        self.settings = settings
        self._peers: dict[str, PeerClient] = {}
        # province -> (address or None, time.monotonic() of the lookup)
        self._addresses: dict[str, tuple[str | None, float]] = {}

    async def _address_of(self, province: str) -> str | None:
        now = time.monotonic()
        hit = self._addresses.get(province)
        if hit is not None and now - hit[1] < ADDRESS_TTL:
            return hit[0]
        address = await self.directory.address_of(province)
        self._addresses[province] = (address, now)
        return address

    def _peer(self, address: str) -> PeerClient:
        peer = self._peers.get(address)
        if peer is None:
            peer = self._peers[address] = PeerClient(address, "national")
        return peer

    async def _drop(self, address: str) -> None:
        peer = self._peers.pop(address, None)
        if peer is not None:
            await peer.close()

    async def route(
        self, caller: str, request: fed_pb.RouteQueryRequest, time_remaining: float | None
    ) -> fed_pb.RouteQueryResponse:
        serving = request.servingProvince
        if caller != f"p{serving}":
            raise EcError(-4, f"RouteQuery for province {serving or '?'} must come from that province's node "
                              f"(caller: {caller or 'anonymous'})")
        issuer = issuer_of(request.query.ecQrCode)
        if issuer is None:
            raise EcError(500049, "this is not a QR code of the medical-insurance voucher")
        if issuer == serving:
            raise invalid(f"a code of province {issuer} is decoded by province {issuer} itself, not routed")
        where = f"province {issuer} ({province_name(issuer)})"
        address = await self._address_of(issuer)
        if address is None:
            raise EcError(-3, f"the issuer of this code, {where}, has no live node registered with the national "
                              "hub: the code cannot be decoded now; try again later")
        timeout = self.settings.route_deadline
        if time_remaining is not None:
            timeout = min(timeout, time_remaining - MARGIN)
        if timeout <= 0:
            raise EcError(-3, f"no time left to reach {where}")
        peer = self._peer(address)
        try:
            return await peer.federation.RouteQuery(request, metadata=peer.metadata, timeout=timeout)
        except grpc.RpcError as exc:
            code, message = from_rpc_error(exc)
            if transport_failure(exc):
                self._addresses.pop(issuer, None)
                if exc.code() == grpc.StatusCode.UNAVAILABLE:
                    await self._drop(address)
                code, message = -3, (f"the issuer of this code, {where} at {address}, did not answer "
                                     f"within {timeout:.1f} s ({exc.code().name.lower()})")
            raise EcError(code, message) from None

    async def close(self) -> None:
        for address in list(self._peers):
            await self._drop(address)


def router_of(node) -> Router:
    """National's router, built on first use."""
    router = getattr(node, "scan_router", None)
    if router is None:
        router = Router(node.directory, AcceptanceSettings.from_config(node.config.extra))
        node.scan_router = router
        node.on_stop(router.close)
    return router
