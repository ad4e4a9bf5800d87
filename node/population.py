"""Reproducible synthetic population, channels and terminals for seeding nodes.

Everything here is deterministic in its arguments: the generator draws from its own
``random.Random(seed)`` (never the global ``random`` module, never Faker's shared
state), and output does not depend on the date of the run (ages are relative to the
``as_of`` parameter, by default 2026-01-01).

:func:`generate` yields :class:`SyntheticPerson` records:

* names: surnames from Faker's zh_CN provider with its frequency weights; given names
  from its gendered lists, plus two-character given names (common modern ones, more
  frequent among the young, and generation-character compounds);
* age 0–95 following a rough 2020-census pyramid; gender about 51 % male;
* the primary insured region (``insured[0]``) is a pooling region of one of the given
  provinces: provinces weigh equally, regions within a province by their number of
  counties; about 5 % of persons are insured in a second region (in another of the
  given provinces when there are several, else another region of the same province),
  0.5 % in a third;
* insurance type 310 (职工基本医疗保险) for most working-age adults (18–59), 390
  (城乡居民基本医疗保险) for all children and most of the elderly;
* the id number (GB 11643) has a county of the primary region as address code (for
  the corps' region 660000 a Xinjiang 6590xx city code, see :mod:`node.domain.regions`),
  the birthday as birth date, a sequence whose parity is the gender (odd = male) and
  the check character of :func:`node.domain.idno.check_char`; id numbers are unique
  within one generated population.

Speed: all tables (names, cumulative weights, birth dates as strings, region →
counties, the InsuredRegion objects, which are shared) are built once; the loop per
person is plain ``random()`` calls, ``bisect`` on cumulative weights and string
concatenation, about 6–8 µs per person in CPython 3.11.

``generate(n, seed, p)`` is a prefix of ``generate(m, seed, p)`` for ``n < m``.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from faker.providers.person.zh_CN import Provider as _ZhPerson

from node.domain import regions as _regions
from node.domain.idno import check_char

__all__ = [
    "AS_OF",
    "INSU_TYPE_EMPLOYEE",
    "INSU_TYPE_RESIDENT",
    "Channel",
    "InsuredRegion",
    "SyntheticPerson",
    "Terminal",
    "enrolled_face_template",
    "generate",
    "sample_channels",
    "sample_terminals",
]

#: Default reference date for ages, so output does not depend on the run date.
AS_OF = date(2026, 1, 1)
#: 职工基本医疗保险
INSU_TYPE_EMPLOYEE = "310"
#: 城乡居民基本医疗保险
INSU_TYPE_RESIDENT = "390"

ID_TYPE_RESIDENT = "01"
NATIONALITY = "CHN"
GENDER_MALE = "1"
GENDER_FEMALE = "2"

MULTI_INSURED_SHARE = 0.05  # persons insured in two or more regions
THIRD_REGION_SHARE = 0.10  # of the multi-insured, share with a third region
MALE_SHARE = 0.512


@dataclass(frozen=True, slots=True)
class InsuredRegion:
    insu_org: str  # 6-digit pooling-region code
    insu_type: str  # "310" employee / "390" urban-rural resident


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    user_name: str
    id_type: str  # "01": resident id card (table C.2)
    id_no: str
    gender: str  # "1" male, "2" female
    birthday: str  # YYYY-MM-DD
    nationality: str  # "CHN"
    phone: str  # 11-digit mobile number
    insured: tuple[InsuredRegion, ...]  # insured[0] is the primary region


@dataclass(frozen=True, slots=True)
class Channel:
    channel_id: str
    name: str
    kind: str  # "official" | "third_party"
    status: str  # "approved"
    public_key_hex: str = ""
    scopes: str = "ecnet.v1.VoucherService/*,ecnet.v1.QrService/*"


@dataclass(frozen=True, slots=True)
class Terminal:
    """A registered acceptance terminal, with the fields of table 1 of the standard."""

    terminal_id: str  # 终端备案号: 20 digits = province(2) + year(4) + 14 digits
    province: str
    org_id: str  # institution bound to the terminal: H/P + pooling region + 5 digits
    org_name: str  # 终端的使用单位
    name: str  # 终端的名称
    purpose: str  # 终端的用途
    version: str  # 终端的版本, X.Y
    developer: str  # 终端的开发单位
    registered_on: str  # 系统备案日期, YYYY-MM-DD
    mac: str  # 终端 MAC 地址, lowercase, colon-separated


# --------------------------------------------------------------------------- names

_SURNAMES: tuple[str, ...] = tuple(_ZhPerson.last_names)
_SURNAME_CW: tuple[float, ...] = tuple(accumulate(_ZhPerson.last_names.values()))

_FIX_GENDER = {"红霞"}  # listed among Faker's male names, but a female name
_GIVEN_MALE: tuple[str, ...] = tuple(n for n in _ZhPerson.first_names_male if n not in _FIX_GENDER)
_GIVEN_FEMALE: tuple[str, ...] = tuple(_ZhPerson.first_names_female) + tuple(
    n for n in _ZhPerson.first_names_male if n in _FIX_GENDER
)
_SINGLE_MALE = tuple(n for n in _GIVEN_MALE if len(n) == 1)
_SINGLE_FEMALE = tuple(n for n in _GIVEN_FEMALE if len(n) == 1)
# generation characters (字辈-like) for compound two-character given names
_MID_MALE = tuple("志建国文海永德明家俊立振晓宏子天博正春金")
_MID_FEMALE = tuple("秀丽晓雅美春玉淑慧静思雪佳凤海婉诗月新梦")


def _pairs(chars: str) -> tuple[str, ...]:
    return tuple(chars[i : i + 2] for i in range(0, len(chars), 2))


# common modern two-character given names (more frequent among the young)
_MODERN_MALE = _pairs(
    "浩然子轩宇轩浩宇梓轩俊杰子豪皓轩宇航博文一鸣思远明轩天佑铭泽睿泽"
    "子墨奕辰宇泽浩轩承泽俊熙文博志远鹏飞家豪晨阳泽宇梓豪嘉诚"
)
_MODERN_FEMALE = _pairs(
    "子涵欣怡梓涵诗涵雨涵梓萱可馨语嫣雨萱思彤一诺紫涵佳怡欣妍若汐梦琪"
    "静怡雅琪思涵梓琪晓雯嘉欣佳琪雨桐诗琪依诺心怡芷若晨曦婉清"
)

# ------------------------------------------------------------------ ages and phones

# Rough population share per 5-year band, 0–4 … 90–95 (2020 census shape, in %).
_AGE_BANDS = (
    5.5, 6.3, 6.0, 5.2, 5.3, 6.3, 8.4, 6.9, 6.6, 8.1, 8.5, 7.1, 5.2, 5.5, 3.8, 2.5, 1.6, 0.8, 0.3,
)  # fmt: skip
_AGE_WEIGHTS = tuple(
    _AGE_BANDS[min(a // 5, len(_AGE_BANDS) - 1)] / (6 if a >= 90 else 5) for a in range(96)
)
_AGE_CW: tuple[float, ...] = tuple(accumulate(_AGE_WEIGHTS))
_MAX_AGE = 95
_DAYS_PER_YEAR = 365.2425

_PHONE_PREFIXES = tuple(
    [f"13{d}" for d in range(10)]
    + [f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)]
    + [f"18{d}" for d in range(10)]
    + [f"19{d}" for d in (1, 3, 5, 6, 7, 8, 9)]
)

_SEQ3 = tuple(f"{i:03d}" for i in range(1000))


@functools.lru_cache(maxsize=8)
def _birth_dates(as_of: date) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ISO and compact (YYYYMMDD) strings of as_of − d days, d = 0 … 96 years − 1 day."""
    base = as_of.toordinal()
    span = int((_MAX_AGE + 1) * _DAYS_PER_YEAR)
    iso = tuple(date.fromordinal(base - d).isoformat() for d in range(span))
    return iso, tuple(s.replace("-", "") for s in iso)


