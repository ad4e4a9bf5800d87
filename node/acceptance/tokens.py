"""The ecToken (ARCHITECTURE §4, standard 6.4): its format and its check.

``<serving region (6)>ec<30 random lowercase alphanumerics>``, 38 characters (table B.4
allows 40), e.g. ``440000ecq3…``. The region is the serving province's code followed by
``0000``; the random part carries log2(36^30) ≈ 155 bits, so a token cannot be guessed,
only issued. A token is bound to the voucher, the orgId, the business type and the
insured region of the scan that issued it, and to the person's identity as the token
check compares it (table C.3).
"""

from __future__ import annotations

from node.clock import Entropy
from node.domain.codes import CHECK_FAIL, CHECK_OK
from node.storage.acceptance import TokenRow

__all__ = ["ALPHABET", "LENGTH", "new_token", "looks_like_token", "region_of", "check_result"]

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_RANDOM = 30
LENGTH = 6 + 2 + _RANDOM
# Bytes below this are used (7 × 36), the rest redrawn: no modulo bias.
_LIMIT = 252
_ALLOWED = frozenset(ALPHABET)


def region_of(province: str) -> str:
    """The 6-digit region code of a province node: ``44`` → ``440000``."""
    return f"{province}0000"


# byte b < 252 -> ALPHABET[b % 36]; the other four bytes are dropped (redrawn).
_TABLE = bytes(ord(ALPHABET[b % 36]) if b < _LIMIT else 0 for b in range(256))
_DROP = bytes(range(_LIMIT, 256))


def new_token(province: str, entropy: Entropy) -> str:
    chars = b""
    while len(chars) < _RANDOM:
        chars += entropy.token_bytes(_RANDOM + 8).translate(_TABLE, _DROP)
    return f"{region_of(province)}ec{chars[:_RANDOM].decode()}"


def looks_like_token(value: str) -> bool:
    return (
        len(value) == LENGTH
        and value[:6].isdigit()
        and value[6:8] == "ec"
        and _ALLOWED.issuperset(value[8:])
    )


def check_result(row: TokenRow, id_type: str, id_no: str, user_name: str, org_id: str = "") -> int:
    """Table C.3: 1 when the person (and the institution, when given) is the token's."""
    same = (
        row.id_type == id_type and row.id_no.upper() == id_no.upper() and row.user_name == user_name
    )
    if org_id and org_id != row.org_id:
        same = False
    return CHECK_OK if same else CHECK_FAIL
