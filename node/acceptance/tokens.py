"""The token check of the medical-insurance system (table C.3): is this the person (and
the institution) the serving province issued the ecToken to? The token's format is
:mod:`node.domain.ectoken`."""

from __future__ import annotations

from typing import NamedTuple

from node.domain.codes import CHECK_FAIL, CHECK_OK
from node.storage.acceptance import TokenRow

__all__ = ["TokenCheck", "check_result", "mismatches"]


class TokenCheck(NamedTuple):
    """The answer to a token check: table C.3's flag, the token's insured region, and
    the request fields that are not the token's (empty when the flag is 1)."""

    flag: int
    insu_org: str
    mismatches: tuple[str, ...]


def mismatches(
    row: TokenRow, id_type: str, id_no: str, user_name: str, org_id: str = ""
) -> tuple[str, ...]:
    """The names of the request fields that differ from the token's, in the order of
    CheckTokenRequest (idType, idNo, userName, orgId); ``orgId`` only when given. The id
    number compares without regard to case (the X of a resident id)."""
    wrong = []
    if row.id_type != id_type:
        wrong.append("idType")
    if row.id_no.upper() != id_no.upper():
        wrong.append("idNo")
    if row.user_name != user_name:
        wrong.append("userName")
    if org_id and org_id != row.org_id:
        wrong.append("orgId")
    return tuple(wrong)


def check_result(row: TokenRow, id_type: str, id_no: str, user_name: str, org_id: str = "") -> int:
    """Table C.3: 1 when the person (and the institution, when given) is the token's."""
    return CHECK_FAIL if mismatches(row, id_type, id_no, user_name, org_id) else CHECK_OK
