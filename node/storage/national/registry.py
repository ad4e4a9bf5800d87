"""The base registry of persons (人员基础信息) and the pooling regions each is insured
in (参保地): tables ``persons`` and ``insured_regions`` of national m001.

Both carry a ``province`` (national m020), written here with the rows: a region's is
the first two digits of its code, a person's (the home province) that of the
lowest-coded region the person is insured in (:func:`home_province`). On PostgreSQL the
two tables are partitioned by it, so a lookup of one person asks ``person_keys`` for the
home province first, and PostgreSQL reads the one partition that holds the person
instead of every province's index (the same query on SQLite reads a view)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

__all__ = [
    "home_province",
    "RegionRow",
    "PersonRow",
    "PersonSeed",
    "q_list_persons",
    "q_person",
    "q_person_by_id",
    "q_face_template",
    "q_insert_persons",
    "q_update_identity",
    "q_replace_regions",
]


@dataclass(frozen=True, slots=True)
class RegionRow:
    insu_org: str
    insu_type: str


@dataclass(frozen=True, slots=True)
class PersonRow:
    person_id: int
    user_name: str
    id_type: str
    id_no: str
    gender: str
    birthday: str
    nationality: str
    phone: str
    insured: tuple[RegionRow, ...]


_PERSON_COLS = "person_id, user_name, id_type, id_no, gender, birthday, nationality, phone"


# The home province of the person_id given last: the partition to read.
_HOME = "province = (SELECT province FROM person_keys WHERE person_id = ?)"


def home_province(insu_orgs: Sequence[str]) -> str:
    """The home province of a person insured in ``insu_orgs``: that of the lowest code
    ('' for none), the partition of ``persons`` the person is kept in."""
    return min(insu_orgs)[:2] if insu_orgs else ""


def _regions_of(conn: sqlite3.Connection, person_ids: Sequence[int]) -> dict[int, list[RegionRow]]:
    out: dict[int, list[RegionRow]] = {pid: [] for pid in person_ids}
    if not person_ids:
        return out
    marks = ",".join("?" * len(person_ids))
    for r in conn.execute(
        f"SELECT person_id, insu_org, insu_type FROM insured_regions "
        f"WHERE person_id IN ({marks}) ORDER BY person_id, insu_org",
        list(person_ids),
    ):
        out[r[0]].append(RegionRow(r[1], r[2]))
    return out


def _person_rows(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[PersonRow]:
    regions = _regions_of(conn, [r["person_id"] for r in rows])
    return [
        PersonRow(
            r["person_id"],
            r["user_name"],
            r["id_type"],
            r["id_no"],
            r["gender"],
            r["birthday"],
            r["nationality"],
            r["phone"],
            tuple(regions[r["person_id"]]),
        )
        for r in rows
    ]


def q_list_persons(
    conn: sqlite3.Connection, insured_province: str, limit: int, after_id: int
) -> list[PersonRow]:
    """A page of persons by id after ``after_id``; with ``insured_province``, only the
    persons insured in one of its regions."""
    if insured_province:
        # Range over the (insu_org, person_id) index: stays flat as the registry grows.
        lo, hi = insured_province, f"{int(insured_province) + 1:02d}"
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT person_id FROM insured_regions "
                "WHERE province = ? AND insu_org >= ? AND insu_org < ? AND person_id > ? "
                "ORDER BY person_id LIMIT ?",
                (insured_province, lo, hi, after_id, limit),
            )
        ]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT {_PERSON_COLS} FROM persons WHERE person_id IN ({marks}) ORDER BY person_id",
            ids,
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_PERSON_COLS} FROM persons WHERE person_id > ? ORDER BY person_id LIMIT ?",
            (after_id, limit),
        ).fetchall()
    return _person_rows(conn, rows)


def q_person(conn: sqlite3.Connection, id_type: str, id_no: str) -> PersonRow | None:
    rows = conn.execute(
        f"SELECT {_PERSON_COLS} FROM persons WHERE id_type = ? AND id_no = ? AND province = "
        "(SELECT province FROM person_keys WHERE id_type = ? AND id_no = ?)",
        (id_type, id_no, id_type, id_no),
    ).fetchall()
    found = _person_rows(conn, rows)
    return found[0] if found else None


def q_person_by_id(conn: sqlite3.Connection, person_id: int) -> PersonRow | None:
    rows = conn.execute(
        f"SELECT {_PERSON_COLS} FROM persons WHERE person_id = ? AND {_HOME}",
        (person_id, person_id),
    ).fetchall()
    found = _person_rows(conn, rows)
    return found[0] if found else None


def q_face_template(conn: sqlite3.Connection, person_id: int) -> bytes | None:
    """The person's enrolled face template, sealed (``node.vault``; open it with the
    node's keys), or None when none is enrolled."""
    r = conn.execute(
        f"SELECT face_sealed FROM persons WHERE person_id = ? AND {_HOME}", (person_id, person_id)
    ).fetchone()
    return bytes(r[0]) if r and r[0] is not None else None