def _normalize_provinces(provinces: Iterable[str]) -> list[str]:
    if isinstance(provinces, str):
        raise TypeError("provinces must be a list of two-digit codes, not a string")
    provs = sorted(set(provinces))
    if not provs:
        raise ValueError("at least one province is needed")
    bad = [p for p in provs if not _regions.is_province(p)]
    if bad:
        raise ValueError(f"unknown provinces: {bad}")
    return provs


def _insu_type(rnd: Callable[[], float], age: int) -> str:
    if age < 18:
        return INSU_TYPE_RESIDENT
    if age < 60:
        return INSU_TYPE_EMPLOYEE if rnd() < 0.72 else INSU_TYPE_RESIDENT
    return INSU_TYPE_EMPLOYEE if rnd() < 0.35 else INSU_TYPE_RESIDENT


class _RegionTable:
    """Flat weighted table of the pooling regions of the given provinces."""

    def __init__(self, provs: list[str]) -> None:
        pooling = _regions._pooling_table()
        county_table = _regions._region_counties_table()
        self.provs = provs
        self.codes: list[str] = []
        self.prov_index: list[int] = []
        self.counties: list[tuple[str, ...]] = []
        weights: list[float] = []
        # per province: (region indexes, cumulative weights) for secondary draws
        self.by_prov: list[tuple[list[int], list[float]]] = []
        for pi, p in enumerate(provs):
            codes = pooling[p]
            total = sum(len(county_table[c]) for c in codes)
            idx: list[int] = []
            w_local: list[float] = []
            for c in codes:
                idx.append(len(self.codes))
                self.codes.append(c)
                self.prov_index.append(pi)
                self.counties.append(county_table[c])
                w = len(county_table[c]) / total
                weights.append(w / len(provs))
                w_local.append(w)
            self.by_prov.append((idx, list(accumulate(w_local))))
        self.cw = list(accumulate(weights))
        self.total = self.cw[-1]
        self.ins: dict[str, list[InsuredRegion]] = {
            t: [InsuredRegion(c, t) for c in self.codes]
            for t in (INSU_TYPE_EMPLOYEE, INSU_TYPE_RESIDENT)
        }

    def pick_in(self, rng: random.Random, pi: int, exclude: Sequence[int]) -> int | None:
        idx, cw = self.by_prov[pi]
        if all(i in exclude for i in idx):
            return None
        while True:
            i = idx[bisect.bisect(cw, rng.random() * cw[-1], 0, len(cw) - 1)]
            if i not in exclude:
                return i

    def secondary(self, rng: random.Random, used: list[int]) -> int | None:
        """A further region: in a province not used yet if possible, else any unused one."""
        used_provs = {self.prov_index[i] for i in used}
        free = [pi for pi in range(len(self.provs)) if pi not in used_provs]
        if free:
            return self.pick_in(rng, free[int(rng.random() * len(free))], used)
        cands = [
            pi for pi in range(len(self.provs)) if any(i not in used for i in self.by_prov[pi][0])
        ]
        if not cands:
            return None
        return self.pick_in(rng, cands[int(rng.random() * len(cands))], used)


