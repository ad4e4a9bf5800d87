"""The QR value: shape, keyed check, issuer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.clock import SeededEntropy
from node.domain.qrcode import check, issuer_of, looks_like_code, new_code

KEY = bytes(range(16))


def test_shape_and_issuer():
    code = new_code(KEY, "44", SeededEntropy(1))
    assert len(code) == 28 and code.isdigit() and code.startswith("424") and code.endswith("0000")
    assert code[22:24] == "44" and issuer_of(code) == "44"
    assert check(KEY, code)


def test_another_key_or_a_changed_digit_fails():
    code = new_code(KEY, "31", SeededEntropy(2))
    assert not check(b"\x01" * 16, code)
    for i in range(3, 22):
        forged = code[:i] + str((int(code[i]) + 1) % 10) + code[i + 1 :]
        assert not check(KEY, forged)


def test_values_are_unpredictable_and_distinct():
    entropy = SeededEntropy(3)
    codes = {new_code(KEY, "11", entropy) for _ in range(2000)}
    assert len(codes) == 2000


@given(st.text(max_size=40))
def test_garbage_is_never_a_code(value):
    if not looks_like_code(value):
        assert issuer_of(value) is None and not check(KEY, value)


def test_unknown_province_is_not_a_code():
    code = new_code(KEY, "44", SeededEntropy(4))
    assert issuer_of(code[:22] + "99" + code[24:]) is None
