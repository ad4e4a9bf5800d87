"""National as the hub of the routed calls: a scan of another province's code (4.9), a
remote settlement (6.5) and its reversal, each forwarded to the one province that may
answer it. National never decodes a code and keeps no settlement data.

The three are built the same way: the caller must be the serving province's node
speaking for itself (-4 otherwise); the target province is read from the request
without any key; a call whose target is the caller itself is refused (-2: that province
answers it itself); then :class:`~federation.forward.Forwarder`
sends the request unchanged on the link to the target's address, within the target's
deadline and what is left of the caller's. National takes out of the answers of
``RouteQuery`` and ``RouteSettle`` any authorization code or digest of one an issuer
may have put there (``node.wire.voucher.without_codes``): the serving province gets
what it needs to serve, never the means to find a voucher by a channel's code. The
targets:

* ``RouteQuery``: the issuer, digits 23–24 of the QR value
  (:func:`node.domain.qrcode.issuer_of`; a value of no province's shape is 500049);
  deadline ``route_deadline``;
* ``RouteSettle``: the insured province, the first two digits of ``insuOrg``;
* ``RouteReverse``: ``settledBy``, the province that settled it; both within
  ``settle_deadline``.
"""

from __future__ import annotations

from ecnet.v1 import federation_service_pb2 as fed_pb
from federation.forward import Forwarder
from node.domain.qrcode import issuer_of
from node.errors import EcError, invalid
from node.wire.voucher import without_codes

__all__ = ["Hub"]


class Hub:
    def __init__(self, forwarder: Forwarder, route_deadline: float, settle_deadline: float) -> None:
        self.forwarder = forwarder
        self.route_deadline = route_deadline
        self.settle_deadline = settle_deadline

    async def route_query(
        self, caller: str, request: fed_pb.RouteQueryRequest, time_remaining: float | None
    ) -> fed_pb.RouteQueryResponse:
        serving = request.servingProvince
        self._check_caller("RouteQuery", caller, serving)
        issuer = issuer_of(request.query.ecQrCode)
        if issuer is None:
            raise EcError(500049, "this is not a QR code of the medical-insurance voucher")
        if issuer == serving:
            raise invalid(
                f"a code of province {issuer} is decoded by province {issuer} itself, not routed"
            )
        answer: fed_pb.RouteQueryResponse = await self.forwarder.forward(
            issuer,
            "the issuer of this code",
            lambda peer, timeout: peer.link.RouteQuery(request, timeout=timeout),
            time_remaining,
            self.route_deadline,
        )
        without_codes(answer.voucher)
        return answer

    async def route_settle(
        self, caller: str, request: fed_pb.RouteSettleRequest, time_remaining: float | None
    ) -> fed_pb.RouteSettleResponse:
        serving, insu_org = request.servingProvince, request.insuOrg
        self._check_caller("RouteSettle", caller, serving)
        insured = insu_org[:2]
        if len(insu_org) != 6 or not insu_org.isdigit() or insured == serving:
            raise invalid(
                f"insuOrg {insu_org!r} is not another province's region: a settlement of the "
                "serving province's own insured is made there, not routed"
            )
        settled: fed_pb.RouteSettleResponse = await self.forwarder.forward(
            insured,
            "the insured province",
            lambda peer, timeout: peer.link.RouteSettle(request, timeout=timeout),
            time_remaining,
            self.settle_deadline,
        )
        without_codes(settled.voucher)
        return settled

    async def route_reverse(
        self, caller: str, request: fed_pb.RouteReverseRequest, time_remaining: float | None
    ) -> fed_pb.RouteReverseResponse:
        serving, settled_by = request.servingProvince, request.settledBy
        self._check_caller("RouteReverse", caller, serving)
        if len(settled_by) != 2 or not settled_by.isdigit() or settled_by == serving:
            raise invalid(f"settledBy {settled_by!r} is not another province")
        return await self.forwarder.forward(
            settled_by,
            "the province that settled it",
            lambda peer, timeout: peer.link.RouteReverse(request, timeout=timeout),
            time_remaining,
            self.settle_deadline,
        )

    @staticmethod
    def _check_caller(method: str, caller: str, serving: str) -> None:
        if caller != f"p{serving}":
            raise EcError(
                -4,
                f"{method} for province {serving or '?'} must come from that province's node "
                f"(caller: {caller or 'anonymous'})",
            )

    async def close(self) -> None:
        await self.forwarder.close()
