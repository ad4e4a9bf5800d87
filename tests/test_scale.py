"""The scale bench (make bench-scale): its seeder, a tiny run, and the query plans of the
hot flows. No timing here: speed is measured by the bench, never asserted."""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from scankit import insured_in
from settlekit import A, item, settle_request, settlement_stub, start_settle_nation, token_for

import node.storage.batch
import node.storage.db
from bench.capacity import Assumptions, Measured, model, render
from bench.plans import full_scans
from bench.scaleseed import (
    SCALE_PROVINCES,
    auth_code,
    cache_key,
    ensure_seeded,
    prepare,
    reserved,
)
from node.clock import SystemEntropy
from node.domain.idno import validate_id
from node.domain.regions import is_pooling_region, province_of
from node.population import enrolled_face_template
from node.storage.secrets import FACE_LABEL
from node.vault import NodeKeys, load_master_key

ROOT = Path(__file__).resolve().parent.parent
SEED = 2019


# -- the seeder ------------------------------------------------------------------------
def _rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def _keys(folder: Path) -> NodeKeys:
    entropy = SystemEntropy()
    return NodeKeys(load_master_key(folder / "master.key", entropy), entropy)


def test_prepared_rows_are_deterministic_and_a_prefix_of_a_larger_load():
    a = list(prepare(4_000, SEED))
    assert a == list(prepare(4_000, SEED))
    assert a[:3_000] == list(prepare(6_000, SEED))[:3_000]
    assert a != list(prepare(4_000, SEED + 1))
    assert not any(p.activated for p in a[: reserved(4_000)])  # kept for the bench
    share = sum(p.activated for p in a[reserved(4_000) :]) / (4_000 - reserved(4_000))
    assert 0.84 < share < 0.92  # 1.2 billion of 1.36 billion
    assert all(p.auth_code == auth_code(SEED, p.index) for p in a if p.activated)


def test_a_load_is_deterministic_valid_and_cached(tmp_path):
    one = ensure_seeded(300, SEED, tmp_path / "a")
    two = ensure_seeded(300, SEED, tmp_path / "b")
    assert not one.cached and ensure_seeded(300, SEED, tmp_path / "a").cached
    assert one.folder.name == cache_key(300, SEED)

    # the same rows, but for the sealed columns (a fresh nonce each, a key of its own)
    for which, sql in (
        (
            "national",
            "SELECT person_id, user_name, id_type, id_no, gender, birthday, phone "
            "FROM persons ORDER BY person_id",
        ),
        ("national", "SELECT * FROM insured_regions ORDER BY person_id, insu_org"),
        ("44", "SELECT id_no, user_name, insured_regions, state FROM voucher_cache ORDER BY id_no"),
    ):
        assert _rows(one.db_path(which), sql) == _rows(two.db_path(which), sql)
    numbers = "SELECT person_id, state FROM vouchers ORDER BY person_id"
    assert _rows(one.db_path("national"), numbers) == _rows(two.db_path("national"), numbers)

    national = one.db_path("national")
    persons = _rows(national, "SELECT person_id, id_type, id_no, face_sealed FROM persons")
    assert len(persons) == 300
    keys = _keys(one.national_dir())
    for _pid, id_type, id_no, sealed in persons:
        assert validate_id(id_type, id_no) is None, id_no  # check digit, birth date, county
        assert keys.open(sealed, FACE_LABEL) == enrolled_face_template(SEED, id_no)
    for (org,) in _rows(national, "SELECT insu_org FROM insured_regions"):
        assert is_pooling_region(org) and province_of(org) in one.manifest["provinces"]
    # the first persons are left for the bench to activate; the others mostly activated
    activated = {pid for pid, _ in _rows(national, numbers)}
    assert not activated & set(range(1, reserved(300) + 1))
    assert len(activated) == one.manifest["rows"]["vouchers"] > 100

    # each holder's code is found at national and at 44, under each node's own key
    assert one.holders
    p44 = _keys(one.province_dir("44"))
    for h in one.manifest["holders"]:
        assert h["auth_code"] == auth_code(SEED, h["index"])
        at_national = keys.code_hash(h["auth_code"])
        at_44 = p44.code_hash(h["auth_code"])
        assert _rows(
            national, f"SELECT ec_card_no FROM authorizations WHERE code_hash = '{at_national}'"
        ) == [(h["ec_card_no"],)]
        assert _rows(
            one.db_path("44"), f"SELECT ec_card_no FROM channel_auths WHERE code_hash = '{at_44}'"
        ) == [(h["ec_card_no"],)]
    # a province holds the vouchers of its insured, and only theirs
    for prov in SCALE_PROVINCES:
        for (regions,) in _rows(one.db_path(prov), "SELECT insured_regions FROM voucher_cache"):
            assert prov in {r["insuOrg"][:2] for r in json.loads(regions)}
    # back in WAL mode, as a node opens it
    assert _rows(national, "PRAGMA journal_mode") == [("wal",)]


