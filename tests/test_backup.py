"""``ecnet backup`` (node.storage.backup): a province's database backed up while the node
runs and settles, the node stopped and its data folder wiped, the backup restored with
the keys kept apart, the node started again: the same settlements, and a working node.
Then what a restore refuses, and what a check finds.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from clikit import ecnet
from scankit import eventually, insured_in
from settlekit import A, B, item, settle_request, settlement_stub, start_settle_nation

from ecnet.v1 import settlement_service_pb2 as pb
from node.storage.backup import BACKUP_META

ITEMS = [item("A1", A, 3_000), item("B1", B, 1_000)]


SENT: dict[str, pb.SettleRequest] = {}


async def _settle(sk, auth: str, request_id: str) -> pb.Settlement:
    """A local settlement at 31 (a code issued there, scanned there); the request kept
    in ``SENT`` for a retry."""
    code = await sk.issue("31", auth)
    scanner = sk.scanner("31")
    token = (await scanner.query(code)).ecToken
    stub = settlement_stub(sk, "31")
    SENT[request_id] = settle_request(token, scanner.terminal.org_id, request_id, ITEMS)
    return (await stub.Settle(SENT[request_id], timeout=10)).settlement


def _settlements(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT request_id, settlement_id, state, fee_sumamt, fund_pay, psn_acct_pay "
            "FROM settlements ORDER BY request_id"
        ).fetchall()


async def test_a_province_backed_up_while_it_settles_comes_back_from_the_backup(cluster, tmp_path):
    sk = await start_settle_nation(cluster, tmp_path, ("31",))
    p31 = sk.provinces["31"]
    data, db = p31.config.data_dir, p31.db_path
    person = insured_in(sk.kit, "31")[0]
    auth = await sk.activated(person, "31")
    settled = [await _settle(sk, auth, f"bk-{n}") for n in range(3)]

    # backed up while the node runs, and while another settlement is being made
    backup = tmp_path / "backups" / "p31.db"
    during = asyncio.create_task(_settle(sk, auth, "bk-3"))
    rc, out, err = await ecnet("backup", "create", "--db", str(db), "--to", str(backup), "--json")
    settled.append(await during)
    assert rc == 0, err
    made = json.loads(out)
    assert (made["role"], made["province"], made["integrity"]) == ("provincial", "31", "ok")
    assert made["sealed"] is True and made["backupOf"]["source"] == str(db.resolve())
    # one commit's state: bk-0..2 for sure, bk-3 whole or not at all
    in_backup = _settlements(backup)
    assert made["counts"]["settlements"] == len(in_backup) in (3, 4)
    assert [r[0] for r in in_backup][:3] == ["bk-0", "bk-1", "bk-2"]
    assert all(r[2] == "settled" for r in in_backup)

    rc, out, err = await ecnet("backup", "check", str(backup))
    assert rc == 0, err
    assert "province 31" in out and "integrity    ok" in out and "settlements " in out

    # a restore over the running node is refused: it holds the data folder
    rc, _, err = await ecnet("backup", "restore", str(backup), "--db", str(db), "--force")
    assert rc == 1 and "a running node holds" in err and err.count("\n") == 1, err

    # the keys are kept apart (made once); the machine is wiped
    before = _settlements(db)
    await p31.stop(grace=0)
    cluster.nodes.remove(p31)
    vault = tmp_path / "vault"
    vault.mkdir()
    for key in ("master.key", "sign.key"):
        shutil.copy2(data / key, vault / key)
    shutil.rmtree(data)

    # without the master key the restore is refused, and so with another one
    rc, _, err = await ecnet("backup", "restore", str(backup), "--db", str(db))
    assert rc == 1 and "master key, which is not at" in err, err
    other = tmp_path / "other.key"
    other.write_text("00" * 16 + "\n")
    other.chmod(0o600)
    rc, _, err = await ecnet(
        "backup", "restore", str(backup), "--db", str(db), "--master-key", str(other)
    )
    assert rc == 1 and "is not the one that sealed this backup" in err, err
    assert not db.exists()

    for key in ("master.key", "sign.key"):
        shutil.copy2(vault / key, data / key)
    rc, out, err = await ecnet("backup", "restore", str(backup), "--db", str(db), "--json")
    assert rc == 0, err
    assert json.loads(out)["restoredTo"] == str(db) and json.loads(out)["signKey"] is True
    # once there, another restore needs --force
    rc, _, err = await ecnet("backup", "restore", str(backup), "--db", str(db))
    assert rc == 1 and "--force replaces it" in err, err

    # the node starts again on the restored database
    p31 = await cluster.start(cluster.config("provincial", "31", extra=dict(p31.config.extra)))
    sk.provinces["31"] = p31
    assert _settlements(db) == in_backup
    with sqlite3.connect(db) as conn:  # what only the backup file carries is not kept
        assert (
            conn.execute("SELECT count(*) FROM meta WHERE key = ?", (BACKUP_META,)).fetchone()[0]
            == 0
        )
    stub = settlement_stub(sk, "31")
    for s in settled[: len(in_backup)]:
        got = (
            await stub.GetSettlement(pb.GetSettlementRequest(settlementId=s.settlementId))
        ).settlement
        assert got == s
    # a retried request is answered with its settlement, not settled twice
    assert (await stub.Settle(SENT["bk-0"], timeout=10)).settlement == settled[0]
    # and it works: a new settlement, after those restored
    new = await _settle(sk, auth, "bk-9")
    assert new.state == pb.SETTLEMENT_STATE_SETTLED
    assert [r[0] for r in _settlements(db)] == [r[0] for r in in_backup] + ["bk-9"]
    assert before[: len(in_backup)] == in_backup


async def test_a_damaged_or_foreign_file_is_named_and_never_restored(tmp_path):
    not_db = tmp_path / "notes.db"
    not_db.write_text("not a database at all " * 200)
    rc, out, err = await ecnet("backup", "check", str(not_db), "--json")
    assert rc == 1 and json.loads(out)["code"] == -2 and "not an SQLite database" in out

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    rc, _, err = await ecnet("backup", "check", str(other))
    assert rc == 1 and "is not a node's database" in err and err.count("\n") == 1, err

    rc, _, err = await ecnet("backup", "check", str(tmp_path / "missing.db"))
    assert rc == 1 and "does not exist" in err

    rc, _, err = await ecnet(
        "backup", "create", "--db", str(tmp_path / "missing.db"), "--to", str(tmp_path / "b.db")
    )
    assert rc == 1 and "no database at" in err
    rc, _, err = await ecnet("backup", "create", "--db", str(other), "--to", str(tmp_path))
    assert rc == 1 and "is a folder" in err

    # A node on PostgreSQL is backed up by the server's tools, and told so.
    url = "postgresql://ecnet@db.example:5432/ecnet_national"
    rc, _, err = await ecnet("backup", "create", "--db", url, "--to", str(tmp_path / "pg.db"))
    assert rc == 1 and "pg_dump" in err and err.count("\n") == 1, err
    rc, _, err = await ecnet("backup", "restore", str(other), "--db", url, "--force")
    assert rc == 1 and "pg_dump" in err, err


@pytest.fixture
async def backed_up(cluster, tmp_path):
    """A backup of a national database (stopped) and the node's data folder."""
    national = await cluster.start_national()
    data, db = national.config.data_dir, national.db_path
    await national.stop(grace=0)
    cluster.nodes.remove(national)
    backup = tmp_path / "national-backup.db"
    rc, _, err = await ecnet("backup", "create", "--db", str(db), "--to", str(backup))
    assert rc == 0, err
    return data, db, backup


