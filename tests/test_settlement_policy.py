"""The settlement policy of a pooling region: the arithmetic as a table of hand-worked
cases, the policy file and its inheritance, item validation, the yearly accumulators,
and the invariants for random settlements."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.errors import EcError
from node.settlement.policy import (
    ACCOUNT_COVERS,
    CATEGORIES,
    MAX_ITEMS,
    MAX_TOTAL,
    MED_TYPES,
    SHIPPED,
    Accumulators,
    Item,
    Outcome,
    Policies,
    RegionPolicy,
    settle,
    validate_items,
    validate_med_type,
)

# The policy of the hand-worked cases (independent of the shipped file).
P = RegionPolicy(
    region="test",
    deductible={"outpatient": 20_000, "inpatient": 100_000, "pharmacy": 0},
    ratio_bp={"outpatient": 5000, "inpatient": 8000, "pharmacy": 5000},
    b_self_pay_bp=1000,
    yearly_cap=1_000_000,
    account_enabled=True,
    account_covers="catalogue",
    account_opening=120_000,
)
ALL = replace(P, account_covers="all")
NO_ACCOUNT = replace(P, account_enabled=False)


def item(category: str, unit_price: int, quantity: int = 1, code: str = "X1") -> Item:
    return Item(
        code=code, name=f"item {code}", category=category, unit_price=unit_price, quantity=quantity
    )


def outcome(
    fee: int,
    fund: int,
    acct: int,
    own: int,
    eligible: int,
    deductible_part: int,
    capped: bool = False,
) -> Outcome:
    return Outcome(
        fee_sumamt=fee,
        fund_pay=fund,
        psn_acct_pay=acct,
        own_pay_amt=own,
        eligible=eligible,
        deductible_part=deductible_part,
        capped=capped,
    )


# Each case: policy, medical type, items, accumulators before, account balance, and the
# expected outcome(fee, fund, acct, own, eligible, deductible_part, capped). Above each,
# the arithmetic by hand; "rhu" is round half up.
CASES = [
    # eligible 10000 < remaining deductible 20000: all of it goes to the deductible,
    # fund 0; the account pays the in-catalogue share 10000.
    pytest.param(
        P,
        "outpatient",
        [item("A", 10_000)],
        Accumulators(),
        100_000,
        outcome(10_000, 0, 10_000, 0, 10_000, 10_000),
        id="A-below-deductible",
    ),
    # eligible 50000, deductible 20000, fund 30000 × 50 % = 15000; no balance: own 35000.
    pytest.param(
        P,
        "outpatient",
        [item("A", 25_000, 2)],
        Accumulators(),
        0,
        outcome(50_000, 15_000, 0, 35_000, 50_000, 20_000),
        id="A-above-deductible",
    ),
    # remaining 100000 − 40000 = 60000 is crossed: fund (150000 − 60000) × 80 % = 72000;
    # the account pays 150000 − 72000 = 78000.
    pytest.param(
        P,
        "inpatient",
        [item("A", 150_000)],
        Accumulators(deductible_paid=40_000),
        1_000_000,
        outcome(150_000, 72_000, 78_000, 0, 150_000, 60_000),
        id="deductible-crossing",
    ),
    # the deductible is paid: fund 30000 × 50 % = 15000, the account 15000.
    pytest.param(
        P,
        "outpatient",
        [item("A", 30_000)],
        Accumulators(deductible_paid=20_000),
        100_000,
        outcome(30_000, 15_000, 15_000, 0, 30_000, 0),
        id="deductible-used-up",
    ),
    # 100000 already counted (inpatient) ≥ the outpatient 20000: remaining max(0, −80000)
    # = 0; fund 10000 × 50 % = 5000; no balance: own 5000.
    pytest.param(
        P,
        "outpatient",
        [item("A", 10_000)],
        Accumulators(deductible_paid=100_000),
        0,
        outcome(10_000, 5_000, 0, 5_000, 10_000, 0),
        id="deductible-beyond-threshold",
    ),
    # 乙 self-pay 100000 × 10 % = 10000, eligible 90000; remaining 100000 − 50000 = 50000;
    # fund (90000 − 50000) × 80 % = 32000; own 100000 − 32000 = 68000.
    pytest.param(
        P,
        "inpatient",
        [item("B", 100_000)],
        Accumulators(deductible_paid=50_000),
        0,
        outcome(100_000, 32_000, 0, 68_000, 90_000, 50_000),
        id="B-deductible-crossing",
    ),
    # 乙 self-pay rhu(12355 × 10 % = 1235.5) = 1236, eligible 11119; fund rhu(11119 × 50 %
    # = 5559.5) = 5560; no balance: own 12355 − 5560 = 6795.
    pytest.param(
        P,
        "outpatient",
        [item("B", 12_355)],
        Accumulators(deductible_paid=20_000),
        0,
        outcome(12_355, 5_560, 0, 6_795, 11_119, 0),
        id="B-half-up",
    ),
    # 乙 self-pay 12344 × 10 % = 1234.4 → 1234; eligible 11110; fund 5555; the account
    # pays the in-catalogue rest 11110 − 5555 = 5555; own is the self-pay 1234.
    pytest.param(
        P,
        "outpatient",
        [item("B", 12_344)],
        Accumulators(deductible_paid=20_000),
        100_000,
        outcome(12_344, 5_555, 5_555, 1_234, 11_110, 0),
        id="B-rounds-down",
    ),
    # the 乙 self-pay is rounded per item: 5 × 10 % = 0.5 → 1 on each, eligible 4 + 4 = 8
    # (not 10 − rhu(1.0) = 9); fund 8 × 50 % = 4; own 10 − 4 = 6.
    pytest.param(
        P,
        "pharmacy",
        [item("B", 5, code="X1"), item("B", 5, code="X2")],
        Accumulators(),
        0,
        outcome(10, 4, 0, 6, 8, 0),
        id="B-self-pay-per-item",
    ),
    # the fund share is rounded once on the sum: 3 × 50 % = 1.5 → 2 (per item 3 × rhu(0.5)
    # would be 3); own 1.
    pytest.param(
        P,
        "pharmacy",
        [item("A", 1, code=f"X{i}") for i in range(3)],
        Accumulators(),
        0,
        outcome(3, 2, 0, 1, 3, 0),
        id="fund-rounded-on-sum",
    ),
    # no deductible at a pharmacy: fund 999 × 50 % = 499.5 → 500; the account 499.
    pytest.param(
        P,
        "pharmacy",
        [item("A", 999)],
        Accumulators(),
        1_000,
        outcome(999, 500, 499, 0, 999, 0),
        id="pharmacy-half-up",
    ),
    # 丙 only: nothing eligible, fund 0; "catalogue": the account may pay max(0, 0 − 0) = 0.
    pytest.param(
        P,
        "outpatient",
        [item("C", 5_000, 2)],
        Accumulators(deductible_paid=20_000),
        100_000,
        outcome(10_000, 0, 0, 10_000, 0, 0),
        id="C-only-catalogue",
    ),
    # 丙 only, "all": the account pays the whole personal share 10000.
    pytest.param(
        ALL,
        "outpatient",
        [item("C", 5_000, 2)],
        Accumulators(deductible_paid=20_000),
        100_000,
        outcome(10_000, 0, 10_000, 0, 0, 0),
        id="C-only-all",
    ),
    # fee 50000 + 40000 + 10000 = 100000; 乙 self-pay 4000, eligible 86000; fund 86000 ×
    # 80 % = 68800; the account 86000 − 68800 = 17200; own 丙 10000 + 乙 self-pay 4000.
    pytest.param(
        P,
        "inpatient",
        [
            item("A", 50_000, code="X1"),
            item("B", 20_000, 2, code="X2"),
            item("C", 10_000, code="X3"),
        ],
        Accumulators(deductible_paid=100_000),
        10_000_000,
        outcome(100_000, 68_800, 17_200, 14_000, 86_000, 0),
        id="A-B-C-catalogue",
    ),
    # the same under "all": the account pays 100000 − 68800 = 31200, own 0.
    pytest.param(
        ALL,
        "inpatient",
        [
            item("A", 50_000, code="X1"),
            item("B", 20_000, 2, code="X2"),
            item("C", 10_000, code="X3"),
        ],
        Accumulators(deductible_paid=100_000),
        10_000_000,
        outcome(100_000, 68_800, 31_200, 0, 86_000, 0),
        id="A-B-C-all",
    ),
    # fund 100000 × 80 % = 80000 = room 1000000 − 920000: the cap is reached, not cut.
    pytest.param(
        P,
        "inpatient",
        [item("A", 100_000)],
        Accumulators(deductible_paid=100_000, fund_paid=920_000),
        0,
        outcome(100_000, 80_000, 0, 20_000, 100_000, 0),
        id="cap-reached-exactly",
    ),
    # fund 80000 > room 50000: cut to 50000; the account pays 100000 − 50000 = 50000.
    pytest.param(
        P,
        "inpatient",
        [item("A", 100_000)],
        Accumulators(deductible_paid=100_000, fund_paid=950_000),
        1_000_000,
        outcome(100_000, 50_000, 50_000, 0, 100_000, 0, capped=True),
        id="cap-cut-mid-settlement",
    ),
    # room 0: fund 0; the account pays 30000 of 100000 (exhausted), own 70000.
    pytest.param(
        P,
        "inpatient",
        [item("A", 100_000)],
        Accumulators(deductible_paid=100_000, fund_paid=1_000_000),
        30_000,
        outcome(100_000, 0, 30_000, 70_000, 100_000, 0, capped=True),
        id="cap-already-reached",
    ),
    # fund 40000 × 50 % = 20000; the account holds only 7500 of the share 20000: own 12500.
    pytest.param(
        P,
        "outpatient",
        [item("A", 40_000)],
        Accumulators(deductible_paid=20_000),
        7_500,
        outcome(40_000, 20_000, 7_500, 12_500, 40_000, 0),
        id="account-exhausted",
    ),
    # the same with the account disabled: it pays nothing despite 100000 on it.
    pytest.param(
        NO_ACCOUNT,
        "outpatient",
        [item("A", 40_000)],
        Accumulators(deductible_paid=20_000),
        100_000,
        outcome(40_000, 20_000, 0, 20_000, 40_000, 0),
        id="account-disabled",
    ),
    # a free item: 0 × 3 = 0, everything 0, nothing accumulates.
    pytest.param(
        P,
        "outpatient",
        [item("A", 0, 3)],
        Accumulators(),
        100_000,
        outcome(0, 0, 0, 0, 0, 0),
        id="zero-price",
    ),
    # a free item next to a paid one changes nothing: as A-below-deductible.
    pytest.param(
        P,
        "outpatient",
        [item("A", 0, code="X1"), item("A", 10_000, code="X2")],
        Accumulators(),
        100_000,
        outcome(10_000, 0, 10_000, 0, 10_000, 10_000),
        id="zero-price-among-others",
    ),
]


@pytest.mark.parametrize(("policy", "med_type", "items", "acc", "balance", "expected"), CASES)
def test_hand_worked_cases(policy, med_type, items, acc, balance, expected):
    got = settle(policy, med_type, items, acc, balance)
    assert got == expected
    assert got.fee_sumamt == got.fund_pay + got.psn_acct_pay + got.own_pay_amt


def test_a_year_of_settlements_and_a_reversal():
    # Three outpatient visits of 15000: the first goes to the deductible (20000), the
    # second crosses it (5000 more, fund 10000 × 50 % = 5000), the third is all above
    # it (fund 7500).
    acc = Accumulators()
    outcomes = []
    for _ in range(3):
        o = settle(P, "outpatient", [item("A", 15_000)], acc, 0)
        acc = o.accumulators_after(acc)
        outcomes.append(o)
    assert [(o.deductible_part, o.fund_pay) for o in outcomes] == [
        (15_000, 0),
        (5_000, 5_000),
        (0, 7_500),
    ]
    assert acc == Accumulators(deductible_paid=20_000, fund_paid=12_500)
    # Reversing the second takes back exactly its parts.
    assert outcomes[1].accumulators_reversed(acc) == Accumulators(15_000, 7_500)


def test_accumulators_round_trip_and_floor():
    before = Accumulators(deductible_paid=40_000, fund_paid=3)
    o = settle(P, "inpatient", [item("A", 150_000)], before, 0)
    after = o.accumulators_after(before)
    assert after == Accumulators(deductible_paid=100_000, fund_paid=72_003)
    assert o.accumulators_reversed(after) == before
    # Reversed against smaller accumulators (e.g. a new year): never below 0.
    assert o.accumulators_reversed(Accumulators(10, 10)) == Accumulators(0, 0)


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "message"),
    [
        pytest.param([], "at least one item", id="no-items"),
        pytest.param(
            [item("A", 1, code=f"X{i}") for i in range(MAX_ITEMS + 1)],
            f"{MAX_ITEMS + 1} items",
            id="too-many",
        ),
        pytest.param([item("A", 1, code=" ")], "item 1 has an empty code", id="empty-code"),
        pytest.param(
            [item("A", 1), Item("X2", "", "A", 1, 1)],
            "item 2 ('X2') has an empty name",
            id="empty-name",
        ),
        pytest.param([item("D", 1)], "item 1 ('X1'): category 'D'", id="category-D"),
        pytest.param([item("甲", 1)], "category '甲'", id="category-in-chinese"),
        pytest.param([item("A", -1)], "item 1 ('X1'): unit price -1", id="negative-price"),
        pytest.param([item("A", 1, 0)], "item 1 ('X1'): quantity 0", id="zero-quantity"),
        pytest.param([item("A", 1, -2)], "quantity -2", id="negative-quantity"),
        pytest.param(
            [item("A", MAX_TOTAL, code="X1"), item("A", 1, code="X2")],
            "item 2 ('X2'): the items add up to more than",
            id="total-too-large",
        ),
    ],
)
def test_validate_items_refuses(items, message):
    with pytest.raises(EcError) as exc:
        validate_items(items)
    assert exc.value.code == -2
    assert message in exc.value.message
    with pytest.raises(EcError) as exc:  # settle checks the same
        settle(P, "outpatient", items, Accumulators(), 0)
    assert exc.value.code == -2


def test_validate_items_limits_are_inclusive():
    # exactly at each limit is accepted (one past it is refused above), and settles in full
    at_the_limits = (
        [item("A", 1, code=f"X{i}") for i in range(MAX_ITEMS)],
        [item("A", MAX_TOTAL)],
        [item("C", 0)],
    )
    for items in at_the_limits:
        assert validate_items(items) is None
        split = settle(P, "outpatient", items, Accumulators(), 0)
        assert split.fee_sumamt == sum(i.amount for i in items)


def test_medical_type():
    for med_type in MED_TYPES:
        validate_med_type(med_type)
    for bad in ("dental", "", "Outpatient"):
        with pytest.raises(EcError) as exc:
            validate_med_type(bad)
        assert exc.value.code == -2 and repr(bad) in exc.value.message
        with pytest.raises(EcError):
            settle(P, bad, [item("A", 1)], Accumulators(), 0)


def test_negative_balance_or_accumulators_are_a_bug():
    with pytest.raises(ValueError, match="balance"):
        settle(P, "outpatient", [item("A", 1)], Accumulators(), -1)
    with pytest.raises(ValueError, match="accumulators"):
        settle(P, "outpatient", [item("A", 1)], Accumulators(fund_paid=-1), 0)


# --- the policy file -------------------------------------------------------------------

DEFAULT_TOML = """\
[default]
b_self_pay_bp = 1000
yearly_cap = 1_000_000
account_enabled = true
account_covers = "catalogue"
account_opening = 120_000