def generate(
    n: int, seed: int, provinces: Iterable[str], *, as_of: date = AS_OF
) -> Iterator[SyntheticPerson]:
    """Yield ``n`` synthetic persons insured in ``provinces`` (two-digit codes).

    Deterministic for (n, seed, set of provinces, as_of); the order of ``provinces``
    does not matter. ``ValueError`` for an unknown province or a negative ``n``.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    provs = _normalize_provinces(provinces)

    table = _RegionTable(provs)
    return _generate(n, random.Random(seed), table, _birth_dates(as_of), check_char)


def _generate(
    n: int,
    rng: random.Random,
    table: _RegionTable,
    dates: tuple[tuple[str, ...], tuple[str, ...]],
    check_char: Callable[[str], str],
) -> Iterator[SyntheticPerson]:
    rnd = rng.random
    bis = bisect.bisect
    iso_dates, compact_dates = dates
    max_day = len(iso_dates) - 1
    age_cw, age_total, age_hi = _AGE_CW, _AGE_CW[-1], len(_AGE_CW) - 1
    sur, sur_cw, sur_total, sur_hi = _SURNAMES, _SURNAME_CW, _SURNAME_CW[-1], len(_SURNAMES) - 1
    reg_cw, reg_total, reg_hi = table.cw, table.total, len(table.cw) - 1
    reg_counties = table.counties
    ins_emp, ins_res = table.ins[INSU_TYPE_EMPLOYEE], table.ins[INSU_TYPE_RESIDENT]
    multi_possible = len(table.codes) > 1
    seq3 = _SEQ3
    phones, n_phones = _PHONE_PREFIXES, len(_PHONE_PREFIXES)
    given_m, n_gm = _GIVEN_MALE, len(_GIVEN_MALE)
    given_f, n_gf = _GIVEN_FEMALE, len(_GIVEN_FEMALE)
    modern_m, n_mm = _MODERN_MALE, len(_MODERN_MALE)
    modern_f, n_mf = _MODERN_FEMALE, len(_MODERN_FEMALE)
    mid_m, n_xm = _MID_MALE, len(_MID_MALE)
    mid_f, n_xf = _MID_FEMALE, len(_MID_FEMALE)
    single_m, n_sm = _SINGLE_MALE, len(_SINGLE_MALE)
    single_f, n_sf = _SINGLE_FEMALE, len(_SINGLE_FEMALE)
    emp, res = INSU_TYPE_EMPLOYEE, INSU_TYPE_RESIDENT
    seen: set[str] = set()
    add = seen.add
    Person = SyntheticPerson

    for _ in range(n):
        male = rnd() < MALE_SHARE
        age = bis(age_cw, rnd() * age_total, 0, age_hi)
        day = int((age + rnd()) * _DAYS_PER_YEAR)
        if day > max_day:
            day = max_day
        ri = bis(reg_cw, rnd() * reg_total, 0, reg_hi)
        cs = reg_counties[ri]
        county = cs[int(rnd() * len(cs))]
        body = county + compact_dates[day] + seq3[int(rnd() * 500) * 2 + male]
        id_no = body + check_char(body)
        if id_no in seen:  # rare: draw other sequences (then other days of the same age)
            tries = 0
            while id_no in seen:
                tries += 1
                if tries % 200 == 0:
                    day = min(int((age + rnd()) * _DAYS_PER_YEAR), max_day)
                body = county + compact_dates[day] + seq3[int(rnd() * 500) * 2 + male]
                id_no = body + check_char(body)
        add(id_no)

        surname = sur[bis(sur_cw, rnd() * sur_total, 0, sur_hi)]
        u = rnd()
        if male:
            if age < 30 and u < 0.45:
                given = modern_m[int(rnd() * n_mm)]
            elif u < 0.75:
                given = given_m[int(rnd() * n_gm)]
            else:
                given = mid_m[int(rnd() * n_xm)] + single_m[int(rnd() * n_sm)]
        elif age < 30 and u < 0.45:
            given = modern_f[int(rnd() * n_mf)]
        elif u < 0.75:
            given = given_f[int(rnd() * n_gf)]
        else:
            given = mid_f[int(rnd() * n_xf)] + single_f[int(rnd() * n_sf)]

        phone = f"{phones[int(rnd() * n_phones)]}{int(rnd() * 100_000_000):08d}"

        if age < 18:
            itype = res
        elif age < 60:
            itype = emp if rnd() < 0.72 else res
        else:
            itype = emp if rnd() < 0.35 else res
        primary = ins_emp[ri] if itype == emp else ins_res[ri]
        if multi_possible and rnd() < MULTI_INSURED_SHARE:
            insured = _more_regions(rng, table, ri, itype, age, primary)
        else:
            insured = (primary,)

        yield Person(
            surname + given,
            ID_TYPE_RESIDENT,
            id_no,
            "1" if male else "2",
            iso_dates[day],
            NATIONALITY,
            phone,
            insured,
        )


def _more_regions(
    rng: random.Random, table: _RegionTable, ri: int, itype: str, age: int, primary: InsuredRegion
) -> tuple[InsuredRegion, ...]:
    used = [ri]
    out = [primary]
    extra = 2 if rng.random() < THIRD_REGION_SHARE else 1
    for _ in range(extra):
        j = table.secondary(rng, used)
        if j is None:
            break
        # typical case: employee insurance where one works, resident insurance at home
        t = INSU_TYPE_RESIDENT if itype == INSU_TYPE_EMPLOYEE else _insu_type(rng.random, age)
        used.append(j)
        out.append(table.ins[t][j])
    return tuple(out)


def enrolled_face_template(seed: int, id_no: str) -> bytes:
    """The 32-byte biometric (face) template enrolled for a synthetic person.

    Deterministic in (seed, id_no) — SHA-256 over a domain tag, the seed and the id
    number — so the simulated real-person check can recompute it on any node without
    storing it, and generation stays fast (it is not a field of the person).
    """
    return hashlib.sha256(f"ecnet/face-template/v1\x00{seed}\x00{id_no}".encode()).digest()


# ------------------------------------------------------------- channels, terminals


def sample_channels() -> list[Channel]:
    """The official channel and two approved third-party channels."""
    return [
        Channel("NHSA-OFFICIAL", "国家医保服务平台", "official", "approved"),
        Channel("WECHAT", "微信", "third_party", "approved"),
        Channel("ALIPAY", "支付宝", "third_party", "approved"),
    ]


_HOSPITAL_TERMINALS = (
    ("挂号自助终端", "用于患者自助进行挂号等操作"),
    ("门诊收费扫码墩", "用于门诊收费窗口扫描医保电子凭证进行结算"),
    ("自助缴费终端", "用于患者自助缴费及医保结算"),
    ("住院结算扫码枪", "用于住院登记及出院结算时扫描医保电子凭证"),
    ("诊间扫码枪", "用于医生工作站诊间挂号及处方结算"),
)
_PHARMACY_TERMINALS = (
    ("药店收银扫码枪", "用于定点零售药店购药医保结算"),
    ("药店收银扫码墩", "用于定点零售药店收银台扫描医保电子凭证"),
)
_HOSPITAL_SUFFIXES = (
    "第一人民医院",
    "人民医院",
    "中医医院",
    "第二人民医院",
    "中心医院",
    "妇幼保健院",
)
_PHARMACY_SUFFIXES = (
    "益康大药房",
    "仁济大药房",
    "惠民药店",
    "康宁大药房",
    "百姓平价药房",
    "济生堂药店",
)
_DEVELOPERS = (
    "华康智慧医疗科技有限公司",
    "安诚信息技术有限公司",
    "中联惠民软件股份有限公司",
    "远景医信科技有限公司",
    "启点数据系统有限公司",
    "医联通软件有限公司",
)
_REG_FIRST = date(2019, 5, 1).toordinal()
_REG_LAST = date(2025, 12, 31).toordinal()


def _place(rng: random.Random, province: str, region: str) -> str:
    """Place name used in an institution name."""
    if region.endswith("0000"):  # municipality or the corps: name a county of it
        county = _regions.region_name(rng.choice(_regions.counties(region)))
        if province == _regions.CORPS:
            return county
        return _regions.region_name(region) + county
    return _regions.region_name(region)


def _institution(
    rng: random.Random, province: str, kind: str, region: str, ids: set[str]
) -> tuple[str, str]:
    """(orgId, name) of a hospital (kind "H") or pharmacy ("P") in a pooling region."""
    while True:
        oid = f"{kind}{region}{rng.randint(1, 99999):05d}"
        if oid not in ids:
            ids.add(oid)
            break
    suffixes = _HOSPITAL_SUFFIXES if kind == "H" else _PHARMACY_SUFFIXES
    return oid, _place(rng, province, region) + rng.choice(suffixes)


def sample_terminals(provinces: Iterable[str], seed: int) -> list[Terminal]:
    """3–5 registered terminals per province, bound to two hospitals and a pharmacy.

    Each province's terminals depend only on (seed, province), so a provincial node
    seeding only its own province gets the same terminals as the national node. The
    terminal number is province(2) + registration year(4) + 9 random digits + a 5-digit
    serial, hence unique; MACs are unicast, globally administered addresses.
    """
    out: list[Terminal] = []
    for prov in _normalize_provinces(provinces):
        rng = random.Random(f"ecnet/terminals/{seed}/{prov}")
        regions = _regions.pooling_regions(prov)
        org_ids: set[str] = set()

        hospitals = [
            _institution(rng, prov, "H", regions[0], org_ids),  # the capital's region first
            _institution(rng, prov, "H", rng.choice(regions), org_ids),
        ]
        pharmacy = _institution(rng, prov, "P", rng.choice(regions), org_ids)
        plan = [hospitals[0], pharmacy, hospitals[1], hospitals[0], hospitals[1]]
        macs: set[str] = set()
        for i in range(rng.randint(3, 5)):
            org_id, org_name = plan[i]
            name, purpose = rng.choice(
                _PHARMACY_TERMINALS if org_id[0] == "P" else _HOSPITAL_TERMINALS
            )
            registered = date.fromordinal(rng.randint(_REG_FIRST, _REG_LAST))
            while True:
                octets = [rng.randrange(256) & 0xFC] + [rng.randrange(256) for _ in range(5)]
                mac = ":".join(f"{b:02x}" for b in octets)
                if mac not in macs:
                    macs.add(mac)
                    break
            out.append(
                Terminal(
                    terminal_id=f"{prov}{registered.year:04d}{rng.randrange(10**9):09d}{i + 1:05d}",
                    province=prov,
                    org_id=org_id,
                    org_name=org_name,
                    name=name,
                    purpose=purpose,
                    version=f"{rng.randint(1, 3)}.{rng.randint(0, 9)}",
                    developer=rng.choice(_DEVELOPERS),
                    registered_on=registered.isoformat(),
                    mac=mac,
                )
            )
    return out
