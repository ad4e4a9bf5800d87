"""Synchronous bulk access for seeding a national database before its node starts
(:class:`NationalSeeder`, used by ``cli/seed.py``): persons, channels, terminals and
the ``meta`` values that record what was seeded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from node.storage.db import count_rows, open_database
from node.storage.meta import q_meta_get, q_meta_set
from node.storage.migrations.national import MIGRATIONS
from node.storage.national.channels import (
    ChannelRow,
    TerminalRow,
    q_insert_terminals,
    q_list_channels,
    q_list_terminals,
    q_terminal_provinces,
    q_upsert_channels,
)
from node.storage.national.registry import PersonSeed, q_insert_persons
from node.storage.national.store import COUNTED_TABLES
from node.storage.secrets import FACE_LABEL, q_protect_national
from node.vault import NodeKeys

__all__ = ["NationalSeeder"]


class NationalSeeder:
    """Synchronous bulk access for seeding a national database before its node starts."""

    def __init__(self, path: Path | str, keys: NodeKeys | None = None) -> None:
        """``keys``: the national node's (``node.vault``); with them the face templates
        are sealed as they are inserted, and the database refuses another master key
        (``WrongMasterKey``). Without, raw templates are sealed at the node's start."""
        self.db = open_database(path, MIGRATIONS, readers=1)
        self.db.open_sync()
        self.keys = keys
        if keys is not None:
            self.db.write_sync(q_protect_national, keys, self.db.location)

    def close(self) -> None:
        self.db.close_sync()

    def counts(self) -> dict[str, int]:
        return self.db.read_sync(count_rows, COUNTED_TABLES)

    def meta(self, key: str) -> str | None:
        return self.db.read_sync(q_meta_get, key)

    def set_meta(self, key: str, value: str) -> None:
        self.db.write_sync(q_meta_set, key, value)

    def insert_persons(self, people: Sequence[PersonSeed], now_ms: int) -> int:
        keys = self.keys
        if keys is not None:
            sealed: list[PersonSeed] = []
            for p in people:
                face = p.get("face_template")
                if face is not None:
                    p = {**p, "face_template": None, "face_sealed": keys.seal(face, FACE_LABEL)}
                sealed.append(p)
            people = sealed
        return self.db.write_sync(q_insert_persons, people, now_ms)

    def upsert_channels(self, channels: Iterable[ChannelRow], now_ms: int) -> None:
        self.db.write_sync(q_upsert_channels, list(channels), now_ms)

    def channels(self) -> list[ChannelRow]:
        """Every channel as the registry holds it (the key versions seeding made)."""
        return self.db.read_sync(q_list_channels)

    def insert_terminals(self, terminals: Iterable[TerminalRow]) -> int:
        return self.db.write_sync(q_insert_terminals, list(terminals))

    def terminal_provinces(self) -> set[str]:
        return self.db.read_sync(q_terminal_provinces)

    def registered_terminals(self) -> list[TerminalRow]:
        """Every terminal not revoked, by number."""
        rows = self.db.read_sync(q_list_terminals, "", 1_000_000, "")
        return [t for t in rows if t.revoked_at is None]