[default.deductible]
outpatient = 20_000
inpatient = 100_000
pharmacy = 0

[default.ratio_bp]
outpatient = 5000
inpatient = 8000
pharmacy = 5000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "regions.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_loads():
    policies = Policies.load()
    assert policies.regions[0] == "default"
    assert {"110000", "310000", "440000", "440100"} <= set(policies.regions)
    for region in policies.regions[1:]:
        policy = policies.for_region(region)
        assert policy.region == region
        assert set(policy.deductible) == set(policy.ratio_bp) == set(MED_TYPES)
    assert Policies.load(SHIPPED).for_region("440100") == policies.for_region("440100")


def test_shipped_inheritance():
    policies = Policies.load()
    default = policies.for_region("320100")  # Nanjing: Jiangsu has no section
    guangdong = policies.for_region("440300")  # Shenzhen: its province's section
    guangzhou = policies.for_region("440100")  # its own section
    assert (default.region, guangdong.region, guangzhou.region) == ("default", "440000", "440100")
    # Guangzhou sets the inpatient deductible and ratio only; b_self_pay_bp and
    # yearly_cap come from Guangdong, the outpatient values from the default.
    assert guangzhou.deductible["inpatient"] != guangdong.deductible["inpatient"]
    assert guangzhou.ratio_bp["inpatient"] != guangdong.ratio_bp["inpatient"]
    assert guangzhou.b_self_pay_bp == guangdong.b_self_pay_bp != default.b_self_pay_bp
    assert guangzhou.yearly_cap == guangdong.yearly_cap != default.yearly_cap
    assert (
        guangzhou.deductible["outpatient"]
        == guangdong.deductible["outpatient"]
        == default.deductible["outpatient"]
    )
    assert guangzhou.ratio_bp["outpatient"] == default.ratio_bp["outpatient"]
    assert policies.for_region("310000").account_covers == "all"
    assert policies.for_region("110000").region == "110000"


