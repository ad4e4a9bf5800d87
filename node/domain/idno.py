"""Identity document numbers by id type (table C.2 of XJ-D01-2019).

Type 01 is the 18-character resident id of GB 11643: a 6-digit address code whose first
two digits name a province of GB/T 2260, the birth date ``YYYYMMDD``, a 3-digit sequence
(odd last digit: male) and an ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``).
Type 17 (residence permit of Hong Kong, Macau and Taiwan residents) has the same shape
with address codes 81, 82, 83. The other types get bounded format rules, lenient where
the real documents vary.

Callers first bring a number to its canonical form with :func:`normalize_id` (trimmed;
letters uppercased, so a lowercase ``x`` check character becomes ``X``), then check it
with :func:`validate_id`, which is strict: it accepts canonical forms only, so whatever
passes is what gets stored and what the voucher number is derived from.
"""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

__all__ = [
    "ID_TYPES",
    "RESIDENT_ID",
    "PROVINCE_CODES",
    "ResidentId",
    "check_char",
    "normalize_id",
    "parse_resident_id",
    "validate_id",
]

ID_TYPES: dict[str, str] = {
    "01": "居民身份证（户口簿）",
    "02": "中国人民解放军军官证",
    "03": "中国人民武装警察警官证",
    "04": "香港特区护照/港澳居民来往内地通行证",
    "05": "澳门特区护照/港澳居民来往内地通行证",
    "06": "台湾居民来往大陆通行证",
    "07": "外国人永久居留证",
    "08": "外国人护照",
    "11": "外国人就业证",
    "12": "外国专家证",
    "13": "外国人常驻记者证",
    "14": "台港澳人员就业证",
    "15": "回国（来华）定居专家证",
    "16": "出生医学证明",
    "17": "港澳台居民居住证",
    "99": "其他身份证件",
}
"""Table C.2: id type code → name as printed in the standard."""

RESIDENT_ID = "01"

PROVINCE_CODES: frozenset[str] = frozenset(
    f"{n:02d}"
    for n in [
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    ]
)
"""First-level codes of GB/T 2260 that open a resident id number (type 01)."""

_PERMIT_PROVINCES = frozenset({"81", "82", "83"})  # type 17: HK, Macau, Taiwan

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_MAP = "10X98765432"

_RESIDENT_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

# Patterns of the other id types, matched against the canonical (uppercase) form.
_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "02": (
        re.compile(r"[0-9A-Z\u4e00-\u9fff]{4,20}"),
        "4-20 Chinese characters, letters or digits",
    ),
    "03": (
        re.compile(r"[0-9A-Z\u4e00-\u9fff]{4,20}"),
        "4-20 Chinese characters, letters or digits",
    ),
    "04": (re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?"), "H or M followed by 8 or 10 digits"),
    "05": (re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?"), "H or M followed by 8 or 10 digits"),
    "06": (re.compile(r"[0-9]{8}|[0-9A-Z]{10}"), "8 digits or 10 letters and digits"),
    "07": (
        re.compile(r"[A-Z]{3}[0-9]{12}|9[0-9]{16}[0-9X]"),
        "3 letters and 12 digits, or 18 characters starting with 9",
    ),
    "08": (re.compile(r"[0-9A-Z]{5,17}"), "5-17 letters and digits"),
    "11": (re.compile(r"[0-9A-Z]{6,20}"), "6-20 letters and digits"),
    "12": (re.compile(r"[0-9A-Z]{6,20}"), "6-20 letters and digits"),
    "13": (re.compile(r"[0-9A-Z]{6,20}"), "6-20 letters and digits"),
    "14": (re.compile(r"[0-9A-Z]{6,20}"), "6-20 letters and digits"),
    "15": (re.compile(r"[0-9A-Z]{6,20}"), "6-20 letters and digits"),
    "16": (re.compile(r"[A-Z][0-9]{9}"), "1 letter followed by 9 digits"),
}


class ResidentId(NamedTuple):
    """The parts of an 18-character resident id number."""

    address_code: str
    birth: date
    sequence: str
    gender: str  # "1" male, "2" female (GB/T 2261.1)


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``) of 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("check_char needs exactly 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_MAP[total % 11]


def normalize_id(id_type: str, id_no: str) -> str:
    """The canonical form of ``id_no``: surrounding whitespace removed, letters uppercased.

    Type 99 (other documents) is only trimmed: its content is free.
    """
    id_no = id_no.strip()
    return id_no if id_type == "99" else id_no.upper()


def _birth_problem(digits: str, today: date) -> str | None:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return f"birth date {digits} is not a date"
    if born.year < 1900:
        return f"birth date {digits} is before 1900"
    if born > today:
        return f"birth date {digits} is in the future"
    return None


def _resident_problem(
    id_type: str, id_no: str, provinces: frozenset[str], today: date
) -> str | None:
    if len(id_no) != 18:
        return f"id type {id_type} must be 18 characters, got {len(id_no)}"
    if not _RESIDENT_SHAPE.fullmatch(id_no):
        return f"id type {id_type} must be 17 digits followed by a digit or X"
    if id_no[:2] not in provinces:
        return f"address code {id_no[:6]} does not start with a valid province code"
    problem = _birth_problem(id_no[6:14], today)
    if problem:
        return problem
    expected = check_char(id_no[:17])
    if id_no[17] != expected:
        return f"check character should be {expected}"
    return None


def validate_id(id_type: str, id_no: str, today: date | None = None) -> str | None:
    """None when ``id_no`` is a valid canonical number of ``id_type``, else the reason.

    ``today`` bounds birth dates (defaults to ``date.today()``). The reason is a short
    English sentence, e.g. ``"check character should be 9"``.
    """
    if id_type not in ID_TYPES:
        return f"unknown id type {id_type}"
    if not id_no.strip():
        return "id number is empty"
    if id_no != normalize_id(id_type, id_no):
        return "id number is not in canonical form (use normalize_id)"
    today = today or date.today()
    if id_type == "01":
        return _resident_problem(id_type, id_no, PROVINCE_CODES, today)
    if id_type == "17":
        return _resident_problem(id_type, id_no, _PERMIT_PROVINCES, today)
    if id_type == "99":
        if len(id_no) > 30:
            return f"id type 99 must be at most 30 characters, got {len(id_no)}"
        if not id_no.isprintable():
            return "id number contains non-printable characters"
        return None
    pattern, rule = _FORMATS[id_type]
    if not pattern.fullmatch(id_no):
        return f"id type {id_type} must be {rule}"
    if id_type == "07" and len(id_no) == 18:
        expected = check_char(id_no[:17])
        if id_no[17] != expected:
            return f"check character should be {expected}"
    return None


def parse_resident_id(id_no: str, today: date | None = None) -> ResidentId:
    """Split a valid 18-character resident id (type 01, or type 17) into its parts.

    Raises ``ValueError`` with the reason when the number is not valid as either type.
    """
    problem = validate_id("01", id_no, today)
    if problem and validate_id("17", id_no, today) is not None:
        raise ValueError(problem)
    birth = date(int(id_no[6:10]), int(id_no[10:12]), int(id_no[12:14]))
    gender = "1" if int(id_no[16]) % 2 else "2"
    return ResidentId(id_no[:6], birth, id_no[14:17], gender)
