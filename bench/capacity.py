"""``python -m bench.capacity [.bench/scale.json]``: the capacity model of docs/scale.md,
computed from what ``make bench-scale`` measured and the assumptions written here.

Every input is either *measured* (read from the scale bench's JSON: each flow's calls/s
on the large registry, the cores it ran on, the bytes of each database per person or
per voucher) or *assumed* (:class:`Assumptions`, each with where it comes from); every
output says which it rests on. Nothing is measured here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Assumptions", "Measured", "model", "measured_from", "main"]

DEFAULT_JSON = Path(__file__).resolve().parent.parent / ".bench" / "scale.json"
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Assumptions:
    # the country (issue 16)
    persons: float = 1.36e9
    vouchers: float = 1.2e9
    institutions: float = 930_000
    transactions_per_day: float = 28e6
    # The peak: the share of a day's transactions made in its busy hours (clinics and
    # pharmacies open, 8:00-18:00), the busiest hour over the busy hours' mean (Monday
    # mornings), and a margin for the busiest days of the year (influenza season, the
    # first weeks of January). Assumed: no hourly figures of the real network are here.
    busy_hours: float = 10
    busy_share: float = 0.8
    busiest_hour_over_busy_mean: float = 1.5
    busiest_day_margin: float = 2.0
    # One transaction: a code displayed (IssueQrCode at a province), scanned
    # (ec.query) and settled (Settle).
    calls_per_transaction: float = 3
    # Transactions whose serving province is not the insured one (routed ec.query and
    # remote settlement through national). Assumed; 2x it is shown beside.
    cross_province_share: float = 0.05
    # New activations a day (the 0.16 billion not yet activated, and changes of
    # identity), at national, with the same peak factor. Assumed.
    activations_per_day: float = 500_000
    # The share of the insured in the largest province (Guangdong, about 127 million
    # residents of 1.41 billion).
    largest_province_share: float = 0.09
    provinces: int = 32  # 31 provinces and the Xinjiang Production and Construction Corps
    # Run cores at most this busy at the peak: one replica may fail at the peak.
    utilization: float = 0.5
    cores_per_replica: int = 4

    @property
    def peak_factor(self) -> float:
        """Peak calls per second over the day's mean: (busy share of the day ÷ busy
        share of the hours) × busiest hour × busiest day."""
        return (
            (self.busy_share / (self.busy_hours / 24))
            * self.busiest_hour_over_busy_mean
            * self.busiest_day_margin
        )


@dataclass(frozen=True)
class Measured:
    """What the scale bench measured on the large registry."""

    persons: int
    cores: int  # the machine's, shared by the bench and every node it ran
    activation_per_second: float
    routed_query_per_second: float
    remote_settlement_per_second: float
    national_bytes: int
    province_bytes: int  # provincial-44.db
    province_vouchers: int  # the vouchers pushed to 44

    @property
    def national_bytes_per_person(self) -> float:
        return self.national_bytes / self.persons

    @property
    def province_bytes_per_voucher(self) -> float:
        return self.province_bytes / self.province_vouchers if self.province_vouchers else 0.0

    def per_core(self, calls_per_second: float) -> float:
        """Calls per second per core, charging the flow with every core of the machine
        (the bench's own client and the three nodes shared them): a lower bound."""
        return calls_per_second / self.cores


def measured_from(report: dict[str, Any]) -> Measured:
    """The large registry's figures of a ``.bench/scale.json``."""
    flows = {c["flow"].split(" ")[0]: c for c in report["comparisons"] if "large" in c}
    largest = max(report["registries"], key=lambda r: r["persons"])
    return Measured(
        persons=int(largest["persons"]),
        cores=int(report["header"]["machine"]["cpu_count"]),
        activation_per_second=flows["activation"]["large"]["calls_per_second"],
        routed_query_per_second=flows["routed"]["large"]["calls_per_second"],
        remote_settlement_per_second=flows["remote"]["large"]["calls_per_second"],
        national_bytes=int(largest["bytes"]["national"]),
        province_bytes=int(largest["bytes"]["44"]),
        province_vouchers=int(largest["rows"]["p44_vouchers"]),
    )


def model(m: Measured, a: Assumptions = Assumptions()) -> dict[str, Any]:
    """The capacity model: each figure with what it rests on."""
    peak_tx = a.transactions_per_day / DAY_SECONDS * a.peak_factor
    peak_calls = peak_tx * a.calls_per_transaction
    out: dict[str, Any] = {
        "assumptions": {**asdict(a), "peak_factor": a.peak_factor},
        "measured": {
            **asdict(m),
            "national_bytes_per_person": m.national_bytes_per_person,
            "province_bytes_per_voucher": m.province_bytes_per_voucher,
        },
        "mean_transactions_per_second": a.transactions_per_day / DAY_SECONDS,
        "peak_transactions_per_second": peak_tx,
        "peak_calls_per_second": peak_calls,
    }
    for label, share in (("", a.cross_province_share), ("_2x", 2 * a.cross_province_share)):
        cross = peak_tx * share
        activations = a.activations_per_day / DAY_SECONDS * a.peak_factor
        cores = (
            cross / m.per_core(m.routed_query_per_second)
            + cross / m.per_core(m.remote_settlement_per_second)
            + activations / m.per_core(m.activation_per_second)
        ) / a.utilization
        out[f"national{label}"] = {
            "cross_province_share": share,
            "peak_routed_queries_per_second": cross,
            "peak_remote_settlements_per_second": cross,
            "peak_activations_per_second": activations,
            "cores": cores,
            # N+1: one more replica than the peak needs, so one may fail at the peak.
            # Replicas divide national's CPU (hash, TLS, forwarding), not its writes: they
            # share one database and take its one writer lock per write transaction
            # (node.storage.postgres), so this holds while the peak's writes fit one
            # writer (docs/scale.md, "Replicas add cores, not writes"; make bench-cluster).
            "replicas": math.ceil(cores / a.cores_per_replica) + 1,
        }
    largest = peak_calls * a.largest_province_share
    # A third each: codes issued and scans charged at the routed ec.query's rate (make
    # bench measures a code issue and a routed query at about the same ratio), settlements
    # at the remote settlement's. Each of those crossed three nodes where a local call
    # crosses one, so this is an upper bound of the province's cores.
    third = largest / a.calls_per_transaction
    province_cores = (
        2 * third / m.per_core(m.routed_query_per_second)
        + third / m.per_core(m.remote_settlement_per_second)
    ) / a.utilization
    out["largest_province"] = {
        "share": a.largest_province_share,
        "peak_calls_per_second": largest,
        "cores": province_cores,
        "nodes": a.provinces,
    }
    national_bytes = m.national_bytes_per_person * a.persons
    out["database"] = {
        "national_bytes": national_bytes,
        "partitions": a.provinces,
        "largest_partition_bytes": national_bytes * a.largest_province_share,
        "largest_province_registry_bytes": m.province_bytes_per_voucher
        * a.vouchers
        * a.largest_province_share,
    }
    return out


def _si(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,.0f} B"


def render(out: dict[str, Any]) -> str:
    a, m = out["assumptions"], out["measured"]
    n, n2 = out["national"], out["national_2x"]
    p, d = out["largest_province"], out["database"]
    lines = [
        f"measured on {m['persons']:,} persons, {m['cores']} cores: activation "
        f"{m['activation_per_second']:,.1f}/s, routed ec.query "
        f"{m['routed_query_per_second']:,.1f}/s, "
        f"remote settlement {m['remote_settlement_per_second']:,.1f}/s; national.db "
        f"{m['national_bytes_per_person']:,.0f} B/person, a province "
        f"{m['province_bytes_per_voucher']:,.0f} B/voucher",
        f"peak factor {a['peak_factor']:.2f}: mean {out['mean_transactions_per_second']:,.0f} "
        f"transactions/s, peak {out['peak_transactions_per_second']:,.0f}/s, "
        f"{out['peak_calls_per_second']:,.0f} calls/s",
        f"national at {n['cross_province_share']:.0%} cross-province: "
        f"{n['peak_routed_queries_per_second']:,.0f} routed queries/s + as many remote "
        f"settlements + {n['peak_activations_per_second']:,.1f} activations/s = "
        f"{n['cores']:,.1f} cores at {a['utilization']:.0%}: {n['replicas']} replicas of "
        f"{a['cores_per_replica']} cores (N+1)",
        f"national at {n2['cross_province_share']:.0%}: {n2['cores']:,.1f} cores, "
        f"{n2['replicas']} replicas",
        f"largest province ({p['share']:.0%}): {p['peak_calls_per_second']:,.0f} calls/s, "
        f"{p['cores']:,.1f} cores; {p['nodes']} province nodes",
        f"national database {_si(d['national_bytes'])} in {d['partitions']} partitions by "
        f"insured province, the largest {_si(d['largest_partition_bytes'])}; the largest "
        f"province's own registry {_si(d['largest_province_registry_bytes'])}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    p.add_argument("json", nargs="?", type=Path, default=DEFAULT_JSON)
    p.add_argument("--json-out", action="store_true", help="print the model as JSON")
    args = p.parse_args(argv)
    out = model(measured_from(json.loads(args.json.read_text())))
    print(json.dumps(out, indent=2) if args.json_out else render(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