def test_inheritance_city_province_default(tmp_path):
    path = write(
        tmp_path,
        DEFAULT_TOML
        + """
["440000"]
b_self_pay_bp = 500
["440000".deductible]
inpatient = 80_000

["440100".ratio_bp]
inpatient = 9000

["110000"]
account_covers = "all"
""",
    )
    policies = Policies.load(path)
    assert policies.regions == ("default", "440000", "440100", "110000")
    assert policies.for_region("440100") == RegionPolicy(
        region="440100",
        deductible={"outpatient": 20_000, "inpatient": 80_000, "pharmacy": 0},  # 440000
        ratio_bp={"outpatient": 5000, "inpatient": 9000, "pharmacy": 5000},  # 440100
        b_self_pay_bp=500,  # 440000
        yearly_cap=1_000_000,
        account_enabled=True,
        account_covers="catalogue",
        account_opening=120_000,
    )
    assert policies.for_region("440300") == replace(
        policies.for_region("440100"),
        region="440000",
        ratio_bp={"outpatient": 5000, "inpatient": 8000, "pharmacy": 5000},
    )
    # A municipality is its own province: its section applies (once).
    assert policies.for_region("110000") == replace(
        policies.for_region("999999"), region="110000", account_covers="all"
    )
    assert policies.for_region("999999").region == "default"


