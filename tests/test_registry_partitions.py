"""The national registry by insured province (national m020): on PostgreSQL ``persons``
and ``insured_regions`` are partitioned by province, one partition a province; on SQLite
the same columns are kept and the same queries answer alike.

Run against a real throwaway PostgreSQL server (tests/pgkit.py) and a real SQLite file:
where each row lands, what PostgreSQL reads to find one person, what the partitioned
tables still refuse (a second person with the same id number, a person's id twice, a
person with a voucher deleted), a person moving home, and a database of m019 with rows
upgraded in place.
"""

from __future__ import annotations

import sqlite3

import pgkit
import psycopg
import pytest

from conftest import pg_server
from node.storage.db import open_database
from node.storage.migrations import national
from node.storage.national.registry import (
    RegionRow,
    home_province,
    q_insert_persons,
    q_list_persons,
    q_person,
    q_person_by_id,
    q_replace_regions,
    q_update_identity,
)
from node.storage.postgres import migrate

NOW = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def person(id_no: str, *regions: str, name: str = "张三") -> dict:
    return {
        "user_name": name,
        "id_type": "01",
        "id_no": id_no,
        "gender": "1",
        "birthday": "1990-01-01",
        "nationality": "CHN",
        "phone": "",
        "insured": [(org, "310") for org in regions],
    }


PEOPLE = [
    person("440101199001010011", "440100"),
    person("310101199001010012", "440300", "310000"),  # two provinces: home 31
    person("110101199001010013", "110000"),
    person("999999199001010014"),  # insured nowhere: home ''
]


def _with_people(pg: pgkit.PgServer, label: str) -> str:
    """A new national database on ``pg`` with PEOPLE in it, its URL."""
    url = pg.database(label, "national")
    db = open_database(url, national.MIGRATIONS)
    db.open_sync()
    try:
        db.write_sync(q_insert_persons, PEOPLE, NOW)
    finally:
        db.close_sync()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store(request, tmp_path):
    """A migrated national database with PEOPLE in it, on each backend."""
    if request.param == "postgresql":
        url = pg_server().database("registry", "national")
    else:
        url = str(tmp_path / "national.db")
    db = open_database(url, national.MIGRATIONS)
    db.open_sync()
    db.write_sync(q_insert_persons, PEOPLE, NOW)
    yield request.param, url, db
    db.close_sync()


def test_home_province_is_the_lowest_coded_region():
    assert home_province(["440300", "310000"]) == "31"
    assert home_province(["660000"]) == "66"
    assert home_province([]) == ""


def _rows(backend: str, url: str, sql: str, args: tuple = ()) -> list[tuple]:
    if backend == "postgresql":
        with psycopg.connect(url) as conn:
            return conn.execute(sql.replace("?", "%s"), args).fetchall()
    conn = sqlite3.connect(url)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_every_row_carries_its_province_and_lookups_answer_alike(store):
    backend, url, db = store
    assert _rows(backend, url, "SELECT id_no, province FROM persons ORDER BY person_id") == [
        ("440101199001010011", "44"),
        ("310101199001010012", "31"),
        ("110101199001010013", "11"),
        ("999999199001010014", ""),
    ]
    assert _rows(
        backend, url, "SELECT person_id, insu_org, province FROM insured_regions ORDER BY 1, 2"
    ) == [(1, "440100", "44"), (2, "310000", "31"), (2, "440300", "44"), (3, "110000", "11")]
    two = db.read_sync(q_person, "01", "310101199001010012")
    assert two is not None and two.person_id == 2
    assert [r.insu_org for r in two.insured] == ["310000", "440300"]
    assert db.read_sync(q_person_by_id, 4).id_no == "999999199001010014"
    assert db.read_sync(q_person, "01", "000000000000000000") is None
    assert db.read_sync(q_person_by_id, 99) is None
    # a province's persons: those insured in one of its regions, the two-province one in both
    assert [p.person_id for p in db.read_sync(q_list_persons, "44", 10, 0)] == [1, 2]
    assert [p.person_id for p in db.read_sync(q_list_persons, "31", 10, 0)] == [2]
    assert [p.person_id for p in db.read_sync(q_list_persons, "", 10, 0)] == [1, 2, 3, 4]


