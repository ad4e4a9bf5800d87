"""A provincial node's storage: the voucher cache (and, in later migrations, codes,
tokens and the settlement ledger). All SQL of the provincial role lives here."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlite_utils.migrations import Migrations

from node.storage.db import Database, run_script

__all__ = ["ProvincialStore", "MIGRATIONS"]

MIGRATIONS = Migrations("ecnet-provincial")


@MIGRATIONS()
def m001_voucher_cache(db: Any) -> None:
    """The voucher cache: persons insured here (pushed) and visitors (fetched)."""
    run_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE voucher_cache (
            ec_card_no      TEXT PRIMARY KEY,
            id_type         TEXT NOT NULL,
            id_no           TEXT NOT NULL,
            user_name       TEXT NOT NULL,
            gender          TEXT NOT NULL,
            birthday        TEXT NOT NULL,
            nationality     TEXT NOT NULL,
            -- JSON list of {insuOrg, insuType}.
            insured_regions TEXT NOT NULL,
            state           INTEGER NOT NULL,
            version         INTEGER NOT NULL,
            -- 'pushed' (insured here, delivered by national) or 'fetched' (a visitor).
            source          TEXT NOT NULL CHECK (source IN ('pushed', 'fetched')),
            updated_at      INTEGER NOT NULL
        );
        CREATE INDEX voucher_cache_by_person ON voucher_cache (id_type, id_no);
        """
    )


COUNTED_TABLES = ("voucher_cache",)


def _q_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES}


class ProvincialStore:
    """Coroutine access to a provincial database."""

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path, MIGRATIONS)

    async def open(self) -> list[str]:
        return await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def counts(self) -> dict[str, int]:
        return await self.db.read(_q_counts)