@pytest.mark.parametrize("code", ["4401", "4401000", "44010a", "", "４４０１００"])
def test_for_region_needs_six_digits(code):
    with pytest.raises(ValueError, match="6-digit"):
        Policies.load().for_region(code)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param(DEFAULT_TOML + '["440000"]\nfoo = 1\n', "440000.foo", id="unknown-key"),
        pytest.param(
            DEFAULT_TOML + '["440000".deductible]\ndental = 1\n',
            "440000.deductible.dental",
            id="unknown-med-type",
        ),
        pytest.param(
            DEFAULT_TOML + '["440100".deductible]\ninpatient = -1\n',
            "440100.deductible.inpatient",
            id="negative-deductible",
        ),
        pytest.param(
            DEFAULT_TOML.replace("account_opening = 120_000", "account_opening = -1"),
            "default.account_opening",
            id="negative-opening",
        ),
        pytest.param(
            DEFAULT_TOML + '["440100".ratio_bp]\ninpatient = 10001\n',
            "440100.ratio_bp.inpatient",
            id="ratio-above-10000",
        ),
        pytest.param(
            DEFAULT_TOML + '["440000"]\nb_self_pay_bp = -5\n',
            "440000.b_self_pay_bp",
            id="negative-bp",
        ),
        pytest.param(
            DEFAULT_TOML + '["310000"]\naccount_covers = "everything"\n',
            "310000.account_covers",
            id="bad-covers",
        ),
        pytest.param(
            DEFAULT_TOML + '["440000"]\nyearly_cap = true\n',
            "440000.yearly_cap",
            id="bool-as-amount",
        ),
        pytest.param(
            DEFAULT_TOML + '["440000"]\nyearly_cap = 1.5\n',
            "440000.yearly_cap",
            id="float-as-amount",
        ),
        pytest.param(
            DEFAULT_TOML + '["440000"]\naccount_enabled = 1\n',
            "440000.account_enabled",
            id="int-as-flag",
        ),
        pytest.param(
            DEFAULT_TOML + '["440000"]\ndeductible = 5\n',
            "440000.deductible",
            id="scalar-for-table",
        ),
        pytest.param('"440000" = 5\n' + DEFAULT_TOML, "[440000]", id="section-not-a-table"),
        pytest.param(DEFAULT_TOML + '["4401"]\nyearly_cap = 1\n', "[4401]", id="short-region"),
        pytest.param(
            DEFAULT_TOML + '["999999"]\nyearly_cap = 1\n', "[999999]", id="unknown-region"
        ),
        pytest.param(DEFAULT_TOML + '["440106"]\nyearly_cap = 1\n', "[440106]", id="county-region"),
        pytest.param(
            DEFAULT_TOML.replace("yearly_cap = 1_000_000\n", ""),
            "default.yearly_cap",
            id="default-incomplete",
        ),
        pytest.param(
            DEFAULT_TOML.replace("pharmacy = 0\n", ""),
            "default.deductible.pharmacy",
            id="default-med-type-missing",
        ),
        pytest.param('["440000"]\nyearly_cap = 1\n', "[default]", id="no-default"),
        pytest.param(DEFAULT_TOML + "[default\n", "not valid TOML", id="not-toml"),
    ],
)
def test_bad_policy_file(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as exc:
        Policies.load(path)
    assert path.name in str(exc.value)
    assert key in str(exc.value)


# --- invariants ------------------------------------------------------------------------

items_st = st.lists(
    st.builds(
        Item,
        code=st.just("X1"),
        name=st.just("item"),
        category=st.sampled_from(CATEGORIES),
        unit_price=st.integers(0, 10**7),
        quantity=st.integers(1, 100),
    ),
    min_size=1,
    max_size=20,
)
policy_st = st.builds(
    RegionPolicy,
    region=st.just("random"),
    deductible=st.fixed_dictionaries({m: st.integers(0, 10**7) for m in MED_TYPES}),
    ratio_bp=st.fixed_dictionaries({m: st.integers(0, 10_000) for m in MED_TYPES}),
    b_self_pay_bp=st.integers(0, 10_000),
    yearly_cap=st.integers(0, 10**9),
    account_enabled=st.booleans(),
    account_covers=st.sampled_from(ACCOUNT_COVERS),
    account_opening=st.integers(0, 10**7),
)
acc_st = st.builds(Accumulators, st.integers(0, 10**8), st.integers(0, 10**9))


@settings(max_examples=300, deadline=None, database=None)
@given(
    policy=policy_st,
    med_type=st.sampled_from(MED_TYPES),
    items=items_st,
    acc=acc_st,
    balance=st.integers(0, 10**9),
)
def test_invariants(policy, med_type, items, acc, balance):
    o = settle(policy, med_type, items, acc, balance)
    assert o.fee_sumamt == sum(i.amount for i in items)
    assert o.fee_sumamt == o.fund_pay + o.psn_acct_pay + o.own_pay_amt
    assert min(o.fund_pay, o.psn_acct_pay, o.own_pay_amt) >= 0
    assert 0 <= o.deductible_part <= o.eligible <= o.fee_sumamt
    assert o.deductible_part <= max(0, policy.deductible[med_type] - acc.deductible_paid)
    assert o.fund_pay <= o.eligible - o.deductible_part
    room = max(0, policy.yearly_cap - acc.fund_paid)
    assert o.fund_pay <= room
    assert not o.capped or o.fund_pay == room
    assert o.psn_acct_pay <= balance
    if not policy.account_enabled:
        assert o.psn_acct_pay == 0
    elif policy.account_covers == "catalogue":
        # 丙 items and the 乙 first self-pay stay with the person.
        assert o.own_pay_amt >= o.fee_sumamt - o.eligible
    if policy.account_enabled and o.psn_acct_pay < balance:
        # An account with money left paid all it was allowed to.
        assert o.own_pay_amt == (0 if policy.account_covers == "all" else o.fee_sumamt - o.eligible)
    assert o.accumulators_reversed(o.accumulators_after(acc)) == acc


def test_account_for_year():
    from node.settlement.ledger import account_for_year

    assert account_for_year(None, 5_000, 2026) == (5_000, 2026)  # opened with the year's injection
    assert account_for_year((1_200, 2026), 5_000, 2026) == (1_200, 2026)  # the same year: as it is
    assert account_for_year((1_200, 2026), 5_000, 2027) == (6_200, 2027)
    assert account_for_year((0, 2026), 5_000, 2029) == (
        15_000,
        2029,
    )  # one injection per year passed
    assert account_for_year((700, 2027), 5_000, 2026) == (
        700,
        2027,
    )  # an older settlement credits nothing


def test_migration_dates_existing_accounts_by_their_opening_in_beijing_time(tmp_path):
    import sqlite3

    from node.storage.settlement import add_injected_year, create_tables

    conn = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    create_tables(conn)  # the schema of m005, before the injected year
    # 2025-12-31 16:30 UTC is 2026-01-01 00:30 in Beijing; 2025-12-31 15:30 UTC is still 2025
    for id_no, opened_ms in (("a", 1767198600000), ("b", 1767195000000)):
        conn.execute(
            "INSERT INTO personal_accounts "
            "(id_type, id_no, insu_org, balance, opened_at, updated_at) "
            "VALUES ('01', ?, '440300', 100, ?, ?)",
            (id_no, opened_ms, opened_ms),
        )
    add_injected_year(conn)
    assert conn.execute(
        "SELECT id_no, injected_year FROM personal_accounts ORDER BY id_no"
    ).fetchall() == [("a", 2026), ("b", 2025)]
