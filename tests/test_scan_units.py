"""The pieces of acceptance without nodes: the ecToken format, the B.3 input checks,
the envelope's data, the settings, and the group commit (or inline commit) of scans'
writes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import sqlite3
import threading

import pytest

from node.acceptance.envelope import trans
from node.acceptance.inputs import QueryInput, TokenCheckInput
from node.acceptance.settings import AcceptanceSettings
from node.acceptance.tokens import check_result, mismatches
from node.clock import SeededEntropy
from node.config import ConfigError
from node.domain.ectoken import looks_like_token, new_token
from node.errors import EcError
from node.storage.acceptance import TokenRow
from node.storage.batch import CHECKPOINT_EVERY, WriteBatcher
from node.storage.provincial import ProvincialStore

GOOD = QueryInput(
    orgId="H44010600001",
    businessType="01101",
    operatorId="test001",
    operatorName="张医生",
    ecQrCode="4243754826492874240001440000",
)


def test_token_format_and_alphabet():
    entropy = SeededEntropy(7)
    tokens = [new_token("44", entropy) for _ in range(3000)]
    assert all(len(t) == 38 and t.startswith("440000ec") and looks_like_token(t) for t in tokens)
    assert len(set(tokens)) == len(tokens)
    counts = collections.Counter(ch for t in tokens for ch in t[8:])
    assert len(counts) == 36 and max(counts.values()) < 1.3 * min(counts.values())  # no modulo bias
    assert not looks_like_token("440000EC" + "a" * 30)
    assert not looks_like_token("440000ec" + "A" * 30)
    assert not looks_like_token("440000ec" + "a" * 29)


def test_token_check_compares_person_and_org():
    row = TokenRow("t", "c", "H1", "01101", "440100", "01", "35058219971119351X", "张三", 0, 1)
    assert check_result(row, "01", "35058219971119351x", "张三") == 1
    assert check_result(row, "01", "35058219971119351X", "张三", "H1") == 1
    assert check_result(row, "01", "35058219971119351X", "张三", "H2") == 0
    assert check_result(row, "02", "35058219971119351X", "张三") == 0
    assert check_result(row, "01", "35058219971119351X", "李四") == 0
    assert mismatches(row, "01", "35058219971119351x", "张三", "H1") == ()
    assert mismatches(row, "02", "35058219971119351X", "李四", "H2") == (
        "idType",
        "userName",
        "orgId",
    )


def test_b3_checks_and_messages():
    assert GOOD.checked() is GOOD
    for change, code, words in [
        ({"orgId": ""}, 500098, "missing: orgId"),
        ({"businessType": "01401"}, -2, "table C.1"),
        ({"operatorName": ""}, -2, "missing: operatorName"),
        ({"officeId": "1" * 21}, -2, "at most 20"),
        ({"ecQrCode": ""}, -2, "missing: ecQrCode"),
    ]:
        with pytest.raises(EcError) as info:
            dataclasses.replace(GOOD, **change).checked()
        assert info.value.code == code and words in info.value.message
    with pytest.raises(EcError) as info:
        TokenCheckInput(ecToken="", idType="01", idNo="1", userName="x").checked()
    assert info.value.code == -2


async def test_envelope_refusals_come_before_any_work():
    class Never:
        async def query(self, terminal, q):
            raise AssertionError("the envelope must be refused before acceptance is used")

        async def check_token(self, t):
            raise AssertionError("the envelope must be refused before acceptance is used")

    never = Never()

    for org, kind, data, code in [
        ("", "ec.query", {}, 500098),
        ("H1", "", {}, -2),
        ("H1", "ec.pay", {}, 500021),
        ("H1", "ec.query", {"orgId": "H2"}, -2),
        ("H1", "ec.query", {"businessType": True}, -2),
    ]:
        with pytest.raises(EcError) as info:
            await trans(never, "", org, kind, data)
        assert info.value.code == code


async def test_envelope_reads_whole_numbers_as_strings():
    seen = {}

    class Fake:
        async def query(self, terminal, q):
            seen["q"] = q
            raise EcError(-2, "stop")

    with pytest.raises(EcError):
        await trans(
            Fake(),
            "t",
            "H1",
            "ec.query",
            {"businessType": "01101", "operatorId": 1101.0, "operatorName": "x", "ecQrCode": "x"},
        )
    assert seen["q"].operatorId == "1101" and seen["q"].orgId == "H1"


def test_settings():
    s = AcceptanceSettings.from_config(
        {"token_ttl": "60"}, environ={"ECNET_ACCEPTANCE_ROUTE_DEADLINE": "0.5"}
    )
    assert (s.token_ttl, s.route_deadline, s.terminal_refresh) == (60.0, 0.5, 300.0)
    with pytest.raises(ConfigError):
        AcceptanceSettings.from_config({"token_ttl": "soon"}, environ={})
    with pytest.raises(ConfigError):
        AcceptanceSettings.from_config({"route_deadline": "0"}, environ={})


@contextlib.asynccontextmanager
async def writer_held(store, sql: str = ""):
    """The writer thread inside a transaction (running ``sql``) until the block ends."""
    inside, release = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()

    def hold(conn):
        if sql:
            conn.execute(sql)
        loop.call_soon_threadsafe(inside.set)
        release.wait(5)

    held = asyncio.ensure_future(store.db.write(hold))
    await inside.wait()
    try:
        yield
    finally:
        release.set()
        await held


async def test_group_commit_isolates_a_failing_write(tmp_path):
    store = ProvincialStore(tmp_path / "p.db")
    await store.open()
    try:

        def put(conn, key, fail=False):
            conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))
            if fail:
                raise ValueError(key)
            return key

        batcher = WriteBatcher(store.db)
        results = await asyncio.gather(
            *(batcher.write(put, f"k{i}", i == 3) for i in range(8)), return_exceptions=True
        )
        assert [r if not isinstance(r, Exception) else type(r).__name__ for r in results] == [
            "k0",
            "k1",
            "k2",
            "ValueError",
            "k4",
            "k5",
            "k6",
            "k7",
        ]

        def keys(conn):
            return sorted(r[0] for r in conn.execute("SELECT key FROM meta WHERE key LIKE 'k%'"))

        assert await store.db.read(keys) == ["k0", "k1", "k2", "k4", "k5", "k6", "k7"]
        # a duplicate key (a constraint) fails that write alone, later batches go on
        again = await asyncio.gather(
            batcher.write(put, "k0"), batcher.write(put, "k9"), return_exceptions=True
        )
        assert type(again[0]).__name__ == "IntegrityError" and again[1] == "k9"
    finally:
        await store.close()


async def test_inline_writes_isolate_a_failure_and_step_aside_for_the_writer(tmp_path):
    store = ProvincialStore(tmp_path / "p.db")
    await store.open()
    batcher = WriteBatcher(store.db, inline=True)
    try:

        def put(conn, key, fail=False):
            conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))
            if fail:
                raise ValueError(key)
            return key

        results = await asyncio.gather(
            *(batcher.write(put, f"k{i}", i == 3) for i in range(6)), return_exceptions=True
        )
        assert [r if not isinstance(r, Exception) else type(r).__name__ for r in results] == [
            "k0",
            "k1",
            "k2",
            "ValueError",
            "k4",
            "k5",
        ]

        # While the writer thread is inside a transaction, an inline write neither
        # blocks the loop nor fails: it joins the writer thread's next batch.
        async with writer_held(store, "INSERT INTO meta (key, value) VALUES ('held', 'v')"):
            waiting = asyncio.ensure_future(batcher.write(put, "during"))
            await asyncio.sleep(0.05)  # the loop runs on
            assert not waiting.done()
        assert await waiting == "during"

        def keys(conn):
            return sorted(
                r[0]
                for r in conn.execute(
                    "SELECT key FROM meta WHERE key LIKE 'k%' OR key IN ('held', 'during')"
                )
            )

        assert await store.db.read(keys) == ["during", "held", "k0", "k1", "k2", "k4", "k5"]
    finally:
        await batcher.close()
        await store.close()


async def test_inline_writes_keep_the_wal_bounded(tmp_path):
    # The inline connection never checkpoints on commit; the batcher has the writer
    # thread checkpoint every CHECKPOINT_EVERY commits, so the WAL starts over.
    store = ProvincialStore(tmp_path / "p.db")
    await store.open()
    batcher = WriteBatcher(store.db, inline=True)
    try:

        def put(conn, i):
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"w{i}", "v" * 3000))

        for i in range(CHECKPOINT_EVERY * 8):
            await batcher.write(put, i)
            await asyncio.sleep(0)
        wal = tmp_path / "p.db-wal"
        # 8 rounds of 3 KB rows would be over 6 MB in an ever-growing WAL.
        assert wal.stat().st_size < 2 * CHECKPOINT_EVERY * 3 * 4096
        assert (
            await store.db.read(
                lambda conn: conn.execute(
                    "SELECT count(*) FROM meta WHERE key LIKE 'w%'"
                ).fetchone()[0]
            )
            == CHECKPOINT_EVERY * 8
        )
    finally:
        await batcher.close()
        await store.close()


@pytest.mark.parametrize(
    "synced, expected", [(True, 2), (False, 1)]
)  # PRAGMA synchronous: FULL 2, NORMAL 1
async def test_write_batcher_syncs_as_told_on_both_paths(tmp_path, synced, expected):
    # Scans pass synced=False (a lost scan costs a new scan); settlements keep the
    # writer's FULL. The inline connection and the writer thread's fallback agree.
    store = ProvincialStore(tmp_path / "p.db", synchronous="FULL")
    await store.open()
    batcher = WriteBatcher(store.db, inline=True, synced=synced)
    try:

        def level(conn):
            return conn.execute("PRAGMA synchronous").fetchone()[0]

        assert await batcher.write(level) == expected  # inline, the lock free
        async with writer_held(store):
            fallback = asyncio.ensure_future(
                batcher.write(level)
            )  # the lock held: the writer thread
            await asyncio.sleep(0.05)
        assert await fallback == expected
        assert await store.db.write(level) == 2  # the writer itself is left as it was
    finally:
        await batcher.close()
        await store.close()


async def test_read_now_reads_on_the_loop_thread_and_sees_every_commit(tmp_path):
    store = ProvincialStore(tmp_path / "p.db")
    await store.open()
    try:

        def where(conn):
            return threading.get_ident(), conn.execute(
                "SELECT value FROM meta WHERE key = 'k'"
            ).fetchone()

        assert store.db.read_now(where) == (threading.get_ident(), None)
        await store.db.write(
            lambda conn: conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        )
        thread, row = store.db.read_now(where)
        assert thread == threading.get_ident() and tuple(row) == ("v",)
        # a reader connection: it cannot write
        with pytest.raises(sqlite3.OperationalError):
            store.db.read_now(lambda conn: conn.execute("DELETE FROM meta"))
    finally:
        await store.close()