def test_a_tiny_scale_run_writes_its_figures(tmp_path):
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.scale",
            "--small",
            "150",
            "--scale",
            "200",
            "--rounds",
            "1",
            "--seconds",  # long enough for an activation to complete inside it, under load
            "0.5",
            "--warmup",
            "0.1",
            "--concurrency",  # short calls: each window holds completed ones
            "4",
            "--cache",
            str(tmp_path / "cache"),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("ECNET_")},
            "ECNET_VOUCHER_PASSWORD_ITERATIONS": "1000",  # activations cheap, here only
        },
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    figures = json.loads(out.read_text())
    assert figures["failures"] == []
    assert [r["persons"] for r in figures["registries"]] == [150, 200]
    for r in figures["registries"]:
        assert r["bytes"]["national"] > 0 and r["bytes"]["44"] > 0
        assert set(r["node_startup_seconds"]) == {"national", "p31", "p44"}
    noop, *rows = figures["scenarios"]
    assert noop["baseline"] and len(rows) == 6
    assert all(r["round_count"] == 1 and r["errors"] == 0 for r in rows)
    flows = [c["flow"] for c in figures["comparisons"]]
    assert [f.split(" ")[0] for f in flows] == ["activation", "routed", "remote"]
    for c in figures["comparisons"]:
        for side in ("small", "large"):
            assert c[side]["calls_per_second"] > 0 and 0 < c[side]["p50_ms"] <= c[side]["p99_ms"]
            assert c[side]["ratio_to_noop"] > 0
        assert c["throughput_large_over_small"] == pytest.approx(
            c["large"]["ratio_to_noop"] / c["small"]["ratio_to_noop"]
        )
        assert c["throughput_large_over_small_paired"] == pytest.approx(
            statistics.median(c["throughput_large_over_small_rounds"])
        )
        assert c["within_10pct"] == (c["throughput_large_over_small_paired"] >= 0.9)
    assert "within 10%" in done.stdout
    # and the capacity model reads it
    model_run = subprocess.run(
        [sys.executable, "-m", "bench.capacity", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert model_run.returncode == 0, model_run.stderr
    assert "replicas" in model_run.stdout and "partitions" in model_run.stdout


# -- query plans -----------------------------------------------------------------------
def test_full_scans_finds_a_scan_by_table_or_alias_and_not_a_search():
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE persons (person_id INTEGER PRIMARY KEY, id_no TEXT UNIQUE, phone TEXT);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
    )
    assert full_scans(conn, "SELECT * FROM persons WHERE id_no = '1'") == []
    assert full_scans(conn, "SELECT * FROM persons WHERE person_id = 1") == []
    assert full_scans(conn, "SELECT * FROM persons WHERE phone = '1'") == ["SCAN persons"]
    assert full_scans(conn, "SELECT p.phone FROM persons p WHERE p.phone = '1'") == ["SCAN p"]
    assert full_scans(conn, "SELECT count(*) FROM persons")  # a whole index is a scan too
    assert full_scans(conn, "SELECT * FROM meta") == []  # a table that does not grow
    assert full_scans(conn, "SELECT 1") == []  # a constant row
    assert full_scans(conn, "SELECT max(n) FROM (SELECT 1 AS n UNION SELECT 2)") == []


@pytest.fixture
def traced(monkeypatch):
    """Every statement each node's connections execute, by database file."""
    seen: dict[str, list[str]] = defaultdict(list)
    original = node.storage.db.connect

    def connect(path, *args, **kwargs):
        conn = original(path, *args, **kwargs)
        conn.set_trace_callback(seen[str(path)].append)
        return conn

    monkeypatch.setattr(node.storage.db, "connect", connect)
    monkeypatch.setattr(node.storage.batch, "connect", connect)
    return seen


# Statements that read a whole table by design, not per call: a province's copy of the
# terminal registry (its own province's terminals) is loaded whole at its first use and
# refreshed every terminal_refresh seconds (node.acceptance.terminals); scans check
# terminals in memory.
ALLOWED = (
    "SELECT terminal_id, org_id, org_name, name, mac FROM terminals",
    "SELECT terminal_id FROM terminals",
)


def _scans(seen: dict[str, list[str]]) -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}
    for path, statements in seen.items():
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for sql in dict.fromkeys(statements):
                head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
                if head not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE"):
                    continue
                if sql.strip() in ALLOWED:
                    continue
                try:
                    lines = full_scans(conn, sql)
                except sqlite3.Error:
                    continue  # a table made later in the run, a temp object
                if lines:
                    bad[f"{Path(path).name}: {sql[:300]}"] = lines
        finally:
            conn.close()
    return bad