def test_a_new_home_moves_the_person_and_an_id_change_follows(store):
    backend, url, db = store
    db.write_sync(
        q_replace_regions, 1, [RegionRow("510100", "390"), RegionRow("110000", "310")], NOW
    )
    moved = db.read_sync(q_person, "01", "440101199001010011")
    assert moved is not None and [r.insu_org for r in moved.insured] == ["110000", "510100"]
    assert _rows(backend, url, "SELECT province FROM persons WHERE person_id = 1") == [("11",)]
    db.write_sync(q_update_identity, 1, "李四", "01", "440101199001010029", NOW)
    assert db.read_sync(q_person, "01", "440101199001010011") is None
    after = db.read_sync(q_person, "01", "440101199001010029")
    assert after is not None and (after.person_id, after.user_name) == (1, "李四")
    assert db.read_sync(q_person_by_id, 1).id_no == "440101199001010029"
    if backend == "postgresql":
        assert _rows(
            backend, url, "SELECT tableoid::regclass::text FROM persons WHERE person_id = 1"
        ) == [("persons_11",)]
        assert _rows(backend, url, "SELECT * FROM person_keys WHERE person_id = 1") == [
            (1, "01", "440101199001010029", "11")
        ]
    # moving off every region: home '' (the default partition on PostgreSQL)
    db.write_sync(q_replace_regions, 1, [], NOW)
    assert db.read_sync(q_person_by_id, 1).insured == ()


# -- PostgreSQL: the partitions ---------------------------------------------------------------
def _pg(url: str, sql: str, args: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.mark.postgresql
def test_partitions_one_a_province(pg):
    url = pg.database("parts", "national")
    for table in ("persons", "insured_regions"):
        parts = _pg(
            url,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY 1",
            (table,),
        )
        names = [n for (n,) in parts]
        assert len(names) == 33 and f"{table}_44" in names and f"{table}_66" in names
        assert f"{table}_other" in names
        assert _pg(
            url,
            "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = %s::regclass",
            (table,),
        ) == [("l",)]


@pytest.mark.postgresql
def test_rows_land_in_their_province(pg):
    url = _with_people(pg, "land")
    assert _pg(
        url, "SELECT tableoid::regclass::text, person_id FROM persons ORDER BY person_id"
    ) == [("persons_44", 1), ("persons_31", 2), ("persons_11", 3), ("persons_other", 4)]
    assert _pg(
        url,
        "SELECT tableoid::regclass::text, person_id, insu_org FROM insured_regions ORDER BY 2, 3",
    ) == [
        ("insured_regions_44", 1, "440100"),
        ("insured_regions_31", 2, "310000"),  # a person insured in two provinces: one row
        ("insured_regions_44", 2, "440300"),  # in each of their partitions
        ("insured_regions_11", 3, "110000"),
    ]


def _partitions_read(url: str, sql: str, args: tuple) -> set[str]:
    """The partitions of persons that PostgreSQL read running ``sql``."""
    with psycopg.connect(url) as conn:
        plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, args).fetchone()[0]
    out: set[str] = set()

    def walk(node: dict) -> None:
        rel = node.get("Relation Name", "")
        if rel.startswith("persons_") and node.get("Actual Loops", 0) > 0:
            out.add(rel)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return out


@pytest.mark.postgresql
def test_one_person_is_read_from_one_partition(pg):
    url = _with_people(pg, "prune")
    by_id_no = (
        "SELECT * FROM persons WHERE id_type = %s AND id_no = %s AND province = "
        "(SELECT province FROM person_keys WHERE id_type = %s AND id_no = %s)"
    )
    args = ("01", "310101199001010012") * 2
    assert _partitions_read(url, by_id_no, args) == {"persons_31"}
    by_id = (
        "SELECT * FROM persons WHERE person_id = %s AND province = "
        "(SELECT province FROM person_keys WHERE person_id = %s)"
    )
    assert _partitions_read(url, by_id, (3, 3)) == {"persons_11"}
    # without the home province, every partition is searched: what the queries avoid
    assert len(_partitions_read(url, "SELECT * FROM persons WHERE person_id = %s", (3,))) == 33


