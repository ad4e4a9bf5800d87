"""``GET /metrics``: the node's metrics (``node.metrics``) in Prometheus's text format.

Who may read them: a caller whose client certificate (verified in the TLS handshake,
``node.doors.server.client_pems``, and judged by ``node.tls.Trust`` as any caller's:
clock, CRL) names an operator (any role) or a node. Without a certificate, or with a
terminal's or a channel's, the answer is 403 and one line saying why. On an
``--insecure`` node (no TLS, no trust) it is open. A scrape is neither rate limited nor
audited: it does not go through the call path (``node.interceptor``), only reads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from node.doors.calls import Calls
from node.doors.server import client_pems
from node.pki import Refused
from node.pki import Role as IdentityRole

__all__ = ["METRICS_PATH", "metrics_door"]

log = logging.getLogger("ecnet.https")

METRICS_PATH = "/metrics"
# The holders of a certificate who may scrape.
READERS = frozenset({IdentityRole.OPERATOR, IdentityRole.NATIONAL, IdentityRole.PROVINCE})


def _refused(request: Request, why: str) -> Response:
    log.warning(
        "metrics refused",
        extra={"fields": {"peer": request.client.host if request.client else "", "why": why}},
    )
    return PlainTextResponse(why + "\n", 403)


def metrics_door(calls: Calls) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of ``/metrics`` for the node of ``calls`` (its interceptor holds the
    node's metrics and trust)."""
    interceptor = calls.interceptor

    async def endpoint(request: Request) -> Response:
        metrics = interceptor.metrics
        if metrics is None:
            return PlainTextResponse("this node keeps no metrics\n", 404)
        trust = interceptor.check.trust
        if trust is not None:
            pems = client_pems(request.scope)
            if not pems:
                return _refused(
                    request,
                    "no client certificate: scrape /metrics with an operator's or a node's "
                    "certificate of the national CA",
                )
            try:
                identity = trust.identify(pems[0]).identity
            except Refused as exc:
                return _refused(request, f"certificate refused ({exc.reason}): {exc.detail}")
            if identity.role not in READERS:
                return _refused(
                    request,
                    f"{identity} may not read /metrics: an operator's or a node's certificate may",
                )
        return Response(await metrics.scrape(), media_type=CONTENT_TYPE_LATEST)

    return endpoint