async def test_the_hot_flows_read_no_table_whole(cluster, tmp_path, traced):
    nation = await start_settle_nation(cluster, tmp_path, ("44", "31"))
    p = insured_in(nation.kit, "44")[2]
    for statements in traced.values():
        statements.clear()  # the set-up's; the connections keep appending to these lists
    auth = await nation.activated(p, "44")  # activation at national, pushed to 44
    token, terminal = await token_for(nation, auth, "31", issued_by="44")  # routed ec.query
    s = (
        await settlement_stub(nation, "31").Settle(
            settle_request(token, terminal.org_id, "plan-1", [item("A1", A, 3_000)]), timeout=10
        )
    ).settlement  # remote settlement, 31 -> national -> 44
    assert s.settledBy == "44"
    # and the local ones: a code of 44 scanned and settled at 44
    token, terminal = await token_for(nation, auth, "44")
    local = (
        await settlement_stub(nation, "44").Settle(
            settle_request(token, terminal.org_id, "plan-2", [item("A1", A, 3_000)]), timeout=10
        )
    ).settlement
    assert local.settledBy == "44"
    assert sum(len(v) for v in traced.values()) > 50  # the trace saw the flows
    scans = _scans(traced)
    assert scans == {}, "\n".join(f"{k} -> {v}" for k, v in scans.items())


# -- the capacity model ------------------------------------------------------------------
def test_the_capacity_model_on_given_figures():
    m = Measured(
        persons=10_000_000,
        cores=2,
        activation_per_second=10.0,
        routed_query_per_second=400.0,
        remote_settlement_per_second=200.0,
        national_bytes=8_000_000_000,
        province_bytes=1_600_000_000,
        province_vouchers=2_000_000,
    )
    a = Assumptions()
    out = model(m, a)

    assert a.peak_factor == pytest.approx(0.8 / (10 / 24) * 1.5 * 2.0)
    peak = 28e6 / 86_400 * a.peak_factor
    assert out["peak_transactions_per_second"] == pytest.approx(peak)
    assert out["peak_calls_per_second"] == pytest.approx(3 * peak)
    national = out["national"]
    cross = peak * 0.05
    activations = 500_000 / 86_400 * a.peak_factor
    cores = (cross / 200 + cross / 100 + activations / 5) / 0.5  # per core: calls/s ÷ 2
    assert national["cores"] == pytest.approx(cores)
    assert national["replicas"] == -(-cores // 4) + 1
    assert out["national_2x"]["cores"] > national["cores"]
    assert out["database"]["national_bytes"] == pytest.approx(800 * 1.36e9)
    assert out["database"]["largest_partition_bytes"] == pytest.approx(800 * 1.36e9 * 0.09)
    assert out["database"]["largest_province_registry_bytes"] == pytest.approx(800 * 1.2e9 * 0.09)
    assert "replicas" in render(out)


async def test_the_page_cache_of_a_nodes_connections_is_a_setting(cluster):
    national = await cluster.start_national(extra={"db_cache_mib": "8"})
    got = await national.store.db.read(lambda conn: conn.execute("PRAGMA cache_size").fetchone()[0])
    assert got == -8 * 1024  # KiB, as SQLite counts a negative cache_size
    default = await cluster.start_province("44")
    got = await default.store.db.read(lambda conn: conn.execute("PRAGMA cache_size").fetchone()[0])
    assert got == -node.storage.db.CACHE_MIB * 1024


@pytest.mark.postgresql
def test_a_loaded_registry_copies_into_postgresql(tmp_path):
    """bench-scale --backend postgresql: the registry's rows, every table, the same in
    the PostgreSQL database, and its AUTOINCREMENT keys go on past the copied ones."""
    import pgkit

    from bench.scalepg import copy_national

    try:
        pg = pgkit.server()
    except pgkit.Unavailable as exc:
        pytest.skip(f"PostgreSQL: the embedded server cannot start here: {exc}")
    seeded = ensure_seeded(300, SEED, tmp_path / "cache")
    source = tmp_path / "national.db"
    conn = sqlite3.connect(seeded.db_path("national"))
    conn.execute("VACUUM INTO ?", (str(source),))
    conn.close()
    conn = sqlite3.connect(source)  # an outbox row: an AUTOINCREMENT key copied
    conn.execute(
        "INSERT INTO outbox (seq, destination, event_id, kind, ec_card_no, version, body, "
        "created_at) VALUES (41, '44', 'e1', 'voucher', 'X', 1, x'00', 0)"
    )
    conn.commit()
    conn.close()
    url = pg.database("scalepg")
    try:
        copied = copy_national(source, url)
        assert {"persons", "insured_regions", "vouchers", "authorizations"} <= set(copied)
        for table, count in copied.items():
            assert _rows(source, f'SELECT count(*) FROM "{table}"') == [(count,)]
            assert pgkit.fetch(url, f'SELECT count(*) FROM "{table}"') == [(count,)]
        key = "SELECT id_no, user_name FROM persons ORDER BY person_id"
        assert pgkit.fetch(url, key) == _rows(source, key)
        # a sequence moved past the copied keys: the next insert does not collide
        assert copied["outbox"] == 1
        checked = []
        for table, column in pgkit.fetch(
            url,
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND identity_generation = 'BY DEFAULT'",
        ):
            if table in copied:
                (top,) = pgkit.fetch(url, f'SELECT coalesce(max("{column}"), 0) FROM "{table}"')
                (nxt,) = pgkit.fetch(
                    url, f"SELECT nextval(pg_get_serial_sequence('\"{table}\"', '{column}'))"
                )
                assert nxt[0] > top[0], (table, column)
                checked.append(table)
        assert "outbox" in checked
    finally:
        pg.drop(url)
