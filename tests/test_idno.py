"""Id numbers by id type (table C.2), above all the GB 11643 resident id."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.domain.idno import (
    ID_TYPES,
    ResidentId,
    check_char,
    normalize_id,
    parse_resident_id,
    validate_id,
)

TODAY = date(2026, 1, 1)
SAMPLE = "350582199711193519"  # the sample id number the standard prints

# Written out again here rather than imported, so the test checks the module.
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
PROVINCES = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
]  # fmt: skip


def my_check(first17: str) -> str:
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def with_check(first17: str) -> str:
    return first17 + my_check(first17)


def test_id_types_are_table_c2() -> None:
    assert list(ID_TYPES) == [
        "01", "02", "03", "04", "05", "06", "07", "08",
        "11", "12", "13", "14", "15", "16", "17", "99",
    ]  # fmt: skip
    assert ID_TYPES["01"] == "居民身份证（户口簿）"
    assert ID_TYPES["17"] == "港澳台居民居住证"
    assert ID_TYPES["99"] == "其他身份证件"


def test_standard_sample_is_valid() -> None:
    assert validate_id("01", SAMPLE, TODAY) is None
    assert validate_id("01", SAMPLE) is None  # today's date by default
    assert check_char(SAMPLE[:17]) == "9"


def test_known_check_characters() -> None:
    assert check_char("11010519491231002") == "X"  # the example of GB 11643
    assert check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        check_char("1234")
    with pytest.raises(ValueError):
        check_char("1101051949123100X")


@pytest.mark.parametrize("wrong", [c for c in "012345678X"])
def test_wrong_check_character_names_the_right_one(wrong: str) -> None:
    assert validate_id("01", SAMPLE[:17] + wrong, TODAY) == "check character should be 9"


def test_x_check_character() -> None:
    id_no = "11010519491231002X"
    assert validate_id("01", id_no, TODAY) is None
    lower = id_no.lower()
    assert validate_id("01", lower, TODAY) is not None  # strict: canonical form only
    assert "normalize_id" in validate_id("01", lower, TODAY)  # type: ignore[operator]
    assert normalize_id("01", lower) == id_no
    assert validate_id("01", normalize_id("01", f"  {lower}\n"), TODAY) is None


@settings(max_examples=300, deadline=None, database=None)
@given(
    province=st.sampled_from(PROVINCES),
    rest=st.integers(0, 9999),
    born=st.dates(date(1900, 1, 1), TODAY),
    sequence=st.integers(0, 999),
)
def test_random_valid_resident_ids(province: str, rest: int, born: date, sequence: int) -> None:
    first17 = f"{province}{rest:04d}{born:%Y%m%d}{sequence:03d}"
    id_no = with_check(first17)
    assert check_char(first17) == id_no[-1]
    assert validate_id("01", id_no, TODAY) is None
    parsed = parse_resident_id(id_no, TODAY)
    assert parsed == ResidentId(id_no[:6], born, f"{sequence:03d}", "1" if sequence % 2 else "2")
    for wrong in set("0123456789X") - {id_no[-1]}:
        problem = validate_id("01", first17 + wrong, TODAY)
        assert problem == f"check character should be {id_no[-1]}"


def test_parse_resident_id() -> None:
    assert parse_resident_id(SAMPLE) == ("350582", date(1997, 11, 19), "351", "1")
    female = with_check("11010519491231002")
    assert parse_resident_id(female).gender == "2"
    with pytest.raises(ValueError, match="check character"):
        parse_resident_id(SAMPLE[:17] + "0")
    permit = with_check("81000019900101001")
    assert parse_resident_id(permit, TODAY).address_code == "810000"


@pytest.mark.parametrize(
    ("birth", "reason"),
    [
        ("19971332", "birth date 19971332 is not a date"),
        ("19970229", "birth date 19970229 is not a date"),
        ("19970001", "birth date 19970001 is not a date"),
        ("19971100", "birth date 19971100 is not a date"),
        ("18991231", "birth date 18991231 is before 1900"),
        ("20260102", "birth date 20260102 is in the future"),
        ("29991231", "birth date 29991231 is in the future"),
    ],
)
def test_bad_birth_dates(birth: str, reason: str) -> None:
    id_no = with_check(f"350582{birth}351")
    assert validate_id("01", id_no, TODAY) == reason


def test_birth_date_bounds_are_inclusive() -> None:
    assert validate_id("01", with_check("35058220260101351"), TODAY) is None
    assert validate_id("01", with_check("35058219000101351"), TODAY) is None
    assert validate_id("01", with_check("35058220000229351"), TODAY) is None  # leap day
    tomorrow = date.today() + timedelta(days=1)
    assert "future" in validate_id("01", with_check(f"350582{tomorrow:%Y%m%d}351"))  # type: ignore[operator]


@pytest.mark.parametrize(
    "province",
    [
        "00",
        "10",
        "16",
        "20",
        "24",
        "30",
        "38",
        "40",
        "47",
        "49",
        "55",
        "60",
        "66",
        "70",
        "72",
        "80",
        "83",
        "90",
        "99",
    ],
)
def test_bad_province_codes(province: str) -> None:
    id_no = with_check(f"{province}058219971119351")
    assert validate_id("01", id_no, TODAY) == (
        f"address code {id_no[:6]} does not start with a valid province code"
    )


@pytest.mark.parametrize(
    ("id_no", "reason"),
    [
        (SAMPLE[:-1], "id type 01 must be 18 characters, got 17"),
        (SAMPLE + "1", "id type 01 must be 18 characters, got 19"),
        ("35058219971119351", "id type 01 must be 18 characters, got 17"),
        ("350582199711193", "id type 01 must be 18 characters, got 15"),  # old 15-digit ids
        ("3505821997111935X9", "id type 01 must be 17 digits followed by a digit or X"),
        ("35058219971119351Y", "id type 01 must be 17 digits followed by a digit or X"),
        ("３50582199711193519", "id type 01 must be 17 digits followed by a digit or X"),
        ("", "id number is empty"),
        ("   ", "id number is empty"),
        (" " + SAMPLE, "id number is not in canonical form (use normalize_id)"),
    ],
)
def test_bad_resident_ids(id_no: str, reason: str) -> None:
    assert validate_id("01", id_no, TODAY) == reason


def test_unknown_id_type() -> None:
    assert validate_id("10", SAMPLE) == "unknown id type 10"
    assert validate_id("1", SAMPLE) == "unknown id type 1"
    assert validate_id("", SAMPLE) == "unknown id type "


def test_residence_permit_type_17() -> None:
    for prefix in ("810000", "820000", "830000"):
        assert validate_id("17", with_check(f"{prefix}19900101001"), TODAY) is None
    assert validate_id("17", SAMPLE, TODAY) == (
        "address code 350582 does not start with a valid province code"
    )
    good = with_check("83000019900101001")
    assert validate_id("17", good[:17] + ("0" if good[-1] != "0" else "1"), TODAY) == (
        f"check character should be {good[-1]}"
    )
    assert validate_id("17", with_check("83000019901301001"), TODAY) == (
        "birth date 19901301 is not a date"
    )


GOOD = {
    "02": ["字第12345678号", "南字第123456号", "A1234567", "1234"],
    "03": ["武字第1234567号", "WJ12345678"],
    "04": ["H12345678", "H1234567890", "M12345678"],
    "05": ["M12345678", "M1234567801"],
    "06": ["12345678", "1234567890", "A123456789"],
    "07": ["USA123456789012", with_check("91101519900101001")],
    "08": ["E12345678", "G1234567", "12345", "AB1234567890CDEFG"],
    "11": ["123456", "A1B2C3D4E5F6G7H8I9J0"],
    "12": ["Z12345678"],
    "13": ["J1234567"],
    "14": ["T12345678"],
    "15": ["100001"],
    "16": ["O123456789", "A000000001"],
    "99": ["1", "any printable 任意 text #/-()", "x" * 30],
}
BAD = {
    "02": ["123", "字" * 21, "字第1234-567号", "A 1234"],
    "03": ["12", "武字第12345678号!"],
    "04": ["12345678", "H1234567", "H123456789", "K12345678", "H12345678901"],
    "05": ["M1234567", "MA1234567"],
    "06": ["1234567", "123456789", "12345678901", "A1234-5678"],
    "07": ["US123456789012", "USA12345678901", "812345678901234567",
           with_check("91101519900101001")[:-1] + "Y"],
    "08": ["1234", "A" * 18, "E1234567-8", "护照1234567"],
    "11": ["12345", "A" * 21, "AB-1234"],
    "15": ["1234 567"],
    "16": ["123456789", "AB12345678", "A12345678", "A1234567890"],
    "99": ["x" * 31, "tab\there"],
}  # fmt: skip


@pytest.mark.parametrize(("id_type", "id_no"), [(t, n) for t, ns in GOOD.items() for n in ns])
def test_other_types_good(id_type: str, id_no: str) -> None:
    canonical = normalize_id(id_type, id_no)
    assert validate_id(id_type, canonical, TODAY) is None


@pytest.mark.parametrize(("id_type", "id_no"), [(t, n) for t, ns in BAD.items() for n in ns])
def test_other_types_bad(id_type: str, id_no: str) -> None:
    problem = validate_id(id_type, normalize_id(id_type, id_no), TODAY)
    assert problem is not None
    assert problem


def test_other_type_reason_and_normalisation() -> None:
    assert (
        validate_id("16", "A12345678", TODAY) == "id type 16 must be 1 letter followed by 9 digits"
    )
    assert validate_id("08", "e12345678", TODAY) is not None  # lowercase is not canonical
    assert normalize_id("08", " e12345678 ") == "E12345678"
    assert validate_id("08", normalize_id("08", " e12345678 "), TODAY) is None
    assert normalize_id("99", "  mixed Case  ") == "mixed Case"  # free text keeps its case
    assert validate_id("99", "mixed Case", TODAY) is None
    bad_check = with_check("91101519900101001")[:-1]
    bad_check += "0" if with_check("91101519900101001")[-1] != "0" else "1"
    assert validate_id("07", bad_check, TODAY) == (
        f"check character should be {my_check('91101519900101001')}"
    )


@pytest.mark.parametrize("id_type", list(ID_TYPES))
def test_empty_is_invalid_for_every_type(id_type: str) -> None:
    assert validate_id(id_type, "", TODAY) == "id number is empty"
