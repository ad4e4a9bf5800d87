"""The ecToken's format (standard 6.4, table B.4).

``<serving region (6)>ec<30 random lowercase alphanumerics>``, 38 characters (table B.4
allows 40), e.g. ``440000ecq3…``. The region is the serving province's code followed by
``0000``; the random part carries log2(36^30) ≈ 155 bits, so a token cannot be guessed,
only issued. What a token is bound to, and its check, are the serving province's
(``node.acceptance``).
"""

from __future__ import annotations

from node.clock import Entropy

__all__ = ["ALPHABET", "LENGTH", "new_token", "looks_like_token", "region_of"]

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
    """A fresh token of the serving ``province``."""
    chars = b""
    while len(chars) < _RANDOM:
        chars += entropy.token_bytes(_RANDOM + 8).translate(_TABLE, _DROP)
    return f"{region_of(province)}ec{chars[:_RANDOM].decode()}"


def looks_like_token(value: str) -> bool:
    """The shape of a token: 6 digits, ``ec``, 30 of :data:`ALPHABET`."""
    return (
        len(value) == LENGTH
        and value[:6].isdigit()
        and value[6:8] == "ec"
        and _ALLOWED.issuperset(value[8:])
    )
