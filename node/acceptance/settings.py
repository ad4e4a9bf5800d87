"""Tunables of acceptance (scan, token, terminals), read once from the node's configuration.

Each setting comes from ``NodeConfig.extra`` (tests pass ``extra={"token_ttl": "60"}``),
else from the environment variable ``ECNET_ACCEPTANCE_<NAME>`` (upper case, for
``ecnet-node`` processes), else the default below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from node.settings import read_settings

__all__ = ["AcceptanceSettings"]


@dataclass(frozen=True)
class AcceptanceSettings:
    # Seconds an ecToken stays valid after the scan that issued it (6.4).
    token_ttl: float = 1800.0
    # Seconds a routed scan may take end to end (serving province → national → issuer);
    # past it the terminal gets -3 instead of waiting on a dead or slow issuer.
    route_deadline: float = 2.0
    # Seconds after which the copy of national's terminal list is refreshed (in the
    # background, on the next scan).
    terminal_refresh: float = 300.0
    # An unknown terminal (or one bound to another orgId) makes the province ask
    # national again at most this often, so a newly registered terminal works at once
    # and a flood of made-up terminal numbers costs national little.
    terminal_miss_refresh: float = 5.0

    @classmethod
    def from_config(
        cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> AcceptanceSettings:
        return read_settings(cls, "acceptance", extra, environ)
