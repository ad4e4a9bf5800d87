"""The settlement policy of a pooling region (统筹区) and its arithmetic: for one
settlement, what the fund pays, what the personal account pays and what the person
pays, in integer fen.

A policy is per pooling region. The shipped file ``policy.toml`` (next to this module)
holds a complete ``[default]`` section and partial overrides, keyed by a 6-digit
pooling region (``["440100"]``) or a province (``["440000"]``); a region inherits
region ← its province ← default, and the per-medical-type tables merge key by key (see
:meth:`Policies.for_region`).

The rounding rule
-----------------
All amounts are integer fen and every share is in basis points (1/10 000); no float is
ever involved. A share ``bp`` of an amount ``n >= 0`` is rounded half up, on integers::

    round_half_up(n, bp) = (n * bp + 5000) // 10000

One settlement of ``items`` of medical type ``med`` for a person whose year so far is
``acc`` and whose personal account holds ``balance``:

1. amount of an item = unit_price × quantity; ``fee_sumamt`` = Σ amounts.
2. eligible part of an item: 甲 (A) its amount; 乙 (B) its amount less the first
   self-pay ``round_half_up(amount, b_self_pay_bp)``, rounded per item; 丙 (C) nothing.
   ``eligible`` = Σ eligible parts.
3. remaining deductible = max(0, deductible[med] − acc.deductible_paid) (one yearly
   accumulator, compared with the threshold of the medical type at hand);
   ``deductible_part`` = min(eligible, remaining deductible).
4. ``fund_pay`` = round_half_up(eligible − deductible_part, ratio_bp[med]), rounded
   once on the sum, never per item; then the yearly cap: with room = max(0, yearly_cap −
   acc.fund_paid), a fund share above room is cut to room (``capped``).
5. the personal share is fee_sumamt − fund_pay. With the account enabled, the account
   may pay the whole personal share (``account_covers = "all"``) or only its
   in-catalogue part, max(0, eligible − fund_pay) (``"catalogue"``: neither 丙 items nor
   the 乙 first self-pay); ``psn_acct_pay`` = min(that, balance). Disabled: 0.
6. ``own_pay_amt`` = fee_sumamt − fund_pay − psn_acct_pay, so that always
   ``fee_sumamt = fund_pay + psn_acct_pay + own_pay_amt``, each part ≥ 0.
7. the year's accumulators then grow by ``deductible_part`` and ``fund_pay``
   (:meth:`Outcome.accumulators_after`); a reversal takes them back exactly
   (:meth:`Outcome.accumulators_reversed`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.config import ConfigError
from node.domain.codes import MED_TYPES
from node.domain.regions import is_pooling_region, is_province
from node.errors import invalid

__all__ = [
    "ACCOUNT_COVERS",
    "CATEGORIES",
    "MAX_ITEMS",
    "MAX_TOTAL",
    "MED_TYPES",
    "SHIPPED",
    "Accumulators",
    "Item",
    "Outcome",
    "Policies",
    "RegionPolicy",
    "settle",
    "validate_items",
    "validate_med_type",
]

#: Item categories of the catalogue: A = 甲 (fully eligible), B = 乙 (eligible after a
#: first self-pay share), C = 丙 (not covered).
CATEGORIES = ("A", "B", "C")
#: What the personal account may pay: the in-catalogue personal share, or all of it.
ACCOUNT_COVERS = ("catalogue", "all")
#: At most this many items in one settlement.
MAX_ITEMS = 500
#: At most this many fen (10 billion yuan) in one settlement.
MAX_TOTAL = 10**12
#: The policy file shipped with the node.
SHIPPED = Path(__file__).with_name("policy.toml")

_BP = 10_000  # basis points in a whole


def _round_half_up(amount: int, bp: int) -> int:
    """``amount × bp / 10000`` rounded half up, for ``amount >= 0``."""
    return (amount * bp + _BP // 2) // _BP


@dataclass(frozen=True, slots=True)
class Item:
    """One line of a settlement: a catalogue item, its category and what was dispensed."""

    code: str
    name: str
    category: str  # "A" (甲) | "B" (乙) | "C" (丙)
    unit_price: int  # fen
    quantity: int

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class RegionPolicy:
    """The policy in force in one pooling region (or province, or the default)."""

    region: str  # the policy file's section: "default", "440000", "440100", ...
    deductible: dict[str, int]  # per medical type, fen per year (起付线)
    ratio_bp: dict[str, int]  # the fund's share per medical type, basis points
    b_self_pay_bp: int  # the 乙 first self-pay share, basis points
    yearly_cap: int  # the fund pays at most this per person and year (fen)
    account_enabled: bool  # the personal account may pay the personal share
    account_covers: str  # "catalogue" or "all", see ACCOUNT_COVERS
    account_opening: (
        int  # the yearly injection into a personal account (fen; ledger.account_for_year)
    )


@dataclass(frozen=True, slots=True)
class Accumulators:
    """A person's year in one pooling region, as far as settlement is concerned."""

    deductible_paid: int = 0  # eligible spending that went to the deductible this year
    fund_paid: int = 0  # fund payments this year