class PersonSeed(TypedDict):
    """A person as seeding inserts it (:func:`q_insert_persons`): the columns of
    ``persons``, and ``insured``, the (insuOrg, insuType) pairs of its regions."""

    user_name: str
    id_type: str
    id_no: str
    gender: str
    birthday: str
    nationality: str
    phone: str
    # The template sealed with the node's key (``node.vault``), as seeding writes it;
    # a raw ``face_template`` is sealed at the node's next start (node.storage.secrets).
    face_sealed: NotRequired[bytes | None]
    face_template: NotRequired[bytes | None]
    insured: Sequence[tuple[str, str]]


def q_insert_persons(conn: sqlite3.Connection, people: Sequence[PersonSeed], now_ms: int) -> int:
    """Bulk insert for seeding: each dict has the person's columns and ``insured``."""
    start = conn.execute("SELECT coalesce(max(person_id), 0) FROM persons").fetchone()[0] + 1
    person_rows = []
    region_rows = []
    for offset, p in enumerate(people):
        pid = start + offset
        person_rows.append(
            (
                pid,
                p["user_name"],
                p["id_type"],
                p["id_no"],
                p["gender"],
                p["birthday"],
                p["nationality"],
                p["phone"],
                p.get("face_template"),
                p.get("face_sealed"),
                now_ms,
                home_province([org for org, _ in p["insured"]]),
            )
        )
        for insu_org, insu_type in p["insured"]:
            region_rows.append((pid, insu_org, insu_type, insu_org[:2]))
    conn.executemany(
        "INSERT INTO persons (person_id, user_name, id_type, id_no, gender, birthday, "
        "nationality, phone, face_template, face_sealed, updated_at, province) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        person_rows,
    )
    conn.executemany(
        "INSERT INTO insured_regions (person_id, insu_org, insu_type, province) VALUES (?,?,?,?)",
        region_rows,
    )
    return len(person_rows)


def q_update_identity(
    conn: sqlite3.Connection, person_id: int, user_name: str, id_type: str, id_no: str, now_ms: int
) -> None:
    conn.execute(
        "UPDATE persons SET user_name = ?, id_type = ?, id_no = ?, updated_at = ? "
        f"WHERE person_id = ? AND {_HOME}",
        (user_name, id_type, id_no, now_ms, person_id, person_id),
    )


def q_replace_regions(
    conn: sqlite3.Connection, person_id: int, regions: Sequence[RegionRow], now_ms: int
) -> None:
    """The person's regions become ``regions``; a new home province moves the person
    (on PostgreSQL, to that province's partition)."""
    conn.execute("DELETE FROM insured_regions WHERE person_id = ?", (person_id,))
    conn.executemany(
        "INSERT INTO insured_regions (person_id, insu_org, insu_type, province) VALUES (?,?,?,?)",
        [(person_id, r.insu_org, r.insu_type, r.insu_org[:2]) for r in regions],
    )
    conn.execute(
        f"UPDATE persons SET updated_at = ?, province = ? WHERE person_id = ? AND {_HOME}",
        (now_ms, home_province([r.insu_org for r in regions]), person_id, person_id),
    )
