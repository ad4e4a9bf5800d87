"""Acceptance at the provincial nodes (standard 6.3, 6.4 a, 7.1, Appendix B): a terminal
scans a QR code, the issuer alone decodes it, the serving province answers with the
person and an ecToken, and the medical-insurance system checks that token.

- :mod:`.inputs`: table B.3 (and the token check's inputs), checked;
- :mod:`.terminals`: the terminals of the province, copied from national (500100);
- :mod:`.decode`: the issuer's decode — keyed check, one-business claim, voucher state;
- :mod:`.scan`: the serving province — local or routed, the ecToken, consistency
  (500023; the rule is in its docstring), the token check;
- :mod:`.routing`: national's forward of a scan to the issuer (it never decodes);
- :mod:`.tokens`: the ecToken format; :mod:`.envelope`: the Appendix B ``Trans``;
- :mod:`.batch`: group commit of the scans' writes; :mod:`.wire`: proto conversions;
- :mod:`.settings`: token lifetime, route deadline, terminal refresh.

The token check (``CheckToken``, ``ec.token.check``) is the medical-insurance system's
call, not a terminal's: it needs no ``ec-terminal-id``; an ``orgId`` given with it must
be the one the token was issued to (else flag 0).

``node.services.acceptance`` and the ``RouteQuery`` of ``node.services.federation``
adapt these to gRPC.
"""

from node.acceptance.inputs import QueryInput, TokenCheckInput
from node.acceptance.routing import Router, router_of
from node.acceptance.scan import Acceptance, ScanResult, acceptance_of
from node.acceptance.settings import AcceptanceSettings

__all__ = [
    "Acceptance",
    "AcceptanceSettings",
    "QueryInput",
    "Router",
    "ScanResult",
    "TokenCheckInput",
    "acceptance_of",
    "router_of",
]