async def test_a_backup_goes_back_only_into_a_database_of_its_kind(backed_up, tmp_path):
    data, db, backup = backed_up
    wrong = tmp_path / "p44" / "provincial-44.db"
    rc, _, err = await ecnet("backup", "restore", str(backup), "--db", str(wrong))
    assert rc == 1 and "is a backup of national's database, not of provincial-44.db" in err, err
    rc, _, err = await ecnet("backup", "restore", str(backup), "--db", str(tmp_path / "x.sqlite"))
    assert rc == 1 and "is not a node's database file" in err, err
    # an existing backup is not overwritten without --force
    rc, _, err = await ecnet("backup", "create", "--db", str(db), "--to", str(backup))
    assert rc == 1 and "exists" in err
    # a damaged backup (two indexes swapped: each misses its table's rows) is found by
    # the check and refused by the restore
    damaged = tmp_path / "damaged.db"
    shutil.copy2(backup, damaged)
    _swap_indexes(damaged, "sqlite_autoindex_meta_1", "idx__sqlite_migrations_migration_set_name")
    rc, out, _ = await ecnet("backup", "check", str(damaged), "--json")
    failure = json.loads(out)
    assert rc == 1 and failure["code"] == -2, out
    assert "is damaged (integrity_check: row 1 missing from index" in failure["message"], out
    rc, _, err = await ecnet("backup", "restore", str(damaged), "--db", str(db), "--force")
    assert rc == 1 and "is damaged (integrity_check: " in err, err


