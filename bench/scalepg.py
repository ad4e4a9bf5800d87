"""A loaded national registry (:mod:`bench.scaleseed`'s SQLite file) copied into a
PostgreSQL database, for ``make bench-scale ARGS="--backend postgresql"``.

The database is migrated as a national node migrates it (``node.storage.migrations``),
then every table the SQLite file holds rows in is emptied there and filled with the
file's rows through ``COPY … FROM STDIN`` (psycopg's ``cursor.copy``, the fast path: no
statement per row; the foreign-key triggers off while copying, the file's rows met them
already), the columns both schemas share, in their order; ``person_keys``, which a
trigger on ``persons`` keeps, is filled from the copied persons in one statement. PostgreSQL's own
``rowid`` identity (``node.storage.dialect``) numbers the rows afresh; each
``AUTOINCREMENT`` key's identity sequence is moved past the highest key copied, as a node
that had inserted them would have left it. The sealed columns are copied as they are:
the node opens them with the master key beside the SQLite file (copied into its data
folder as before).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from node.storage.db import open_database
from node.storage.migrations import national as national_migrations

__all__ = ["copy_national"]

BATCH = 10_000  # rows fetched from SQLite at a time


def copy_national(
    source: Path, url: str, say: Callable[[str], None] = lambda _m: None
) -> dict[str, int]:
    """Copy the national SQLite database ``source`` into the empty database at ``url``
    (migrated first); the rows copied, by table."""
    import psycopg

    db = open_database(url, national_migrations.MIGRATIONS, readers=1)
    db.open_sync()
    db.close_sync()
    copied: dict[str, int] = {}
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        with psycopg.connect(url) as dst:
            columns: dict[str, list[str]] = {}
            identity: dict[str, list[str]] = {}
            for table, column, generation in dst.execute(
                "SELECT table_name, column_name, identity_generation "
                "FROM information_schema.columns WHERE table_schema = 'public' "
                "ORDER BY table_name, ordinal_position"
            ):
                if generation == "ALWAYS":  # the rowid PostgreSQL numbers itself
                    continue
                columns.setdefault(table, []).append(column)
                if generation == "BY DEFAULT":
                    identity.setdefault(table, []).append(column)
            tables = [
                r[0]
                for r in src.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            filled = [
                (table, count)
                for table in tables
                if table in columns
                for (count,) in [src.execute(f'SELECT count(*) FROM "{table}"').fetchone()]
                if count
            ]
            # emptied (a fresh database: only what the migrations wrote), filled without the
            # foreign-key triggers (the file's rows satisfied them there: same schema)
            dst.execute("TRUNCATE " + ", ".join(f'"{t}"' for t, _ in filled) + " CASCADE")
            dst.execute("SET session_replication_role = replica")
            for table, count in filled:
                mine = {r[1] for r in src.execute(f'PRAGMA table_info("{table}")')}
                shared = [c for c in columns[table] if c in mine]
                names = ", ".join(f'"{c}"' for c in shared)
                t0 = time.perf_counter()
                rows = src.execute(f'SELECT {names} FROM "{table}"')
                with dst.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    while batch := rows.fetchmany(BATCH):
                        for row in batch:
                            copy.write_row(row)
                for column in identity.get(table, []):
                    if column in shared:
                        dst.execute(
                            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                            f'(SELECT coalesce(max("{column}"), 0) + 1 FROM "{table}"), false)'
                        )
                copied[table] = count
                say(f"{table}: {count:,} rows in {time.perf_counter() - t0:.1f} s")
            if "persons" in copied:  # what persons' trigger keeps (national m020), in one pass
                t0 = time.perf_counter()
                dst.execute(
                    "INSERT INTO person_keys (person_id, id_type, id_no, province) "
                    "SELECT person_id, id_type, id_no, province FROM persons"
                )
                say(f"person_keys: from persons in {time.perf_counter() - t0:.1f} s")
            dst.execute("SET session_replication_role = DEFAULT")
            dst.commit()
            with contextlib.suppress(psycopg.Error):
                dst.autocommit = True
                dst.execute("ANALYZE")
    finally:
        src.close()
    return copied
