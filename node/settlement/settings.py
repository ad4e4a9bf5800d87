"""Tunables of settlement, read once from the node's configuration.

Each comes from ``NodeConfig.extra`` (tests pass ``extra={"settle_deadline": "1"}``),
else from the environment variable ``ECNET_SETTLEMENT_<NAME>`` (upper case), else the
default below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from node.settings import read_settings

__all__ = ["SettlementSettings"]


@dataclass(frozen=True)
class SettlementSettings:
    # The policy file (TOML); empty: the shipped node/settlement/policy.toml.
    policy: str = ""
    # Seconds a remote settlement may take end to end (serving → national → insured).
    settle_deadline: float = 5.0
    # Seconds between looks for remote settlements still pending (unconfirmed).
    reconcile_interval: float = 5.0
    # A pending settlement younger than this is left to the call (or retry) in flight.
    reconcile_after: float = 10.0

    @classmethod
    def from_config(
        cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> SettlementSettings:
        return read_settings(cls, "settlement", extra, environ)
