"""Tunables of a node's database (``ECNET_DB_<NAME>``; see :mod:`node.settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from node.config import ConfigError
from node.settings import read_settings
from node.storage.db import BUSY_TIMEOUT_MS, CACHE_MIB, SYNCHRONOUS

__all__ = ["StorageSettings"]


@dataclass(frozen=True)
class StorageSettings:
    # PRAGMA synchronous of the writer: "full" (the default) syncs the WAL at every
    # commit, so what a node acknowledged (an activation, a settlement) survives a power
    # loss or an OS crash, not only a crash of the process; "normal" skips that sync
    # (about 10 times cheaper per commit here) and keeps kill -9 safety only.
    synchronous: str = "full"
    # How long a call waits for the database's write lock held by someone else before
    # it answers -3 (node.storage.db.BUSY_TIMEOUT_MS says why 5 s).
    busy_timeout_ms: int = BUSY_TIMEOUT_MS
    # 1: PRAGMA quick_check at start, a damaged database is refused (one line, exit 2);
    # 0 skips it (it reads every page: about a second per few hundred MB).
    quick_check: int = field(default=1, metadata={"zero_ok": True})
    # SQLite's page cache of each of the node's connections, in MiB (node.storage.db.CACHE_MIB
    # says why 64).
    cache_mib: int = CACHE_MIB

    @classmethod
    def from_config(
        cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> StorageSettings:
        settings = read_settings(cls, "db", extra, environ, key_prefix="db_")
        if settings.synchronous.upper() not in SYNCHRONOUS:
            raise ConfigError(
                f"db setting db_synchronous={settings.synchronous!r} is not one of "
                f"{', '.join(s.lower() for s in SYNCHRONOUS)}"
            )
        return settings