def _swap_indexes(db: Path, first: str, second: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        roots = dict(
            conn.execute(
                "SELECT name, rootpage FROM sqlite_master WHERE name IN (?, ?)", (first, second)
            ).fetchall()
        )
        assert len(roots) == 2, roots
        for name, other in ((first, second), (second, first)):
            conn.execute(
                "UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (roots[other], name)
            )


async def test_a_restored_province_and_the_nation_agree_again(cluster, tmp_path):
    """After the backup, national sent 31 a voucher and 31 sent 44 a notice. Restored,
    31 gets national's events again (at its registration national's cursor goes back
    to the position 31 reports), and its next notice reaches 44 although its outbox
    gives again the sequence numbers national has seen (its outbox starts a new epoch)."""
    sk = await start_settle_nation(cluster, tmp_path, ("31", "44"))
    p31, p44 = sk.provinces["31"], sk.provinces["44"]
    db = p31.db_path
    both = next(p for p in sk.kit.population if {r.insu_org[:2] for r in p.insured} == {"31", "44"})
    org31 = next(r.insu_org for r in both.insured if r.insu_org.startswith("31"))
    later = insured_in(sk.kit, "31")[0]
    auth_both = await sk.activated(both, "31")
    backup = tmp_path / "p31-backup.db"
    rc, _, err = await ecnet("backup", "create", "--db", str(db), "--to", str(backup))
    assert rc == 0, err

    async def settle_here(request_id: str) -> pb.Settlement:
        """A local settlement at 31 of the person insured in 31 and 44: a notice to 44."""
        code = await sk.issue("31", auth_both, insu_org=org31)
        scanner = sk.scanner("31")
        token = (await scanner.query(code)).ecToken
        request = settle_request(token, scanner.terminal.org_id, request_id, ITEMS)
        return (await settlement_stub(sk, "31").Settle(request, timeout=10)).settlement

    async def notices_at_44(count: int):
        async def there():
            got = await p44.provincial.settlements.notices(both.id_type, both.id_no, 50)
            return got if len(got) >= count else None

        return await eventually(there, what=f"{count} notices at 44")

    # after the backup: a notice from 31 to 44, a voucher from national to 31
    lost = await settle_here("after-backup")
    assert lost.settledBy == "31"
    await notices_at_44(1)
    auth_later = await sk.activated(later, "31")
    with sqlite3.connect(sk.kit.national.db_path) as conn:
        (last,) = conn.execute("SELECT max(seq) FROM outbox WHERE destination = '31'").fetchone()
    with sqlite3.connect(backup) as conn:
        (held,) = conn.execute(
            "SELECT applied_seq FROM inbox_position WHERE origin = 'national'"
        ).fetchone()
    assert held < last

    await p31.stop(grace=0)
    cluster.nodes.remove(p31)
    rc, _, err = await ecnet("backup", "restore", str(backup), "--db", str(db), "--force")
    assert rc == 0, err
    p31 = sk.provinces["31"] = await cluster.start(
        cluster.config("provincial", "31", extra=dict(p31.config.extra))
    )

    async def caught_up():
        return await p31.store.load_applied_position() >= last

    await eventually(caught_up, what="31 to apply again what national sent after the backup")
    assert await p31.store.get_by_auth_code(auth_later) is not None
    # the settlement made after the backup is gone from 31 (44 holds its notice)...
    assert [r[0] for r in _settlements(db)] == []
    # ... and 31's next notice reaches 44
    again = await settle_here("after-restore")
    got = await notices_at_44(2)
    assert {n.notice.settlement_id for n in got} == {lost.settlementId, again.settlementId}
