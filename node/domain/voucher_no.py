"""The 64-character voucher number (电子凭证号), standard 4.1.

The standard fixes only the ingredients: id type, id number and name, SM4 encryption
and an SM3 digest, 64 characters. ecnet's construction:

1. canonical bytes ``P = UTF-8(f"{id_type}|{id_no.upper()}|{name.strip()}")``, where
   ``id_type`` is a code of table C.2 and ``id_no`` contains no ``|`` (so ``P`` is
   unambiguous; the name comes last and may contain anything);
2. ``IV = SM3(b"ecnet/voucher-no/iv" || K)[:16]``, fixed for the national key ``K``
   (16 bytes), so the whole construction is deterministic;
3. ``C = SM4-CBC(K, IV, PKCS#7(P))``;
4. voucher number ``= uppercase hex(SM3(C))``: 32 bytes, 64 characters.

Same person, same number; a change of any of the three inputs gives a new number (up to
SM3 collisions); a different key gives unrelated numbers, and without the key nobody can
compute a person's number from their identity. The number cannot be decrypted back: it
is a keyed one-way identifier. Callers pass the id number in canonical form
(:func:`node.domain.idno.normalize_id`); uppercasing here guards the check character X.
"""

from __future__ import annotations

import re

from node.domain.idno import ID_TYPES
from node.domain.sm import sm3, sm4_encrypt_cbc

__all__ = ["VOUCHER_NUMBER_LENGTH", "is_voucher_number", "voucher_number"]

VOUCHER_NUMBER_LENGTH = 64

_IV_LABEL = b"ecnet/voucher-no/iv"
_SHAPE = re.compile(r"[0-9A-F]{64}")


def voucher_number(id_type: str, id_no: str, name: str, key: bytes) -> str:
    """The voucher number of a person, under the 16-byte national SM4 ``key``.

    ``ValueError`` for an unknown id type, an empty id number or name, a ``|`` in the
    id number, or a key that is not 16 bytes.
    """
    if id_type not in ID_TYPES:
        raise ValueError(f"unknown id type {id_type}")
    if not id_no.strip() or "|" in id_no:
        raise ValueError("id number is empty or contains '|'")
    if not name.strip():
        raise ValueError("name is empty")
    if len(key) != 16:
        raise ValueError(f"national key must be 16 bytes, got {len(key)}")
    plain = f"{id_type}|{id_no.upper()}|{name.strip()}".encode()
    iv = sm3(_IV_LABEL + key)[:16]
    return sm3(sm4_encrypt_cbc(key, iv, plain)).hex().upper()


def is_voucher_number(s: str) -> bool:
    """True when ``s`` has the shape of a voucher number: 64 uppercase hex characters."""
    return isinstance(s, str) and _SHAPE.fullmatch(s) is not None
