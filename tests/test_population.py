"""Synthetic population, channels and terminals of node.population."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.domain.regions import counties, pooling_regions, province_of
from node.population import (
    AS_OF,
    Channel,
    InsuredRegion,
    SyntheticPerson,
    Terminal,
    enrolled_face_template,
    generate,
    sample_channels,
    sample_terminals,
)

PROVS = ["11", "44", "65", "66"]
MUNICIPALITIES = {"11", "12", "31", "50"}
GB2260_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
}  # fmt: skip
PHONE = re.compile(r"^1[3589]\d{9}$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
CJK = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


def gb11643_valid(id_no: str) -> bool:
    """Independent ISO 7064 MOD 11-2 check of an 18-character GB 11643 id number."""
    if len(id_no) != 18 or not id_no[:17].isdigit():
        return False
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    total = sum(int(d) * w for d, w in zip(id_no[:17], weights, strict=True))
    expected = (12 - total % 11) % 11
    return id_no[17] == ("X" if expected == 10 else str(expected))


def test_independent_check_on_the_standard_sample():
    assert gb11643_valid("350582199711193519")
    assert gb11643_valid("11010519491231002X")
    assert not gb11643_valid("350582199711193518")


@pytest.fixture(scope="module")
def population() -> list[SyntheticPerson]:
    return list(generate(50_000, 42, PROVS))


def address_agrees(person: SyntheticPerson) -> bool:
    region = person.insured[0].insu_org
    addr = person.id_no[:6]
    if region == "660000":
        return addr[:4] == "6590"
    if province_of(region) in MUNICIPALITIES:
        return addr[:2] == region[:2]
    if region[2:4] == "90":  # a province-administered county-level unit
        return addr == region
    return addr[:4] == region[:4]


def test_reproducible():
    a = list(generate(2_000, 7, PROVS))
    b = list(generate(2_000, 7, PROVS))
    assert a == b
    assert list(generate(2_000, 7, list(reversed(PROVS)))) == a  # order of provinces is moot
    c = list(generate(2_000, 8, PROVS))
    assert c != a
    assert len({p.id_no for p in a} & {p.id_no for p in c}) < 20


def test_shorter_run_is_a_prefix():
    assert list(generate(300, 5, PROVS)) == list(generate(1_000, 5, PROVS))[:300]
    assert list(generate(0, 5, PROVS)) == []


def test_does_not_touch_the_global_random():
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    list(generate(500, 1, PROVS))
    assert random.random() == expected


def test_every_id_number_is_valid_and_agrees_with_the_person(population):
    for p in population:
        assert gb11643_valid(p.id_no), p
        assert p.id_type == "01"
        assert p.nationality == "CHN"
        assert p.id_no[6:14] == p.birthday.replace("-", ""), p
        assert p.id_no[:2] in GB2260_PROVINCES, p  # a real province, also for the corps
        assert p.id_no[:6] in counties(p.insured[0].insu_org), p
        assert address_agrees(p), p
        assert int(p.id_no[16]) % 2 == (1 if p.gender == "1" else 0), p
        assert p.gender in ("1", "2")


def test_id_numbers_are_unique(population):
    assert len({p.id_no for p in population}) == len(population) == 50_000


def test_birthdays_span_ages_0_to_95(population):
    births = [date.fromisoformat(p.birthday) for p in population]
    assert max(births) <= AS_OF
    assert min(births) > date(AS_OF.year - 96, AS_OF.month, AS_OF.day)
    ages = Counter(min((AS_OF - b).days // 365, 95) // 10 for b in births)
    assert all(ages[d] > 0 for d in range(10)), ages
    assert ages[0] > 0.05 * len(births)  # children
    assert ages[8] + ages[9] > 0.005 * len(births)  # the very old


def test_gender_roughly_balanced(population):
    males = sum(p.gender == "1" for p in population) / len(population)
    assert 0.48 < males < 0.54


def test_insurance_types_follow_age(population):
    by_group: dict[str, Counter] = {"child": Counter(), "work": Counter(), "old": Counter()}
    for p in population:
        age = (AS_OF - date.fromisoformat(p.birthday)).days // 365
        group = "child" if age < 18 else "work" if age < 60 else "old"
        for ins in p.insured:
            assert ins.insu_type in ("310", "390")
        by_group[group][p.insured[0].insu_type] += 1
    assert by_group["child"]["310"] == 0
    assert by_group["work"]["310"] > by_group["work"]["390"]
    assert by_group["old"]["390"] > by_group["old"]["310"]


def test_names_and_phones(population):
    for p in population:
        assert CJK.match(p.user_name), p.user_name
        assert PHONE.match(p.phone), p.phone
    lengths = Counter(len(p.user_name) for p in population)
    assert lengths[2] > 0.2 * len(population)  # one-character given names
    assert lengths[3] > 0.2 * len(population)  # two-character given names
    surnames = Counter(p.user_name[0] for p in population)
    assert {s for s, _ in surnames.most_common(5)} & {"王", "李", "张"}
    assert len({p.user_name for p in population}) > 10_000


def test_regions_belong_to_the_given_provinces(population):
    allowed = {r for prov in PROVS for r in pooling_regions(prov)}
    primaries = Counter(province_of(p.insured[0].insu_org) for p in population)
    assert set(primaries) == set(PROVS)
    assert min(primaries.values()) > 0.15 * len(population)  # provinces weigh about equally
    for p in population:
        assert 1 <= len(p.insured) <= 3
        orgs = [i.insu_org for i in p.insured]
        assert len(set(orgs)) == len(orgs), p
        assert set(orgs) <= allowed, p
        assert all(isinstance(i, InsuredRegion) for i in p.insured)


def test_multi_insured_share_and_spread():
    people = list(generate(20_000, 3, PROVS))
    multi = [p for p in people if len(p.insured) > 1]
    assert 0.03 <= len(multi) / len(people) <= 0.07
    assert any(len(p.insured) == 3 for p in multi)
    for p in multi:  # several provinces run: the further regions are in other provinces
        provs = [province_of(i.insu_org) for i in p.insured]
        assert len(set(provs)) == len(provs), p


def test_single_province_multi_insured_in_other_regions():
    people = list(generate(5_000, 11, ["44"]))
    multi = [p for p in people if len(p.insured) > 1]
    assert 0.03 <= len(multi) / len(people) <= 0.07
    for p in people:
        assert all(i.insu_org.startswith("44") for i in p.insured)
        assert len({i.insu_org for i in p.insured}) == len(p.insured)


def test_single_region_population():
    people = list(generate(3_000, 1, ["11"]))
    assert all(p.insured[0].insu_org == "110000" for p in people)
    assert all(len(p.insured) == 1 for p in people)  # nowhere else to be insured
    people = list(generate(3_000, 1, ["66"]))
    assert all(p.id_no.startswith("6590") for p in people)
    assert all(gb11643_valid(p.id_no) for p in people)


def test_as_of_moves_birthdays():
    a = list(generate(100, 1, PROVS, as_of=date(2020, 6, 30)))
    b = list(generate(100, 1, PROVS))
    assert all(p.birthday <= "2020-06-30" for p in a)
    assert [p.birthday for p in a] != [p.birthday for p in b]


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate(10, 1, ["71"])
    with pytest.raises(ValueError):
        generate(10, 1, [])
    with pytest.raises(ValueError):
        generate(-1, 1, PROVS)
    with pytest.raises(TypeError):
        generate(10, 1, "44")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**63),
    provs=st.sets(st.sampled_from(sorted(GB2260_PROVINCES | {"66"})), min_size=1, max_size=4),
)
def test_any_seed_and_provinces_give_valid_people(seed, provs):
    people = list(generate(200, seed, sorted(provs)))
    assert len({p.id_no for p in people}) == 200
    for p in people:
        assert gb11643_valid(p.id_no)
        assert address_agrees(p)
        assert {province_of(i.insu_org) for i in p.insured} <= provs


def test_face_template():
    t = enrolled_face_template(42, "350582199711193519")
    assert isinstance(t, bytes) and len(t) == 32
    assert t == enrolled_face_template(42, "350582199711193519")
    assert t != enrolled_face_template(43, "350582199711193519")
    assert t != enrolled_face_template(42, "11010519491231002X")


def test_channels():
    chans = sample_channels()
    assert all(isinstance(c, Channel) for c in chans)
    by_id = {c.channel_id: c for c in chans}
    assert by_id["NHSA-OFFICIAL"].kind == "official"
    assert by_id["NHSA-OFFICIAL"].name == "国家医保服务平台"
    assert by_id["WECHAT"].kind == by_id["ALIPAY"].kind == "third_party"
    assert all(c.status == "approved" for c in chans)
    assert len(by_id) == len(chans) == 3


def test_terminals():
    all_provs = sorted(GB2260_PROVINCES | {"66"})
    terms = sample_terminals(all_provs, 9)
    assert all(isinstance(t, Terminal) for t in terms)
    per_prov = Counter(t.province for t in terms)
    assert set(per_prov) == set(all_provs)
    assert all(3 <= k <= 5 for k in per_prov.values())
    assert len({t.terminal_id for t in terms}) == len(terms)
    assert len({t.mac for t in terms}) == len(terms)
    for t in terms:
        assert re.fullmatch(r"\d{20}", t.terminal_id), t
        assert t.terminal_id[:2] == t.province
        assert t.terminal_id[2:6] == t.registered_on[:4]
        assert MAC.match(t.mac), t.mac
        assert int(t.mac[:2], 16) & 0x03 == 0  # unicast, globally administered
        assert re.fullmatch(r"\d+\.\d+", t.version)
        assert re.fullmatch(r"[HP]\d{11}", t.org_id), t.org_id
        assert t.org_id[1:7] in pooling_regions(t.province)
        assert date(2019, 5, 1) <= date.fromisoformat(t.registered_on) <= AS_OF
        assert t.name and t.purpose and t.developer
        assert t.org_name.endswith(("医院", "保健院", "药房", "药店")), t.org_name
        assert ("医院" in t.org_name or "保健院" in t.org_name) == (t.org_id[0] == "H")
    # deterministic, and a province's terminals do not depend on the other provinces
    assert sample_terminals(all_provs, 9) == terms
    assert sample_terminals(["44"], 9) == [t for t in terms if t.province == "44"]
    assert sample_terminals(["44"], 10) != sample_terminals(["44"], 9)
