"""A registry of N persons for ``make bench-scale``: national's database and those of the
provinces whose nodes the scale bench runs (31 and 44), loaded in bulk and cached.

What is written is what the nodes themselves would hold after every person of
``node.population.generate(N, seed, provinces)`` was registered and most of them
activated on the official channel, and national had pushed each activated voucher to
its insured provinces:

* national (``national.db``): every person with their regions and their face template
  sealed under national's master key (as ``cli.seed`` seeds them); for an activated
  person (:data:`ACTIVATED_SHARE` of those after the first :func:`reserved`, drawn from
  the seed) a voucher in state 2 with its real voucher number (``node.domain.voucher_no``
  under national's voucher-number key, made here and kept sealed in ``meta`` as the
  node keeps it) and one official-channel authorization (its keyed hash and its sealed
  digest, ``node.vault``);
* provinces 31 and 44 (``provincial-NN.db``): for each activated person insured in the
  province, the pushed voucher (``voucher_cache``) and its authorization
  (``channel_auths``, keyed with the province's own master key).

The first :func:`reserved` persons are never activated: the bench activates them
(``generate`` of fewer persons is a prefix of it of more, so every N has the same
ones). Authorization codes are derived from (seed, person index) so the bench can
present the code of any seeded holder (:func:`auth_code`); the manifest names
:data:`HOLDERS` holders insured in 44 only, spread evenly over the registry, whose
codes the scan and settlement scenarios use. Every activated voucher carries the same
password hash (:data:`PASSWORD`, one salt, the node's default 100,000 iterations):
hashing millions of passwords is not what is measured, and a hash row is as large
either way.

Loading: rows are prepared in order (:func:`prepare`, deterministic in (N, seed)),
sealed and hashed, and inserted with ``executemany`` in transactions of
:data:`CHUNK` persons, on connections set for a one-off load (no journal, no sync,
an exclusive lock, a large page cache); the files go back to WAL mode at the end.
The result is cached in ``.bench/scale/`` under a key of N, the seed and the schema
version (every migration name of both roles and :data:`SEEDER_VERSION`), written to a
temporary folder and renamed when complete, so an interrupted load is never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.env import DEFAULT_PROVINCES, SEED
from cli.seed import seed_national
from node.clock import SystemEntropy
from node.domain.channelsig import ensure_key
from node.domain.sm import password_hash, sm3, sm4_encrypt_cbc
from node.domain.voucher_no import voucher_number
from node.population import SyntheticPerson, enrolled_face_template, generate, sample_channels
from node.storage.db import Database
from node.storage.migrations.national import MIGRATIONS as NATIONAL_MIGRATIONS
from node.storage.migrations.provincial import MIGRATIONS as PROVINCIAL_MIGRATIONS
from node.storage.national.registry import home_province
from node.storage.secrets import DIGEST_LABEL, FACE_LABEL, q_protect_provincial, q_sealed_secret
from node.vault import NodeKeys, code_digest, load_master_key
from node.voucher.context import KEY_META

__all__ = [
    "ACTIVATED_SHARE",
    "CACHE_ROOT",
    "HOLDERS",
    "PASSWORD",
    "SCALE_PROVINCES",
    "SEEDER_VERSION",
    "Prepared",
    "Seeded",
    "auth_code",
    "cache_key",
    "ensure_seeded",
    "find_holders",
    "prepare",
    "reserved",
    "schema_version",
]

# Bump when what the loader writes changes (the cache key holds it).
SEEDER_VERSION = 1
CACHE_ROOT = Path(__file__).resolve().parent.parent / ".bench" / "scale"
# 1.2 billion activated vouchers of 1.36 billion persons (issue 16).
ACTIVATED_SHARE = 1.2e9 / 1.36e9
RESERVED = 2_000  # persons never activated at seeding: the activation scenario's
HOLDERS = 64
PASSWORD = "135792"  # bench.lifecycle.PASSWORD: one password for every seeded voucher
PASSWORD_ITERATIONS = 100_000  # the node's default (node.voucher.settings)
CHUNK = 100_000
OFFICIAL = sample_channels()[0]  # NHSA-OFFICIAL
SCALE_PROVINCES = ("31", "44")  # the provinces whose nodes the scale bench runs
HOLDER_PROVINCE = "44"
# Every seeded row is stamped with this time (2025-12-01 00:00 Beijing), so a load is
# the same whenever it runs.
SEEDED_AT_MS = 1_764_518_400_000


def reserved(n: int) -> int:
    """How many of the first persons are left unactivated for the bench to activate."""
    return min(RESERVED, n // 2)


def auth_code(seed: int, index: int) -> str:
    """The official authorization code of seeded person ``index``: 32 uppercase hex
    digits, as national makes them, derived from the seed (bench data only)."""
    return (
        hashlib.blake2b(f"ecnet/bench-scale/{seed}/{index}".encode(), digest_size=16)
        .hexdigest()
        .upper()
    )


def schema_version() -> str:
    """A short digest of every migration name of both roles and the loader's version."""
    names = [m.name for m in NATIONAL_MIGRATIONS._migrations] + [
        m.name for m in PROVINCIAL_MIGRATIONS._migrations
    ]
    return hashlib.sha256(f"{SEEDER_VERSION}|{'|'.join(names)}".encode()).hexdigest()[:12]


