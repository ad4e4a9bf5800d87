"""The token check of the medical-insurance system (table C.3): is this the person (and
the institution) the serving province issued the ecToken to? The token's format is
:mod:`node.domain.ectoken`."""

from __future__ import annotations

from node.domain.codes import CHECK_FAIL, CHECK_OK
from node.storage.acceptance import TokenRow

__all__ = ["check_result"]


def check_result(row: TokenRow, id_type: str, id_no: str, user_name: str, org_id: str = "") -> int:
    """Table C.3: 1 when the person (and the institution, when given) is the token's."""
    same = (
        row.id_type == id_type and row.id_no.upper() == id_no.upper() and row.user_name == user_name
    )
    if org_id and org_id != row.org_id:
        same = False
    return CHECK_OK if same else CHECK_FAIL