@pytest.mark.postgresql
def test_the_partitioned_registry_still_refuses_what_sqlite_refuses(pg):
    url = _with_people(pg, "refuse")
    cols = "person_id, user_name, id_type, id_no, gender, birthday, nationality, updated_at"
    with psycopg.connect(url, autocommit=True) as conn:
        # the same id number in another province's partition
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                f"INSERT INTO persons ({cols}, province) "
                "VALUES (50, 'x', '01', '440101199001010011', '1', '1990-01-01', 'CHN', 0, '51')"
            )
        # a person's id twice, in two partitions
        with pytest.raises(psycopg.errors.UniqueViolation, match="persons_pkey"):
            conn.execute(
                f"INSERT INTO persons ({cols}, province) "
                "VALUES (1, 'x', '01', '510101199001010011', '1', '1990-01-01', 'CHN', 0, '51')"
            )
        # a region or a voucher of a person who is not there
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO insured_regions (person_id, insu_org, insu_type, province) "
                "VALUES (77, '440100', '310', '44')"
            )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO vouchers (ec_card_no, person_id, state, created_at, updated_at) "
                "VALUES ('v77', 77, 1, 0, 0)"
            )
        # deleting a person who has a voucher
        conn.execute(
            "INSERT INTO vouchers (ec_card_no, person_id, state, created_at, updated_at) "
            "VALUES ('v3', 3, 1, 0, 0)"
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("DELETE FROM persons WHERE person_id = 3")
        assert conn.execute("SELECT count(*) FROM person_keys").fetchone() == (4,)
        # a person without a voucher or regions may go, and their key with them
        conn.execute("DELETE FROM persons WHERE person_id = 4")
        assert conn.execute("SELECT count(*) FROM person_keys WHERE person_id = 4").fetchone() == (
            0,
        )
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="does not change"):
            conn.execute("UPDATE persons SET person_id = 60 WHERE person_id = 3")


@pytest.mark.postgresql
def test_a_database_of_m019_with_rows_is_partitioned_in_place(pg):
    url = pg.database("m019")
    names = [m.name for m in national.MIGRATIONS._migrations]
    k = names.index("m020_registry_by_province")
    older = type(national.MIGRATIONS)(national.MIGRATIONS.name)
    older._migrations = national.MIGRATIONS._migrations[:k]
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, older)  # type: ignore[arg-type]
        conn.execute(
            "INSERT INTO persons (person_id, user_name, id_type, id_no, gender, birthday, "
            "nationality, updated_at) VALUES "
            "(1, 'a', '01', '440101199001010011', '1', '1990-01-01', 'CHN', 0), "
            "(2, 'b', '01', '310101199001010012', '1', '1990-01-01', 'CHN', 0), "
            "(3, 'c', '01', '110101199001010013', '1', '1990-01-01', 'CHN', 0)"
        )
        conn.execute(
            "INSERT INTO insured_regions (person_id, insu_org, insu_type) VALUES "
            "(1, '440100', '310'), (2, '440300', '310'), (2, '310000', '310')"
        )
        conn.execute(
            "INSERT INTO vouchers (ec_card_no, person_id, state, created_at, updated_at) "
            "VALUES ('v1', 1, 2, 0, 0)"
        )
    db = open_database(url, national.MIGRATIONS)
    assert db.open_sync() == names[k:]
    try:
        assert db.read_sync(q_person_by_id, 2).insured == (
            RegionRow("310000", "310"),
            RegionRow("440300", "310"),
        )
        assert db.read_sync(q_person, "01", "110101199001010013").person_id == 3
    finally:
        db.close_sync()
    assert _pg(url, "SELECT tableoid::regclass::text FROM persons ORDER BY person_id") == [
        ("persons_44",),
        ("persons_31",),
        ("persons_other",),  # insured nowhere
    ]
    assert _pg(url, "SELECT person_id, province FROM person_keys ORDER BY 1") == [
        (1, "44"),
        (2, "31"),
        (3, ""),
    ]
    assert _pg(url, "SELECT ec_card_no, person_id FROM vouchers") == [("v1", 1)]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _pg(url, "DELETE FROM persons WHERE person_id = 1")


def test_sqlite_refuses_the_same(tmp_path):
    url = str(tmp_path / "national.db")
    db = open_database(url, national.MIGRATIONS)
    db.open_sync()
    db.write_sync(q_insert_persons, PEOPLE, NOW)
    db.close_sync()
    conn = sqlite3.connect(url)
    conn.execute("PRAGMA foreign_keys=ON")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO persons (person_id, user_name, id_type, id_no, gender, birthday, "
                "nationality, updated_at, province) "
                "VALUES (50, 'x', '01', '440101199001010011', '1', '1990-01-01', 'CHN', 0, '51')"
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO insured_regions (person_id, insu_org, insu_type, province) "
                "VALUES (77, '440100', '310', '44')"
            )
    finally:
        conn.close()
