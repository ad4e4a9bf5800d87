"""Acceptance at the provincial nodes (standard 6.3, 6.4 a, 7.1, Appendix B): a terminal
scans a QR code, the issuer alone decodes it, the serving province answers with the
person and an ecToken, and the medical-insurance system checks that token.

- :mod:`.inputs`: table B.3 (and the token check's inputs), checked;
- :mod:`.terminals`: the terminals of the province, copied from national (500100);
- :mod:`.decode`: the issuer's decode — keyed check, one-business claim, voucher state;
- :mod:`.scan`: the serving province — local or routed, the ecToken, consistency
  (500023; the rule is in its docstring), the token check;
- :mod:`.tokens`: the token check (table C.3); :mod:`.envelope`: the Appendix B ``Trans``;
- :mod:`.wire`: the scan request to and from its proto;
- :mod:`.settings`: token lifetime, route deadline, terminal refresh.

The token check (``CheckToken``, ``ec.token.check``) is the medical-insurance system's
call, not a terminal's: it needs no ``ec-terminal-id``; an ``orgId`` given with it must
be the one the token was issued to (else flag 0).

``node.services.acceptance`` and the ``RouteQuery`` of ``node.services.federation``
adapt these to gRPC; national's forward of a routed scan to its issuer (it never
decodes) is ``federation.hub``. The scans' writes commit through the province's
unsynced writer (``node.storage.batch``).
"""

from node.acceptance.inputs import QueryInput, TokenCheckInput
from node.acceptance.scan import Acceptance, NationalPort, ScanResult
from node.acceptance.settings import AcceptanceSettings

__all__ = [
    "Acceptance",
    "AcceptanceSettings",
    "NationalPort",
    "QueryInput",
    "ScanResult",
    "TokenCheckInput",
]
