"""The QR value: its format, its keyed check, and who issued it (standard 4.9).

A value is 28 decimal digits::

    424 | 13 random digits | 6 check digits | issuing province (2) | 0000

The 19 digits the issuer chooses are 13 unpredictable digits and a 6-digit check,
``HMAC-SM3(province key, "424" + random + province)`` reduced mod 10^6. Any node can
read the province to route a scan (``issuer_of``); only the issuer, holding the key,
can tell a real value from a forged one (``check``) — before any database lookup, so
a flood of guesses costs the issuer one HMAC each. A guess passes the check with
probability 10^-6 and then still has to match an issued, unexpired, unused code.
Numeric-only keeps the printed QR code in numeric mode, small and quick to scan.
"""

from __future__ import annotations

import hmac

from node.clock import Entropy
from node.domain.regions import is_province
from node.domain.sm import hmac_sm3

__all__ = ["PREFIX", "SUFFIX", "LENGTH", "new_code", "check", "issuer_of", "looks_like_code"]

PREFIX = "424"
SUFFIX = "0000"
LENGTH = 28
_RANDOM = 13
_CHECK = 6


def _check_digits(key: bytes, random_digits: str, province: str) -> str:
    mac = hmac_sm3(key, f"{PREFIX}{random_digits}{province}".encode())
    return f"{int.from_bytes(mac[:8], 'big') % 10**_CHECK:0{_CHECK}d}"


def new_code(key: bytes, province: str, entropy: Entropy) -> str:
    """A fresh value issued by ``province`` under its ``key``."""
    random_digits = f"{entropy.randbelow(10**_RANDOM):0{_RANDOM}d}"
    return f"{PREFIX}{random_digits}{_check_digits(key, random_digits, province)}{province}{SUFFIX}"


def looks_like_code(value: str) -> bool:
    """The shape of a value: 28 digits, ``424`` … ``0000``, a province code."""
    return (
        len(value) == LENGTH
        and value.isdigit()
        and value.startswith(PREFIX)
        and value.endswith(SUFFIX)
        and is_province(value[22:24])
    )


def issuer_of(value: str) -> str | None:
    """The issuing province of a well-shaped value, else None. Needs no key."""
    return value[22:24] if looks_like_code(value) else None


def check(key: bytes, value: str) -> bool:
    """Did the holder of ``key`` issue this value? (format and keyed check only)"""
    if not looks_like_code(value):
        return False
    random_digits, digits, province = value[3:16], value[16:22], value[22:24]
    return hmac.compare_digest(digits, _check_digits(key, random_digits, province))
