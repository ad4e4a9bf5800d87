"""What the scan and settlement scenarios share: rows to wait for in a province's
database, and a pool of single-use items (codes, tokens) prepared before measuring."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench.env import Params
from node.clock import SystemEntropy
from node.vault import NodeKeys, load_master_key

__all__ = ["wait_for_rows", "pool", "pool_seconds"]

T = TypeVar("T")


def node_keys(db: Path) -> NodeKeys:
    """The keys of the node whose database is ``db``, from its master key beside it (the
    node's default, ``node.vault``): the bench writes pools into a node's database as
    the node would, so it finds authorizations by their keyed hashes."""
    entropy = SystemEntropy()
    return NodeKeys(load_master_key(db.parent / "master.key", entropy), entropy)


def wait_for_rows(
    db: Path, sql: str, params: Sequence[object], want: int, deadline: float, what: str
) -> list[tuple[Any, ...]]:
    """``sql``'s rows once there are ``want`` of them (delivery to a province takes a
    moment); RuntimeError at ``deadline`` (``time.monotonic()``)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        while True:
            rows = conn.execute(sql, params).fetchall()
            if len(rows) >= want:
                return rows
            if time.monotonic() > deadline:
                raise RuntimeError(f"{db.stem} holds {len(rows)} of {want} {what}")
            time.sleep(0.1)
    finally:
        conn.close()


def pool_seconds(params: Params) -> float:
    """Seconds of calls a pool prepared in a setup must last (``params``: a
    :class:`bench.env.Params`): the warm-up and window of every round, plus 2."""
    return float(params.rounds * (params.seconds + params.warmup) + 2)


def pool(items: Iterable[T], what: str, knob: str) -> Callable[[], T]:
    """The next prepared item on each call; a clear error when they run out."""
    pending = iter(items)

    def take() -> T:
        item = next(pending, None)
        if item is None:
            raise RuntimeError(f"the pool of prepared {what} ran out; raise {knob}")
        return item

    return take