@dataclass(frozen=True, slots=True)
class Outcome:
    """The split of one settlement; ``fee_sumamt = fund_pay + psn_acct_pay + own_pay_amt``."""

    fee_sumamt: int
    fund_pay: int
    psn_acct_pay: int
    own_pay_amt: int
    eligible: int  # the in-catalogue amount after the 乙 first self-pay
    deductible_part: int  # of eligible, what went to the deductible now
    capped: bool  # the yearly cap cut the fund share

    def accumulators_after(self, before: Accumulators) -> Accumulators:
        """The year's accumulators once this settlement is booked."""
        return Accumulators(
            deductible_paid=before.deductible_paid + self.deductible_part,
            fund_paid=before.fund_paid + self.fund_pay,
        )

    def accumulators_reversed(self, after: Accumulators) -> Accumulators:
        """The year's accumulators once this settlement is reversed (never below 0)."""
        return Accumulators(
            deductible_paid=max(0, after.deductible_paid - self.deductible_part),
            fund_paid=max(0, after.fund_paid - self.fund_pay),
        )


def validate_med_type(med_type: str) -> None:
    """Raise -2 unless ``med_type`` is one of :data:`MED_TYPES`."""
    if med_type not in MED_TYPES:
        raise invalid(f"medical type {med_type!r} is not one of {', '.join(MED_TYPES)}")


def validate_items(items: Sequence[Item]) -> None:
    """Raise -2, naming the item at fault, unless ``items`` can be settled."""
    if not items:
        raise invalid("a settlement needs at least one item")
    if len(items) > MAX_ITEMS:
        raise invalid(f"{len(items)} items in one settlement, at most {MAX_ITEMS} are allowed")
    total = 0
    for i, item in enumerate(items, 1):
        where = f"item {i} ({item.code!r})"
        if not item.code.strip():
            raise invalid(f"item {i} has an empty code")
        if not item.name.strip():
            raise invalid(f"{where} has an empty name")
        if item.category not in CATEGORIES:
            raise invalid(f"{where}: category {item.category!r} is not A (甲), B (乙) or C (丙)")
        if item.unit_price < 0:
            raise invalid(f"{where}: unit price {item.unit_price} fen is negative")
        if item.quantity <= 0:
            raise invalid(f"{where}: quantity {item.quantity} is not at least 1")
        total += item.amount
        if total > MAX_TOTAL:
            raise invalid(
                f"{where}: the items add up to more than {MAX_TOTAL} fen, "
                "the limit of one settlement"
            )


def settle(
    policy: RegionPolicy,
    med_type: str,
    items: Sequence[Item],
    acc: Accumulators,
    account_balance: int,
) -> Outcome:
    """Split one settlement by the rules of the module docstring.

    Bad requests (medical type, items) raise -2; negative accumulators or a negative
    balance are the caller's bug and raise ``ValueError``.
    """
    validate_med_type(med_type)
    validate_items(items)
    if acc.deductible_paid < 0 or acc.fund_paid < 0:
        raise ValueError(f"negative accumulators {acc}")
    if account_balance < 0:
        raise ValueError(f"negative personal account balance {account_balance}")

    fee_sumamt = 0
    eligible = 0
    for item in items:
        amount = item.amount
        fee_sumamt += amount
        if item.category == "A":
            eligible += amount
        elif item.category == "B":
            eligible += amount - _round_half_up(amount, policy.b_self_pay_bp)

    remaining = max(0, policy.deductible[med_type] - acc.deductible_paid)
    deductible_part = min(eligible, remaining)

    fund = _round_half_up(eligible - deductible_part, policy.ratio_bp[med_type])
    room = max(0, policy.yearly_cap - acc.fund_paid)
    capped = fund > room
    if capped:
        fund = room

    psn_acct_pay = 0
    if policy.account_enabled:
        # "all": the whole personal share; "catalogue": its in-catalogue part only.
        payable = fee_sumamt - fund if policy.account_covers == "all" else max(0, eligible - fund)
        psn_acct_pay = min(payable, account_balance)

    return Outcome(
        fee_sumamt=fee_sumamt,
        fund_pay=fund,
        psn_acct_pay=psn_acct_pay,
        own_pay_amt=fee_sumamt - fund - psn_acct_pay,
        eligible=eligible,
        deductible_part=deductible_part,
        capped=capped,
    )


# --- the policy file -------------------------------------------------------------------


def _amount_problem(value: object) -> str | None:
    if type(value) is not int or value < 0:
        return "must be a whole number of fen, 0 or more"
    return None


def _bp_problem(value: object) -> str | None:
    if type(value) is not int or not 0 <= value <= _BP:
        return f"must be basis points, a whole number from 0 to {_BP} (= 100 %)"
    return None


def _flag_problem(value: object) -> str | None:
    return None if type(value) is bool else "must be true or false"


def _covers_problem(value: object) -> str | None:
    if value not in ACCOUNT_COVERS:
        return f"must be one of {', '.join(map(repr, ACCOUNT_COVERS))}"
    return None


