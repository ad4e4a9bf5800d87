"""Seeding a national database with the synthetic population, channels and terminals.

Runs before the national node starts, through the national storage layer, in chunks
of one transaction each, with a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from node.clock import SystemEntropy
from node.domain.channelsig import (
    ensure_key,
    key_file,
    load_sm4_key,
    sm4_key_file,
    sm4_key_for,
    write_sm4_key,
)
from node.population import enrolled_face_template, generate, sample_channels, sample_terminals
from node.storage.national import ChannelRow, NationalSeeder, PersonSeed, TerminalRow
from node.vault import NodeKeys, load_master_key

__all__ = ["seed_national", "SeedReport"]

CHUNK = 20_000


class SeedReport:
    def __init__(self) -> None:
        self.persons = 0
        self.skipped_persons = False
        # Persons already in the registry when seeding was skipped (it is never reseeded).
        self.existing_persons = 0
        self.terminals = 0
        # (orgId, terminal number) of every registered terminal, for their certificates.
        self.registered: list[tuple[str, str]] = []
        self.seconds = 0.0

    @property
    def rate(self) -> float:
        return self.persons / self.seconds if self.seconds else 0.0


def keep_sm4_key(path: Path, key: bytes) -> None:
    """Write a channel's SM4 key to ``path`` unless it holds that key already."""
    try:
        if load_sm4_key(path) == key:
            return
    except ValueError:
        pass
    write_sm4_key(path, key)


def seed_national(
    db_path: Path,
    population: int,
    seed: int,
    provinces: list[str],
    progress: Callable[[int], None] | None = None,
    master_key: Path | None = None,
    pki: Path | None = None,
    db: str | None = None,
) -> SeedReport:
    """Seed persons once (an existing registry is kept), channels, and the terminals of
    any province that has none yet. The face templates are sealed under the national
    node's master key (``master_key``, by default ``master.key`` beside the database,
    the node's own default; made if missing, ``node.vault``). Each seeded channel signs
    its calls with its own SM2 key, kept in ``pki/channels/<APPID>.sign.key`` (``pki``:
    by default ``DIR/pki`` for a database in ``DIR/national/``; made if missing), and
    encrypts its fields and envelopes with the SM4 key national derives for it, kept
    beside it as ``<APPID>.sm4.key`` (what the approval answer gives a channel).
    ``db``: national's PostgreSQL URL (``ecnet-node --db``) when its data is not the SQLite
    file ``db_path``, whose folder still holds the master key."""
    report = SeedReport()
    db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entropy = SystemEntropy()
    keys = NodeKeys(load_master_key(master_key or db_path.parent / "master.key", entropy), entropy)
    store = NationalSeeder(db or db_path, keys)
    try:
        now_ms = int(time.time() * 1000)
        pki = pki or db_path.parent.parent / "pki"
        store.upsert_channels(
            (
                ChannelRow(
                    c.channel_id,
                    c.name,
                    c.kind,
                    c.status,
                    c.public_key_hex or ensure_key(key_file(pki, c.channel_id)).public_key.hex(),
                    scopes=c.scopes,
                )
                for c in sample_channels()
            ),
            now_ms,
        )
        seeded = {c.channel_id for c in sample_channels()}
        for row in store.channels():
            if row.channel_id in seeded and key_file(pki, row.channel_id).exists():
                keep_sm4_key(
                    sm4_key_file(pki, row.channel_id),
                    sm4_key_for(keys.master, row.channel_id, row.key_version),
                )
        existing = store.counts()["persons"]
        if existing == 0:
            start = time.perf_counter()
            # The rows NationalSeeder.insert_persons takes (column name -> value).
            chunk: list[PersonSeed] = []
            for p in generate(population, seed, provinces):
                chunk.append(
                    {
                        "user_name": p.user_name,
                        "id_type": p.id_type,
                        "id_no": p.id_no,
                        "gender": p.gender,
                        "birthday": p.birthday,
                        "nationality": p.nationality,
                        "phone": p.phone,
                        "face_template": enrolled_face_template(seed, p.id_no),
                        "insured": [(r.insu_org, r.insu_type) for r in p.insured],
                    }
                )
                if len(chunk) == CHUNK:
                    report.persons += store.insert_persons(chunk, now_ms)
                    chunk = []
                    if progress:
                        progress(report.persons)
            if chunk:
                report.persons += store.insert_persons(chunk, now_ms)
                if progress:
                    progress(report.persons)
            report.seconds = time.perf_counter() - start
            store.set_meta("population", f"{population}")
            store.set_meta("population_seed", f"{seed}")
            store.set_meta("population_provinces", ",".join(provinces))
        else:
            report.skipped_persons = True
            report.existing_persons = existing
        missing = [p for p in provinces if p not in store.terminal_provinces()]
        if missing:
            report.terminals = store.insert_terminals(
                TerminalRow(
                    t.terminal_id,
                    t.province,
                    t.org_id,
                    t.org_name,
                    t.name,
                    t.purpose,
                    t.version,
                    t.developer,
                    t.registered_on,
                    t.mac,
                )
                for t in sample_terminals(missing, seed)
            )
        report.registered = [(t.org_id, t.terminal_id) for t in store.registered_terminals()]
    finally:
        store.close()
    return report