def cache_key(n: int, seed: int) -> str:
    return f"n{n}-s{seed}-{schema_version()}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """One person as the loader writes them: index (0-based; person_id is index + 1),
    the person, whether their voucher is activated and, if so, their code."""

    index: int
    person: SyntheticPerson
    activated: bool
    auth_code: str  # "" when not activated


def prepare(
    n: int, seed: int = SEED, provinces: list[str] | tuple[str, ...] = tuple(DEFAULT_PROVINCES)
) -> Iterator[Prepared]:
    """The persons of the load in order; deterministic in (n, seed, provinces), and the
    first ``k`` of ``prepare(n)`` are those of ``prepare(m)`` for ``k <= min(n, m)``
    when both reserve the same count (every n of at least 4,000)."""
    draws = random.Random(f"ecnet/bench-scale/activation/{seed}")
    keep = reserved(n)
    for i, p in enumerate(generate(n, seed, list(provinces))):
        activated = draws.random() < ACTIVATED_SHARE and i >= keep
        yield Prepared(i, p, activated, auth_code(seed, i) if activated else "")


@dataclass(frozen=True)
class Seeded:
    """A cached load: where its files are and what the manifest says."""

    folder: Path
    manifest: dict[str, Any]
    cached: bool  # found in the cache (no load in this run)

    @property
    def n(self) -> int:
        return int(self.manifest["persons"])

    @property
    def holders(self) -> list[str]:
        """The official authorization codes of the holders insured in 44 only."""
        return [h["auth_code"] for h in self.manifest["holders"]]

    def national_dir(self) -> Path:
        return self.folder / "national"

    def province_dir(self, province: str) -> Path:
        return self.folder / f"p{province}"

    def db_path(self, which: str) -> Path:
        if which == "national":
            return self.national_dir() / "national.db"
        return self.province_dir(which) / f"provincial-{which}.db"


def _bulk(path: Path, cache_mib: int) -> sqlite3.Connection:
    """A connection set for a one-off load: no journal, no sync, the lock held."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


