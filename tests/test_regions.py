"""GB/T 2260 tables of node.domain.regions."""

from __future__ import annotations

import re

import pytest

from node.domain import regions
from node.domain.regions import (
    PROVINCES,
    counties,
    data_revision,
    is_province,
    pooling_regions,
    province_name,
    province_of,
    region_name,
)

MAINLAND = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
}  # fmt: skip
MUNICIPALITIES = {"11", "12", "31", "50"}
SIX = re.compile(r"^\d{6}$")


def test_provinces_are_the_31_mainland_ones_plus_the_corps():
    assert len(PROVINCES) == 32
    assert set(PROVINCES) == MAINLAND | {"66"}
    assert PROVINCES["66"] == "新疆生产建设兵团"
    assert PROVINCES["44"] == "广东省"
    assert province_name("11") == "北京市"
    for code in ("71", "81", "82", "00", "99", "440000", ""):
        assert not is_province(code)
    assert all(is_province(p) for p in PROVINCES)
    assert regions.PROVINCES is PROVINCES  # built once, cached


def test_unknown_codes_raise_key_error():
    with pytest.raises(KeyError):
        province_name("81")
    with pytest.raises(KeyError):
        pooling_regions("71")
    with pytest.raises(KeyError):
        counties("123456")
    with pytest.raises(KeyError):
        region_name("999999")


def test_data_revision_is_the_newest_shipped():
    from gb2260_v2 import GB2260

    assert data_revision() == max(GB2260.revisions())
    assert data_revision() >= "201904"


@pytest.mark.parametrize("prov", sorted(MAINLAND | {"66"}))
def test_pooling_regions_are_six_digit_codes_of_their_province(prov):
    rs = pooling_regions(prov)
    assert rs, prov
    assert len(rs) == len(set(rs))
    assert rs == sorted(rs)
    for r in rs:
        assert SIX.match(r)
        assert province_of(r) == prov
        assert region_name(r)
        assert regions.is_pooling_region(r)
        if prov in MUNICIPALITIES or prov == "66":
            assert r == prov + "0000"
        else:
            # a prefecture NNxx00, or a province-administered county-level unit NN90xx
            assert r.endswith("00") and not r.endswith("0000") or r[2:4] == "90"


def test_municipalities_pool_city_wide():
    for prov in MUNICIPALITIES:
        assert pooling_regions(prov) == [prov + "0000"]
    assert region_name("110000") == "北京市"
    bj = counties("110000")
    assert "110101" in bj and "110108" in bj  # 东城区, 海淀区
    cq = counties("500000")
    assert any(c.startswith("5001") for c in cq) and any(c.startswith("5002") for c in cq)


def test_prefectures_and_province_administered_units():
    gd = pooling_regions("44")
    assert "440100" in gd and "441900" in gd  # 广州市, 东莞市
    assert region_name("440100") == "广州市"
    assert counties("441900") == ["441900"]  # no county-level subdivisions in the data
    hb = pooling_regions("42")
    assert "429004" in hb  # 仙桃市 pools on its own
    assert counties("429004") == ["429004"]


def test_corps_region_uses_xinjiang_address_codes():
    assert pooling_regions("66") == ["660000"]
    assert region_name("660000") == "新疆生产建设兵团"
    cs = counties("660000")
    assert "659001" in cs  # 石河子市
    assert all(c.startswith("6590") for c in cs)
    assert region_name("659001") == "石河子市"
    # the corps' cities are not pooling regions of Xinjiang (65)
    assert not any(r.startswith("6590") for r in pooling_regions("65"))
    assert "650100" in pooling_regions("65")


def test_counties_lie_inside_their_region_and_are_disjoint():
    owner: dict[str, str] = {}
    for prov in PROVINCES:
        for r in pooling_regions(prov):
            cs = counties(r)
            assert cs
            assert len(cs) == len(set(cs))
            for c in cs:
                assert SIX.match(c)
                assert region_name(c)
                if prov == "66":
                    assert c[:4] == "6590"
                elif prov in MUNICIPALITIES:
                    assert c[:2] == r[:2] and not c.endswith("00")
                elif r[2:4] == "90" or cs == [r]:
                    assert cs == [r]
                else:
                    assert c[:4] == r[:4] and not c.endswith("00")
                assert c not in owner, (c, owner.get(c), r)
                owner[c] = r
    assert len(owner) > 2800


def test_province_of():
    assert province_of("440106") == "44"
    assert province_of("660000") == "66"
    assert province_of("44") == "44"
    with pytest.raises(ValueError):
        province_of("x")


def test_returned_lists_are_copies():
    rs = pooling_regions("44")
    rs.clear()
    assert pooling_regions("44")
    cs = counties("440100")
    cs.clear()
    assert counties("440100")
