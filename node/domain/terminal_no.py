"""The terminal number (终端备案号, 2.8 of the standard) and the names a terminal carries.

National allocates each terminal's number at registration (7.2.1.1, table 1): 20
digits, unique nationwide. Its form here: province (2) + year of registration (4) + 9
random digits + a 5-digit serial of the province's registrations. The random digits
make a number hard to guess; the serial makes two registrations differ.
"""

from __future__ import annotations

import re

from node.domain.regions import is_province

__all__ = [
    "TERMINAL_ID_LENGTH",
    "ORG_ID_PATTERN",
    "MAC_PATTERN",
    "VERSION_PATTERN",
    "terminal_number",
    "is_terminal_number",
]

TERMINAL_ID_LENGTH = 20
#: An institution's orgId (机构 ID) as a terminal's identity carries it: at most 40.
ORG_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
#: 终端 MAC 地址: six hexadecimal pairs separated by ":".
MAC_PATTERN = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
#: 终端的版本: X.Y, at least major and minor.
VERSION_PATTERN = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){1,3}")


def terminal_number(province: str, year: int, random9: int, serial: int) -> str:
    """The number of the ``serial``-th (from 1) terminal of ``province`` registered in
    ``year``, with ``random9`` (below 10**9) as its random part."""
    if not is_province(province):
        raise ValueError(f"{province!r} is not a province code")
    if not (0 <= random9 < 10**9 and 0 < serial < 10**5 and 1000 <= year <= 9999):
        raise ValueError("random part, serial or year out of range")
    return f"{province}{year:04d}{random9:09d}{serial:05d}"


def is_terminal_number(value: str) -> bool:
    """20 ASCII digits whose first two are a province code."""
    return (
        len(value) == TERMINAL_ID_LENGTH
        and value.isascii()
        and value.isdigit()
        and is_province(value[:2])
    )