def _finish(conn: sqlite3.Connection) -> None:
    """Back to what a node opens: WAL mode, normal locking; then closed."""
    conn.execute("PRAGMA locking_mode=NORMAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


class _VoucherNumbers:
    """node.domain.voucher_no.voucher_number with its IV computed once (the same bytes:
    checked against it on the first person)."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.iv = sm3(b"ecnet/voucher-no/iv" + key)[:16]
        self.checked = False

    def __call__(self, p: SyntheticPerson) -> str:
        plain = f"{p.id_type}|{p.id_no.upper()}|{p.user_name.strip()}".encode()
        number = sm3(sm4_encrypt_cbc(self.key, self.iv, plain)).hex().upper()
        if not self.checked:
            if number != voucher_number(p.id_type, p.id_no, p.user_name, self.key):
                raise RuntimeError("the loader's voucher number differs from node.domain's")
            self.checked = True
        return number


def _open_keys(master: Path) -> NodeKeys:
    entropy = SystemEntropy()
    return NodeKeys(load_master_key(master, entropy), entropy)


def load(
    folder: Path,
    n: int,
    seed: int = SEED,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Write the databases of a load of ``n`` persons into ``folder`` (empty); the
    manifest (also written as ``folder/seed.json``)."""
    t_start = time.perf_counter()
    provinces = list(DEFAULT_PROVINCES)
    national_db = folder / "national" / "national.db"
    # The channels' signing keys in the load's own pki/channels (made first, so that an
    # ECNET_CHANNEL_KEYS elsewhere is not used), then channels, terminals and meta by
    # cli.seed's own path.
    for channel in sample_channels():
        ensure_key(folder / "pki" / "channels" / f"{channel.channel_id}.sign.key")
    seed_national(national_db, 0, seed, provinces)
    nkeys = _open_keys(national_db.parent / "master.key")
    db = Database(national_db, NATIONAL_MIGRATIONS, readers=1)
    db.open_sync()
    try:
        voucher_key = db.write_sync(
            q_sealed_secret, nkeys, KEY_META, nkeys.entropy.token_bytes(16), KEY_META
        )
    finally:
        db.close_sync()
    pkeys: dict[str, NodeKeys] = {}
    pdbs: dict[str, Path] = {}
    for prov in SCALE_PROVINCES:
        pdir = folder / f"p{prov}"
        pdir.mkdir(parents=True, mode=0o700)
        path = pdir / f"provincial-{prov}.db"
        pkeys[prov] = _open_keys(pdir / "master.key")
        pdb = Database(path, PROVINCIAL_MIGRATIONS, readers=1)
        pdb.open_sync()
        try:
            pdb.write_sync(q_protect_provincial, pkeys[prov], str(path))
        finally:
            pdb.close_sync()
        pdbs[prov] = path

    hashed_salt = hashlib.blake2b(
        f"ecnet/bench-scale/salt/{seed}".encode(), digest_size=16
    ).digest()
    hashed = password_hash(PASSWORD, hashed_salt, PASSWORD_ITERATIONS)
    numbers = _VoucherNumbers(voucher_key)
    now = SEEDED_AT_MS
    official, official_name = OFFICIAL.channel_id, OFFICIAL.name

    nconn = _bulk(national_db, 3072)
    pconns = {prov: _bulk(path, 1024) for prov, path in pdbs.items()}
    # holders: the first activated person insured in 44 only at or after each of HOLDERS
    # evenly spaced positions (past the reserved ones)
    keep = reserved(n)
    targets = [keep + (n - keep) * k // HOLDERS for k in range(HOLDERS)]
    holders: list[dict[str, Any]] = []
    counts = {"persons": 0, "regions": 0, "vouchers": 0, "authorizations": 0}
    pcounts = {prov: 0 for prov in SCALE_PROVINCES}

    persons: list[tuple[Any, ...]] = []
    regions: list[tuple[Any, ...]] = []
    vouchers: list[tuple[Any, ...]] = []
    auths: list[tuple[Any, ...]] = []
    cache_rows: dict[str, list[tuple[Any, ...]]] = {p: [] for p in SCALE_PROVINCES}
    pauth_rows: dict[str, list[tuple[Any, ...]]] = {p: [] for p in SCALE_PROVINCES}

    def flush() -> None:
        nconn.execute("BEGIN")
        nconn.executemany(
            "INSERT INTO persons (person_id, user_name, id_type, id_no, gender, birthday, "
            "nationality, phone, face_template, face_sealed, updated_at, province) "
            "VALUES (?,?,?,?,?,?,?,?,NULL,?,?,?)",
            persons,
        )
        nconn.executemany(
            "INSERT INTO insured_regions (person_id, insu_org, insu_type, province) "
            "VALUES (?,?,?,?)",
            regions,
        )
        nconn.executemany(
            "INSERT INTO vouchers (ec_card_no, person_id, state, password_hash, password_salt, "
            "password_iterations, failed_attempts, version, created_at, activated_at, "
            "updated_at) VALUES (?,?,2,?,?,?,0,1,?,?,?)",
            vouchers,
        )
        nconn.executemany(
            "INSERT INTO authorizations (code_hash, code_digest, ec_card_no, channel_id, "
            "created_at) VALUES (?,?,?,?,?)",
            auths,
        )
        nconn.execute("COMMIT")
        for prov, pconn in pconns.items():
            pconn.execute("BEGIN")
            pconn.executemany(
                "INSERT INTO voucher_cache (ec_card_no, id_type, id_no, user_name, gender, "
                "birthday, nationality, insured_regions, state, version, source, updated_at, "
                "auths_version) VALUES (?,?,?,?,?,?,?,?,2,1,'pushed',?,1)",
                cache_rows[prov],
            )
            pconn.executemany(
                "INSERT INTO channel_auths (code_hash, ec_card_no, channel_id, channel_name, "
                "authorized_at, revoked) VALUES (?,?,?,?,?,0)",
                pauth_rows[prov],
            )
            pconn.execute("COMMIT")
            pcounts[prov] += len(cache_rows[prov])
            cache_rows[prov].clear()
            pauth_rows[prov].clear()
        counts["persons"] += len(persons)
        counts["regions"] += len(regions)
        counts["vouchers"] += len(vouchers)
        counts["authorizations"] += len(auths)
        for rows in (persons, regions, vouchers, auths):
            rows.clear()

    try:
        t_rows = time.perf_counter()
        for item in prepare(n, seed, provinces):
            p, pid = item.person, item.index + 1
            persons.append(
                (
                    pid,
                    p.user_name,
                    p.id_type,
                    p.id_no,
                    p.gender,
                    p.birthday,
                    p.nationality,
                    p.phone,
                    nkeys.seal(enrolled_face_template(seed, p.id_no), FACE_LABEL),
                    now,
                    home_province([r.insu_org for r in p.insured]),
                )
            )
            for r in p.insured:
                regions.append((pid, r.insu_org, r.insu_type, r.insu_org[:2]))
            if item.activated:
                number = numbers(p)
                digest = code_digest(item.auth_code)
                vouchers.append(
                    (number, pid, hashed, hashed_salt, PASSWORD_ITERATIONS, now, now, now)
                )
                auths.append(
                    (
                        nkeys.digest_key(digest),
                        nkeys.seal(bytes.fromhex(digest), DIGEST_LABEL),
                        number,
                        official,
                        now,
                    )
                )
                insured_in = {r.insu_org[:2] for r in p.insured}
                if insured_in & set(SCALE_PROVINCES):
                    snapshot_regions = json.dumps(
                        [{"insuOrg": r.insu_org, "insuType": r.insu_type} for r in p.insured],
                        ensure_ascii=False,
                    )
                    for prov in SCALE_PROVINCES:
                        if prov in insured_in:
                            cache_rows[prov].append(
                                (
                                    number,
                                    p.id_type,
                                    p.id_no,
                                    p.user_name,
                                    p.gender,
                                    p.birthday,
                                    p.nationality,
                                    snapshot_regions,
                                    now,
                                )
                            )
                            pauth_rows[prov].append(
                                (
                                    pkeys[prov].digest_key(digest),
                                    number,
                                    official,
                                    official_name,
                                    now,
                                )
                            )
                if (
                    len(holders) < len(targets)
                    and item.index >= targets[len(holders)]
                    and insured_in == {HOLDER_PROVINCE}
                ):
                    holders.append(
                        {"index": item.index, "ec_card_no": number, "auth_code": item.auth_code}
                    )
            if len(persons) >= CHUNK:
                flush()
                say(f"seeded {counts['persons']:,} of {n:,} persons")
        if persons:
            flush()
        rows_seconds = time.perf_counter() - t_rows
        t_finish = time.perf_counter()
        nconn.execute("BEGIN")
        for key, value in (
            ("population", f"{n}"),
            ("population_seed", f"{seed}"),
            ("population_provinces", ",".join(provinces)),
        ):
            nconn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        nconn.execute("COMMIT")
    finally:
        _finish(nconn)
        for pconn in pconns.values():
            _finish(pconn)
    finish_seconds = time.perf_counter() - t_finish
    manifest: dict[str, Any] = {
        "persons": n,
        "seed": seed,
        "provinces": provinces,
        "scale_provinces": list(SCALE_PROVINCES),
        "schema_version": schema_version(),
        "seeder_version": SEEDER_VERSION,
        "reserved": reserved(n),
        "rows": {**counts, **{f"p{p}_vouchers": c for p, c in pcounts.items()}},
        "holders": holders,
        "seconds": time.perf_counter() - t_start,
        "rows_seconds": rows_seconds,
        "finish_seconds": finish_seconds,
        "persons_per_second": n / rows_seconds if rows_seconds else 0.0,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (folder / "seed.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def find_holders(seeded: Seeded, count: int) -> list[str]:
    """Official authorization codes of up to ``count`` activated persons insured in 44
    only, spread over the whole registry: person indexes drawn evenly past the reserved
    ones, each kept when province 44 holds its code (under 44's own key) for a voucher
    insured in 44 alone. The scan and settlement pools cycle over them, so each call
    reads another person's rows, as a province's traffic does."""
    n = seeded.n
    seed = int(seeded.manifest["seed"])
    keep = reserved(n)
    keys = _open_keys(seeded.province_dir(HOLDER_PROVINCE) / "master.key")
    conn = sqlite3.connect(f"file:{seeded.db_path(HOLDER_PROVINCE)}?mode=ro", uri=True)
    found: list[str] = []
    try:
        # five draws per holder wanted: about a fifth of persons qualify
        draws = min(n - keep, 5 * count)
        for k in range(draws):
            code = auth_code(seed, keep + (n - keep) * k // draws)
            row = conn.execute(
                "SELECT v.insured_regions FROM channel_auths a JOIN voucher_cache v "
                "USING (ec_card_no) WHERE a.code_hash = ?",
                (keys.code_hash(code),),
            ).fetchone()
            if row and {r["insuOrg"][:2] for r in json.loads(row[0])} == {HOLDER_PROVINCE}:
                found.append(code)
                if len(found) == count:
                    break
    finally:
        conn.close()
    return found


def sizes(seeded: Seeded) -> dict[str, int]:
    """Bytes on disk of each database of a load (and its WAL, if any)."""
    out = {}
    for which in ("national", *SCALE_PROVINCES):
        path = seeded.db_path(which)
        wal = Path(f"{path}-wal")
        out[which] = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return out


def ensure_seeded(
    n: int,
    seed: int = SEED,
    cache_root: Path = CACHE_ROOT,
    say: Callable[[str], None] = lambda _m: None,
) -> Seeded:
    """The cached load of ``n`` persons, made first if missing."""
    if n < 100:
        raise ValueError("a scale registry needs at least 100 persons")
    folder = cache_root / cache_key(n, seed)
    manifest_path = folder / "seed.json"
    if manifest_path.exists():
        return Seeded(folder, json.loads(manifest_path.read_text()), cached=True)
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = cache_root / f".{folder.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        say(f"loading a registry of {n:,} persons into {folder} (cached for the next run)")
        manifest = load(tmp, n, seed, say)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Seeded(folder, manifest, cached=False)
