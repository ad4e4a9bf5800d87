"""The Appendix B envelope (tables B.1, B.2): ``{orgId, transType, data, extra}`` in,
``{orgId, code, data, message, extra}`` out.

``transType``:

* ``ec.query`` — ``data`` carries the fields of table B.3 and the scanned ``ecQrCode``;
  the answer's ``data`` is table B.4 (with the ecToken);
* ``ec.token.check`` — ``data`` carries ``ecToken, idType, idNo, userName`` (and
  optionally ``orgId``); the answer's ``data`` is ``{flag, insuOrg}``, flag per table
  C.3 (1 valid, 0 not);
* anything else: 500021.

``data.orgId`` defaults to the envelope's ``orgId`` and must equal it when both are
given. Values in ``data`` are strings; a whole number is accepted for a string field
(``"businessType": 1101`` is read as ``"1101"`` and then refused by the C.1 check).
Failures never become a gRPC error here: the servicer puts the code and message into
the answer and sends ``data`` as an empty object (callers parse it unconditionally).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from node.acceptance.inputs import QueryInput, TokenCheckInput, check_org_id
from node.acceptance.scan import ScanResult
from node.acceptance.tokens import TokenCheck
from node.errors import EcError, Problems, invalid

__all__ = ["TRANS_TYPES", "EC_QUERY", "EC_TOKEN_CHECK", "trans"]

EC_QUERY = "ec.query"
EC_TOKEN_CHECK = "ec.token.check"
TRANS_TYPES = (EC_QUERY, EC_TOKEN_CHECK)


def _strings(data: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, str):
            out[key] = value
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and float(value).is_integer()
        ):
            out[key] = str(int(value))
        elif key == "extra":
            continue  # a caller's own nested data, not read
        else:
            raise invalid(f"data.{key} must be a string, got {type(value).__name__}", field=key)
    return out


class Acceptor(Protocol):
    """The two calls an envelope carries (:class:`~node.acceptance.scan.Acceptance`)."""

    async def query(self, terminal_id: str, q: QueryInput) -> ScanResult: ...

    async def check_token(self, terminal_id: str, t: TokenCheckInput) -> TokenCheck: ...


async def trans(
    acceptance: Acceptor, terminal_id: str, org_id: str, trans_type: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The answer's ``data`` for one envelope, or raises :class:`EcError` (a malformed
    envelope before ``acceptance`` is called)."""
    problems = Problems()
    check_org_id(org_id, problems)
    problems.require("transType", trans_type, hint=f"one of {', '.join(TRANS_TYPES)}")
    if trans_type and trans_type not in TRANS_TYPES:
        raise EcError(
            500021,
            f"unknown transType {trans_type[:40]!r}: this node serves {', '.join(TRANS_TYPES)}",
        )
    fields = _strings(data)
    inner_org = fields.get("orgId", "")
    if org_id and inner_org and inner_org != org_id:
        raise invalid(
            f"data.orgId {inner_org!r} differs from the envelope's orgId {org_id!r}", field="orgId"
        )
    fields["orgId"] = org_id
    # The envelope and its data in one refusal: every missing or wrong field named.
    if trans_type == EC_QUERY:
        QueryInput.from_mapping(fields).collect(problems)
    elif trans_type:
        TokenCheckInput.from_mapping(fields).collect(problems)
    problems.check()
    if trans_type == EC_QUERY:
        result = await acceptance.query(terminal_id, QueryInput.from_mapping(fields))
        return result.as_dict()
    # Table B.2's data of a token check is {flag, insuOrg}; the typed CheckToken also
    # names the fields that did not match.
    flag, insu_org, _ = await acceptance.check_token(
        terminal_id, TokenCheckInput.from_mapping(fields)
    )
    return {"flag": flag, "insuOrg": insu_org}
