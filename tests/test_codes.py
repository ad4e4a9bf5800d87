"""Tables C.1-C.4 of the standard, checked against their rows as kept in tests/data."""

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

DATA = Path(__file__).resolve().parent / "data"


def table(name: str) -> list[dict[str, str]]:
    """The rows of ``tests/data/NAME``: '#' lines are notes, the first other line names the
    tab-separated columns."""
    lines = [
        line
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    columns = lines[0].split("\t")
    rows = [dict(zip(columns, line.split("\t"), strict=True)) for line in lines[1:]]
    assert rows, f"{name} has no rows"
    return rows


def c1() -> dict[str, tuple[str, str, str]]:
    """Business type (first-level code + second-level code) -> the three names of C.1."""
    return {
        r["first_code"] + r["second_code"]: (r["first_name"], r["second_name"], r["second_note"])
        for r in table("c1_business_types.tsv")
    }


def c2() -> dict[str, str]:
    return {r["code"]: r["description"] for r in table("c2_id_types.tsv")}


def c3() -> dict[int, str]:
    return {int(r["code"]): r["description"] for r in table("c3_check_results.tsv")}


def c4() -> dict[int, tuple[str, str]]:
    return {int(r["code"]): (r["scope"], r["description"]) for r in table("c4_errors.tsv")}


# ------------------------------------------------------------------------ C.1


def test_business_types_are_exactly_c1() -> None:
    rows = c1()
    assert len(rows) == 17 and {code[:2] for code in rows} == {"01", "02", "03"}
    assert {k: tuple(v) for k, v in BUSINESS_TYPES.items()} == rows
    for code in rows:
        assert is_business_type(code)
    for code in ("01100", "01105", "01121", "02101", "03121", "04131", "1101", "011010", ""):
        assert not is_business_type(code)
    assert BUSINESS_TYPES["01101"].second_level_name == "挂号"
    assert BUSINESS_TYPES["02121"] == ("药店", "药店购药", "替代社保卡")


# ------------------------------------------------------------------------ C.2 / C.3


def test_id_types_re_exported() -> None:
    assert ID_TYPES is idno.ID_TYPES


def test_id_types_are_exactly_c2() -> None:
    rows = c2()
    assert len(rows) == 16 and "99" in rows
    assert rows == idno.ID_TYPES


def test_check_results_are_exactly_c3() -> None:
    assert (CHECK_FAIL, CHECK_OK) == (0, 1)
    assert CHECK_RESULTS == c3() == {0: "校验失败", 1: "校验成功"}


# ------------------------------------------------------------------------ C.4


def test_errors_are_exactly_c4() -> None:
    rows = c4()
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
