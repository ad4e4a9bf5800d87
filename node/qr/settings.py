"""Tunables of QR issue at a provincial node, read once from the node's configuration.

Each setting comes from ``NodeConfig.extra`` (tests pass ``extra={"qr_ttl_seconds":
"5"}``), else from the environment variable ``ECNET_QR_<NAME>`` (e.g.
``ECNET_QR_TTL_SECONDS`` for ``ecnet-node`` processes), else the default below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from node.config import ConfigError

__all__ = ["QrSettings"]


@dataclass(frozen=True)
class QrSettings:
    # A code lives this long after issue (6.2: short-lived; the channel refreshes it).
    ttl_seconds: int = 60
    # Deadline of the call to national when the voucher is not cached (6.2.2 b 2).
    fetch_timeout_seconds: float = 3.0
    # Codes expired this long ago, and requestIds this old, are deleted (bounded batches
    # on the issue path), so the tables hold the recent traffic, not the history.
    retention_seconds: int = 86_400

    @classmethod
    def from_config(cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None) -> QrSettings:
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for name, kind in (("ttl_seconds", int), ("fetch_timeout_seconds", float), ("retention_seconds", int)):
            raw = extra.get(f"qr_{name}", env.get(f"ECNET_QR_{name.upper()}"))
            if raw is None:
                continue
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"QR setting qr_{name}={raw!r} is not a {kind.__name__}") from None
            if value <= 0:
                raise ConfigError(f"QR setting qr_{name} must be positive, got {raw}")
            values[name] = value
        return cls(**values)
