"""The SQL of :mod:`node.storage`, written for SQLite, as PostgreSQL runs it.

Every query of the ``q_*`` functions and every migration is written once, in SQLite's
dialect, and a PostgreSQL database (:mod:`node.storage.postgres`) runs it through the
two functions here, each statement translated once and kept (the translation is a
function of the text alone):

* :func:`query` for what a connection executes: ``?`` placeholders become ``%s`` (and a
  literal ``%`` is doubled), ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``,
  ``INSERT OR REPLACE`` an upsert on the table's primary key, the two-argument scalar
  ``max(a, b)`` / ``min(a, b)`` become ``GREATEST`` / ``LEAST``; ``rowid`` is ``ctid``
  (the physical row: a batch of rows a ``SELECT`` found, deleted or updated in the same
  transaction) except in a final ``ORDER BY``, where it is the ``rowid`` column below;
  the highest key an ``AUTOINCREMENT`` table gave (``sqlite_sequence``) is the last
  value of its identity column's sequence.
* :func:`script` for a migration's DDL: ``INTEGER`` is 64-bit (``BIGINT``), as SQLite's
  is; ``BLOB`` is ``BYTEA`` and ``x'…'`` a ``bytea`` literal; ``AUTOINCREMENT`` keys are
  identity columns; a table with a rowid in SQLite (not ``WITHOUT ROWID``, no ``INTEGER
  PRIMARY KEY``) gets a ``rowid`` identity column, numbered in insertion order and kept
  by an ``UPDATE`` as SQLite's is (an ``ORDER BY`` breaks ties by it), but a partitioned
  table and its partitions (PostgreSQL's own DDL) get none; ``WITHOUT ROWID`` is
  dropped; and the tables of one script are created in the order of their foreign keys
  (SQLite accepts a reference to a table created later in the same script, PostgreSQL
  does not).

What does not translate by text is written portably at its source instead (an upsert's
``SET`` names the table's columns as ``table.column``; a truth value added to a number is
a ``CASE``), and what differs in meaning has a per-dialect body in its migration
(``run_script(..., postgresql=...)``: the audit log's triggers, a date computed in SQL).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

__all__ = ["query", "script", "split_statements", "UnsupportedSql"]


class UnsupportedSql(ValueError):
    """A statement that PostgreSQL cannot be given by translation (a bug to fix at its
    source: write it portably)."""


# Placeholders and literal percent signs, outside string literals: psycopg's %s, %%.
_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\?|%")
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_OR_REPLACE = re.compile(
    r"\bINSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE | re.DOTALL
)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
# max(a, b) / min(a, b) with exactly two arguments and no parenthesis inside: the scalar
# functions of SQLite (the aggregates take one argument).
_SCALAR_MAX = re.compile(r"\b(max|min)\(([^(),]+),([^(),]+)\)", re.IGNORECASE)
_ROWID = re.compile(r"\browid\b", re.IGNORECASE)
# The highest value an AUTOINCREMENT key ever took: on PostgreSQL, its identity sequence's.
_SQLITE_SEQUENCE = re.compile(
    r"SELECT\s+seq\s+FROM\s+sqlite_sequence\s+WHERE\s+name\s*=\s*'(\w+)'", re.IGNORECASE
)
_ORDER_BY = re.compile(r"\bORDER\s+BY\b[^()]*$", re.IGNORECASE)


def _params(sql: str) -> str:
    def sub(m: re.Match[str]) -> str:
        text = m.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return text.replace("%", "%%")

    return _QUOTED_OR_MARK.sub(sub, sql)


def _before_returning(sql: str, clause: str) -> str:
    """``sql`` with ``clause`` added at the end of the INSERT, before any RETURNING."""
    body = sql.rstrip().rstrip(";")
    m = _RETURNING.search(body)
    if m is None:
        return f"{body} {clause}"
    return f"{body[: m.start()]}{clause} {body[m.start() :]}"


@lru_cache(maxsize=4096)
def _query(sql: str, keys: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    out = sql
    if _OR_IGNORE.search(out):
        out = _before_returning(_OR_IGNORE.sub("INSERT INTO", out), "ON CONFLICT DO NOTHING")
    m = _OR_REPLACE.search(out)
    if m is not None:
        table = m.group(1)
        pk = dict(keys).get(table)
        if not pk:
            raise UnsupportedSql(f"INSERT OR REPLACE into {table}, whose primary key is unknown")
        columns = [c.strip() for c in m.group(2).split(",")]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in pk)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        out = _before_returning(
            out[: m.start()] + f"INSERT INTO {table} ({m.group(2)})" + out[m.end() :],
            f"ON CONFLICT ({', '.join(pk)}) {action}",
        )
    out = _SQLITE_SEQUENCE.sub(
        lambda m: (
            "SELECT v.seq FROM (SELECT pg_sequence_last_value("
            f"pg_get_serial_sequence('{m.group(1)}', a.attname)) AS seq FROM pg_attribute a "
            f"WHERE a.attrelid = '{m.group(1)}'::regclass AND a.attidentity <> '') v "
            "WHERE v.seq IS NOT NULL"
        ),
        out,
    )
    out = _SCALAR_MAX.sub(
        lambda m: (
            f"{'GREATEST' if m.group(1).lower() == 'max' else 'LEAST'}({m.group(2)},{m.group(3)})"
        ),
        out,
    )
    order = _ORDER_BY.search(out)
    if order is None:
        out = _ROWID.sub("ctid", out)
    else:  # the insertion order (the rowid column) in ORDER BY; the physical row elsewhere
        out = _ROWID.sub("ctid", out[: order.start()]) + out[order.start() :]
    return _params(out)


def query(sql: str, primary_keys: Mapping[str, tuple[str, ...]]) -> str:
    """``sql`` (SQLite's dialect, ``?`` placeholders) as psycopg runs it on PostgreSQL;
    ``primary_keys``: each table's primary key columns, for ``INSERT OR REPLACE``."""
    keys = tuple(sorted(primary_keys.items())) if "REPLACE" in sql.upper() else ()
    return _query(sql, keys)


# -- DDL ----------------------------------------------------------------------------------
_DDL: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    (re.compile(r"\bx'([0-9a-fA-F]*)'"), lambda m: f"'\\x{m.group(1)}'::bytea"),
    (re.compile(r"\)\s*WITHOUT\s+ROWID\b", re.IGNORECASE), ")"),
)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_ON_TABLE = re.compile(r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+\w+\s+ON\s+(\w+)", re.IGNORECASE)
_REFERENCES = re.compile(r"\bREFERENCES\s+(\w+)", re.IGNORECASE)


def split_statements(text: str) -> list[str]:
    """The statements of a script (``;`` outside quotes and dollar-quoted bodies ends
    one), comments dropped."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if text.startswith(quote, i):
                current.append(quote)
                i += len(quote)
                quote = None
                continue
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch == "'":
            quote = "'"
        elif text.startswith("$$", i):
            quote = "$$"
            current.append("$$")
            i += 2
            continue
        elif ch == ";":
            statement = "".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    rest = "".join(current).strip()
    if rest:
        statements.append(rest)
    return statements


def _ordered(statements: list[str]) -> list[str]:
    """CREATE TABLEs after the tables of the same script they reference, each table's
    indexes after it; otherwise the script's order."""
    created = {}
    for s in statements:
        m = _CREATE_TABLE.match(s)
        if m:
            created[m.group(1).lower()] = s

    def needs(s: str) -> set[str]:
        m = _CREATE_TABLE.match(s)
        if m:
            own = m.group(1).lower()
            return {t.lower() for t in _REFERENCES.findall(s)} & set(created) - {own}
        m = _ON_TABLE.match(s)
        return {m.group(1).lower()} & set(created) if m else set()

    done: set[str] = set()
    out: list[str] = []
    pending = list(statements)
    while pending:
        for i, s in enumerate(pending):
            if needs(s) <= done:
                out.append(s)
                m = _CREATE_TABLE.match(s)
                if m:
                    done.add(m.group(1).lower())
                del pending[i]
                break
        else:
            raise UnsupportedSql("tables that reference each other in one migration")
    return out


_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.IGNORECASE)
_INTEGER_KEY = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.IGNORECASE)
# A partitioned table or a partition: PostgreSQL's own, written for it (a migration's
# ``postgresql`` body), whose keys the body chose.
_PARTITIONED = re.compile(r"\bPARTITION\s+(?:BY|OF)\b", re.IGNORECASE)


def _with_rowid(statement: str) -> str:
    if (
        not _CREATE_TABLE.match(statement)
        or _PARTITIONED.search(statement)
        or _WITHOUT_ROWID.search(statement)
        or _INTEGER_KEY.search(statement)
    ):
        return statement
    end = statement.rstrip().rindex(")")
    return f"{statement[:end].rstrip()},\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY\n)"


def script(text: str) -> list[str]:
    """A migration's SQLite DDL as PostgreSQL statements, in an order it accepts."""
    statements = []
    for statement in split_statements(text):
        statement = _with_rowid(statement)
        for pattern, replacement in _DDL:
            statement = pattern.sub(replacement, statement)
        statements.append(statement)
    return _ordered(statements)
