"""Query plans: which statements would read a whole table that grows with the registry or
the traffic (``EXPLAIN QUERY PLAN``), so that a call stays O(log n) as the country's
registry grows. Used by the query-plan test of the scale bench (tests/test_scale.py),
which runs the hot flows at real nodes and checks every statement they executed.
"""

from __future__ import annotations

import re
import sqlite3

__all__ = ["BOUNDED", "full_scans", "plan_of"]

# Tables whose size does not grow with persons, vouchers or transactions: a scan of one
# costs the same at ten thousand persons as at a billion. (node_directory: one row per
# province; channels: tens; the rest: one row per key or per peer.)
BOUNDED = frozenset(
    {
        "meta",
        "channels",
        "channel_status",
        "node_directory",
        "delivery",
        "inbox_position",
        "_sqlite_migrations",
        "sqlite_master",
        "sqlite_schema",
    }
)

_SCAN = re.compile(r"^SCAN (?:TABLE )?(\w+)")
# "FROM outbox o", "JOIN channels AS c": a plan names a table by its alias
_ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)\s+(?:AS\s+)?(\w+)", re.IGNORECASE)
_KEYWORDS = frozenset(
    {
        "WHERE",
        "JOIN",
        "ON",
        "USING",
        "ORDER",
        "GROUP",
        "LIMIT",
        "LEFT",
        "INNER",
        "CROSS",
        "NATURAL",
        "SET",
        "VALUES",
        "UNION",
        "HAVING",
        "AS",
    }
)


def plan_of(conn: sqlite3.Connection, sql: str) -> list[str]:
    """The detail lines of ``EXPLAIN QUERY PLAN sql`` (the statement is not run)."""
    return [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


def full_scans(conn: sqlite3.Connection, sql: str, bounded: frozenset[str] = BOUNDED) -> list[str]:
    """The plan lines of ``sql`` that read a whole table, or a whole index of one, not in
    ``bounded``: every ``SCAN`` (a ``SEARCH`` by key or range does not count, nor does a
    scan of a subquery's result or of a constant row)."""
    aliases: dict[str, str] = {
        alias: table for table, alias in _ALIAS.findall(sql) if alias.upper() not in _KEYWORDS
    }
    found = []
    for line in plan_of(conn, sql):
        m = _SCAN.match(line)
        if m is None or line.startswith("SCAN CONSTANT ROW"):
            continue  # a subquery's result ("SCAN (subquery-1)") or a row of constants
        table = aliases.get(m.group(1), m.group(1))
        if table in bounded:
            continue
        found.append(line)
    return found