# Every key of a section and the check of its values; the per-medical-type keys hold a
# table {med type: value} whose values get the check.
_KEYS: dict[str, Callable[[object], str | None]] = {
    "deductible": _amount_problem,
    "ratio_bp": _bp_problem,
    "b_self_pay_bp": _bp_problem,
    "yearly_cap": _amount_problem,
    "account_enabled": _flag_problem,
    "account_covers": _covers_problem,
    "account_opening": _amount_problem,
}
_PER_MED_TYPE = frozenset({"deductible", "ratio_bp"})
_REGION_KEY = re.compile(r"[0-9]{6}")


def _error(source: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {where}: {problem}")


def _check_region_key(source: Path, name: str) -> None:
    if name == "default":
        return
    if not _REGION_KEY.fullmatch(name) or not (
        is_pooling_region(name) or (name.endswith("0000") and is_province(name[:2]))
    ):
        raise _error(
            source,
            f"[{name}]",
            'the section is neither "default" nor a pooling region (e.g. "440100") '
            'nor a province (e.g. "440000")',
        )


def _section(source: Path, name: str, raw: object) -> dict[str, Any]:
    """One section of the file, checked key by key (it may be partial)."""
    if not isinstance(raw, dict):
        raise _error(source, f"[{name}]", "must be a table of policy keys")
    section: dict[str, Any] = {}
    for key, value in raw.items():
        check = _KEYS.get(key)
        if check is None:
            raise _error(source, f"{name}.{key}", f"unknown key; the keys are {', '.join(_KEYS)}")
        if key not in _PER_MED_TYPE:
            problem = check(value)
            if problem:
                raise _error(source, f"{name}.{key}", f"{value!r} {problem}")
            section[key] = value
            continue
        if not isinstance(value, dict):
            raise _error(
                source, f"{name}.{key}", f"must be a table by medical type ({', '.join(MED_TYPES)})"
            )
        for med_type, per_type in value.items():
            where = f"{name}.{key}.{med_type}"
            if med_type not in MED_TYPES:
                raise _error(source, where, f"unknown medical type; use {', '.join(MED_TYPES)}")
            problem = check(per_type)
            if problem:
                raise _error(source, where, f"{per_type!r} {problem}")
        section[key] = dict(value)
    return section


def _check_complete(source: Path, default: Mapping[str, Any]) -> None:
    for key in _KEYS:
        if key not in default:
            raise _error(source, f"default.{key}", "missing; [default] must set every key")
        if key in _PER_MED_TYPE:
            for med_type in MED_TYPES:
                if med_type not in default[key]:
                    raise _error(
                        source,
                        f"default.{key}.{med_type}",
                        "missing; [default] must set every medical type",
                    )


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, the tables by medical type merged key by key (and
    always copied, so that no two policies share one)."""
    merged = {**base, **override}
    for key in _PER_MED_TYPE & merged.keys():
        merged[key] = {**base.get(key, {}), **override.get(key, {})}
    return merged


class Policies:
    """The policies of every pooling region, as read from a policy file."""

    __slots__ = ("_by_region", "regions")

    def __init__(self, by_region: Mapping[str, RegionPolicy]) -> None:
        """``by_region``: the resolved policy of every section, ``"default"`` among them."""
        if "default" not in by_region:
            raise ValueError("policies need a default")
        self._by_region = dict(by_region)
        #: The section keys of the file ("default" and the overrides), in file order.
        self.regions: tuple[str, ...] = tuple(self._by_region)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policies:
        """Read and check a policy file (``None``: the shipped one).

        A mistake in the file raises :class:`~node.config.ConfigError` (a
        ``ValueError``) naming the file and the key at fault.
        """
        source = SHIPPED if path is None else Path(path)
        with source.open("rb") as f:
            try:
                raw = tomllib.load(f)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        if "default" not in raw:
            raise _error(source, "[default]", "missing; it must set every key")
        sections: dict[str, dict[str, Any]] = {}
        for name, value in raw.items():
            _check_region_key(source, name)
            sections[name] = _section(source, name, value)
        _check_complete(source, sections["default"])

        by_region: dict[str, RegionPolicy] = {}
        for name in sections:
            layers = ("default",) if name == "default" else ("default", name[:2] + "0000", name)
            merged: dict[str, Any] = {}
            for layer in dict.fromkeys(layers):  # a municipality is its own province: once
                if layer in sections:
                    merged = _merge(merged, sections[layer])
            by_region[name] = RegionPolicy(region=name, **merged)
        return cls(by_region)

    def for_region(self, insu_org: str) -> RegionPolicy:
        """The policy of a pooling region: its own section, else its province's
        (``NN0000``), else the default. The answer's ``region`` says which applied.

        ``ValueError`` unless ``insu_org`` is 6 digits.
        """
        if not _REGION_KEY.fullmatch(insu_org):
            raise ValueError(f"{insu_org!r} is not a 6-digit pooling region code (e.g. 440100)")
        for key in (insu_org, insu_org[:2] + "0000"):
            if key in self._by_region:
                return self._by_region[key]
        return self._by_region["default"]
