"""The 64-character voucher number (standard 4.1), recomputed independently with gmssl."""

from __future__ import annotations

import pytest
from gmssl import func as gfunc
from gmssl import sm3 as gsm3
from gmssl import sm4 as gsm4
from hypothesis import given, settings
from hypothesis import strategies as st

from node.domain.voucher_no import VOUCHER_NUMBER_LENGTH, is_voucher_number, voucher_number

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
OTHER_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100")
PERSON = ("01", "350582199711193519", "张三")
SAMPLE_ID = PERSON[1]


def gm_sm3(data: bytes) -> bytes:
    return bytes.fromhex(gsm3.sm3_hash(gfunc.bytes_to_list(data)))


def reference(id_type: str, id_no: str, name: str, key: bytes) -> str:
    """The construction of the module docstring, with gmssl's SM4 and SM3."""
    plain = f"{id_type}|{id_no.upper()}|{name.strip()}".encode()
    iv = gm_sm3(b"ecnet/voucher-no/iv" + key)[:16]
    sm4 = gsm4.CryptSM4()
    sm4.set_key(key, gsm4.SM4_ENCRYPT)
    cipher = sm4.crypt_cbc(iv, plain)  # PKCS#7
    return gm_sm3(cipher).hex().upper()


def test_shape_and_determinism() -> None:
    n = voucher_number(*PERSON, KEY)
    assert len(n) == VOUCHER_NUMBER_LENGTH == 64
    assert is_voucher_number(n)
    assert n == n.upper()
    assert voucher_number(*PERSON, KEY) == n


def test_matches_independent_recomputation() -> None:
    assert voucher_number(*PERSON, KEY) == reference(*PERSON, KEY)


@settings(max_examples=30, deadline=None, database=None)
@given(
    id_type=st.sampled_from(["01", "02", "08", "17", "99"]),
    id_no=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "|" not in s),
    name=st.text(min_size=1, max_size=40).filter(str.strip),
)
def test_matches_reference_on_random_people(id_type: str, id_no: str, name: str) -> None:
    assert voucher_number(id_type, id_no, name, KEY) == reference(id_type, id_no, name, KEY)


def test_any_change_gives_a_new_number() -> None:
    base = voucher_number(*PERSON, KEY)
    changed = {
        voucher_number("17", PERSON[1], PERSON[2], KEY),
        voucher_number("01", "11010519491231002X", PERSON[2], KEY),
        voucher_number("01", PERSON[1], "张四", KEY),
        voucher_number("01", PERSON[1], "张三丰", KEY),
        voucher_number(*PERSON, OTHER_KEY),
    }
    assert base not in changed
    assert len(changed) == 5


def test_field_boundaries_matter() -> None:
    # "|" separates the fields, so moving characters between them changes the number
    a = voucher_number("99", "AB", "C", KEY)
    b = voucher_number("99", "A", "BC", KEY)
    assert a != b


def test_canonicalisation() -> None:
    lower_x = voucher_number("01", "11010519491231002x", "李四", KEY)
    assert lower_x == voucher_number("01", "11010519491231002X", "李四", KEY)
    assert voucher_number("01", SAMPLE_ID, "  张三 ", KEY) == voucher_number(*PERSON, KEY)


@settings(max_examples=50, deadline=None, database=None)
@given(
    st.lists(
        st.text(min_size=1, max_size=8).filter(str.strip),
        min_size=2,
        max_size=2,
        unique_by=str.strip,
    )
)
def test_distinct_names_distinct_numbers(names: list[str]) -> None:
    a, b = (voucher_number("01", SAMPLE_ID, n, KEY) for n in names)
    assert a != b


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("10", SAMPLE_ID, "张三", KEY), "id type"),
        (("01", "", "张三", KEY), "id number"),
        (("01", "  ", "张三", KEY), "id number"),
        (("01", "12|34", "张三", KEY), "id number"),
        (("01", SAMPLE_ID, "", KEY), "name"),
        (("01", SAMPLE_ID, " \t", KEY), "name"),
        (("01", SAMPLE_ID, "张三", KEY[:15]), "key"),
        (("01", SAMPLE_ID, "张三", KEY + b"\0"), "key"),
    ],
)
def test_rejects_bad_input(args: tuple[str, str, str, bytes], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        voucher_number(*args)


@pytest.mark.parametrize(
    "s",
    [
        "",
        "A" * 63,
        "A" * 65,
        "a" * 64,
        "G" + "A" * 63,
        "A" * 64 + "\n",
        " " + "A" * 63,
        "０" * 64,
        None,
        b"A" * 64,
    ],
)
def test_is_voucher_number_rejects(s: object) -> None:
    assert not is_voucher_number(s)  # type: ignore[arg-type]


def test_is_voucher_number_accepts() -> None:
    assert is_voucher_number("0123456789ABCDEF" * 4)
