"""Tables C.1-C.4, checked against the text of the standard itself."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest

from node.domain import codes, idno
from node.domain.codes import (
    BUSINESS_TYPES,
    BY_REASON,
    CHECK_FAIL,
    CHECK_OK,
    CHECK_RESULTS,
    ERRORS,
    ID_TYPES,
    error,
    is_business_type,
)

SPEC = Path(__file__).resolve().parents[2] / "shared/spec/XJ-D01-2019.txt"
needs_spec = pytest.mark.skipif(not SPEC.exists(), reason=f"{SPEC} not present")

C1_PAIRS = {
    "01101", "01102", "01103", "01104", "01201", "01202", "01203", "01204",
    "01301", "01302", "01303", "01304", "01305", "02121", "02122", "03131", "03132",
}  # fmt: skip


def _section(title: str, next_title: str | None) -> list[str]:
    text = SPEC.read_text(encoding="utf-8")
    # Appendix B cites the tables in running text; the tables' own captions open a line.
    start = text.index("\n" + title)
    end = text.index("\n" + next_title, start) if next_title else len(text)
    return [line for line in text[start:end].splitlines() if line.strip()]


def spec_c4() -> dict[int, tuple[str, str]]:
    rows: dict[int, tuple[str, str]] = {}
    for line in _section("表 C. 4", None):
        m = re.fullmatch(r"(-?\d+)\t([^\t]+)\t(.+)", line)
        if m:
            rows[int(m[1])] = (m[2], m[3])
    return rows


def spec_c1() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    first = name = ""
    for line in _section("表 C.1", "表 C.2"):
        cells = line.split("\t")
        if len(cells) != 5 or not cells[2].isdigit():
            continue
        if cells[0]:
            first, name = cells[0], cells[1]
        rows[first + cells[2]] = (name, cells[3], cells[4])
    return rows


def spec_c2() -> dict[str, str]:
    rows = {}
    for line in _section("表 C.2", "表 C. 3"):
        m = re.fullmatch(r"(\d{2})\t([^\t]+)", line)
        if m:
            rows[m[1]] = m[2]
    return rows


# ------------------------------------------------------------------------ C.1


def test_business_types_are_exactly_c1() -> None:
    assert set(BUSINESS_TYPES) == C1_PAIRS
    for code in C1_PAIRS:
        assert is_business_type(code)
    for code in ("01100", "01105", "01121", "02101", "03121", "04131", "1101", "011010", ""):
        assert not is_business_type(code)
    assert BUSINESS_TYPES["01101"].second_level_name == "挂号"
    assert BUSINESS_TYPES["02121"] == ("药店", "药店购药", "替代社保卡")


@needs_spec
def test_business_types_match_the_spec_text() -> None:
    rows = spec_c1()
    assert set(rows) == C1_PAIRS
    assert {k: tuple(v) for k, v in BUSINESS_TYPES.items()} == rows


# ------------------------------------------------------------------------ C.2 / C.3


def test_id_types_re_exported() -> None:
    assert ID_TYPES is idno.ID_TYPES


@needs_spec
def test_id_types_match_the_spec_text() -> None:
    assert spec_c2() == ID_TYPES


def test_check_results() -> None:
    assert (CHECK_FAIL, CHECK_OK) == (0, 1)
    assert CHECK_RESULTS == {0: "校验失败", 1: "校验成功"}


# ------------------------------------------------------------------------ C.4


@needs_spec
def test_every_c4_row_of_the_spec_is_in_errors() -> None:
    rows = spec_c4()
    assert len(rows) == 55  # 7 system-level rows, 48 of the voucher center
    assert min(rows) == -6 and max(rows) == 500100
    assert set(rows) == set(ERRORS)
    for code, (scope, zh) in rows.items():
        assert (ERRORS[code].scope, ERRORS[code].zh) == (scope, zh), code


def test_reasons_unique_and_upper_snake() -> None:
    reasons = [e.reason for e in ERRORS.values()]
    assert len(reasons) == len(set(reasons))
    for r in reasons:
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", r), r
    assert BY_REASON["QR_CODE_EXPIRED"] is ERRORS[500005]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (0, "OK"),
        (-2, "INVALID_ARGUMENT"),
        (-3, "UPSTREAM_TIMEOUT"),
        (500005, "QR_CODE_EXPIRED"),
        (500049, "QR_CODE_INVALID"),
        (500067, "TOKEN_INVALID"),
        (500079, "VOUCHER_FROZEN"),
        (500100, "NO_INTERFACE_PERMISSION"),
    ],
)
def test_agreed_reasons(code: int, reason: str) -> None:
    assert error(code).reason == reason


def test_entries_are_complete() -> None:
    for code, e in ERRORS.items():
        assert e.code == code
        assert e.scope == ("系统级" if code <= 0 else "电子凭证中心")
        assert e.zh and e.en and e.en.isascii()
        assert isinstance(getattr(grpc.StatusCode, e.grpc_status_name), grpc.StatusCode)


def test_grpc_status_mapping() -> None:
    expected = {
        0: "OK",
        -1: "INTERNAL",
        -2: "INVALID_ARGUMENT",
        -3: "DEADLINE_EXCEEDED",
        -4: "PERMISSION_DENIED",
        -5: "UNIMPLEMENTED",
        -6: "RESOURCE_EXHAUSTED",
        500001: "NOT_FOUND",
        500050: "NOT_FOUND",
        500040: "NOT_FOUND",
        500012: "NOT_FOUND",
        500003: "PERMISSION_DENIED",
        500091: "PERMISSION_DENIED",
        500100: "PERMISSION_DENIED",
        500008: "PERMISSION_DENIED",
        500036: "PERMISSION_DENIED",
        500084: "RESOURCE_EXHAUSTED",
        500086: "ALREADY_EXISTS",
        500088: "ALREADY_EXISTS",
        500021: "UNIMPLEMENTED",
        500057: "INVALID_ARGUMENT",
        500004: "INVALID_ARGUMENT",
        500089: "INVALID_ARGUMENT",
        500095: "INVALID_ARGUMENT",
        500087: "INVALID_ARGUMENT",
        500098: "INVALID_ARGUMENT",
        500014: "INVALID_ARGUMENT",
        500085: "INVALID_ARGUMENT",
    }
    for code, e in ERRORS.items():
        assert e.grpc_status_name == expected.get(code, "FAILED_PRECONDITION"), code
    assert error(500005).grpc_status_name == "FAILED_PRECONDITION"
    assert error(500079).grpc_status_name == "FAILED_PRECONDITION"


def test_error_lookup() -> None:
    assert error(-2) is ERRORS[-2]
    assert error(500079).zh == "输入密码错误次数超过 5 次, 账户已冻结"
    with pytest.raises(KeyError):
        error(500099)
    with pytest.raises(KeyError):
        error(1)


def test_public_names() -> None:
    for name in codes.__all__:
        assert hasattr(codes, name)
