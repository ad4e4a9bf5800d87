"""Tunables of QR issue at a provincial node, read once from the node's configuration.

Each setting comes from ``NodeConfig.extra`` (tests pass ``extra={"qr_ttl_seconds":
"5"}``), else from the environment variable ``ECNET_QR_<NAME>`` (e.g.
``ECNET_QR_TTL_SECONDS`` for ``ecnet-node`` processes), else the default below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from node.settings import read_settings

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
    def from_config(
        cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> QrSettings:
        return read_settings(cls, "qr", extra, environ, key_prefix="qr_")
