"""Secrets at rest in the database (``node.vault``): the master key's check value, the
sealed secrets of ``meta``, and the conversion of an older database's rows.

At every start, in one write transaction before the node serves: the check value of
the node's master key is compared with the one in ``meta`` (kept the first time), and
rows an older version left in clear are converted, once (``CONVERTED_META``; m010 of
national, m013 of a province renamed the columns, but only the key can hash or seal
their values):

- national: an authorization whose ``code_hash`` still holds the raw code (32
  characters; a keyed hash has 64) gets its keyed hash and sealed digest; a raw
  ``face_template`` is sealed into ``face_sealed``; an answer kept for a ``requestId``
  with a code in it is sealed (``seal_answer``); an outbox event that carries codes
  carries their digests instead;
- a province: the same for ``channel_auths`` and ``qr_codes``;
- both: a key kept raw in ``meta`` (national's voucher-number key, a province's QR key)
  is sealed under its name + ``_sealed`` and the raw row deleted (:func:`q_sealed_secret`).

The connections zero what they delete (``PRAGMA secure_delete``) for the rows converted
here, and the WAL is checkpointed afterwards (``Database.truncate_wal``).
"""

from __future__ import annotations

import json
import sqlite3

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.storage.meta import q_meta_get, q_meta_set
from node.vault import KEY_CHECK_META, NodeKeys, code_digest

__all__ = [
    "ANSWER_LABEL",
    "DIGEST_LABEL",
    "FACE_LABEL",
    "SEALED_PREFIX",
    "q_protect_national",
    "q_protect_provincial",
    "q_sealed_secret",
    "seal_answer",
    "open_answer",
]

FACE_LABEL = "face template"
DIGEST_LABEL = "authCode digest"
ANSWER_LABEL = "requestId answer"
# Set once the rows of an older database were converted: the tables are not read again
# at every start (a database made by this version never holds a raw code).
CONVERTED_META = "secrets_at_rest"
# The JSON of an answer kept for a requestId, sealed: this prefix and the hex of it.
SEALED_PREFIX = "sealed:"


def seal_answer(keys: NodeKeys, payload: str) -> str:
    return SEALED_PREFIX + keys.seal(payload.encode(), ANSWER_LABEL).hex()


def open_answer(keys: NodeKeys, stored: str) -> str:
    if not stored.startswith(SEALED_PREFIX):
        return stored
    return keys.open(bytes.fromhex(stored[len(SEALED_PREFIX) :]), ANSWER_LABEL).decode()


# The secrets an older version kept raw in ``meta``: national's key of voucher numbers,
# a province's QR key (sealed under the same name, which is also their label).
RAW_META = ("voucher_key", "qr_key")


def _check(conn: sqlite3.Connection, keys: NodeKeys, where: str) -> int:
    """Check the master key; seal what ``meta`` holds raw. Rows converted."""
    keys.check(q_meta_get(conn, KEY_CHECK_META), where)
    q_meta_set(conn, KEY_CHECK_META, keys.check_value)
    conn.execute("PRAGMA secure_delete = ON")
    n = 0
    for name in RAW_META:
        raw = q_meta_get(conn, name)
        if raw is not None:
            q_sealed_secret(conn, keys, name, bytes.fromhex(raw), name)
            n += 1
    return n


def _strip_codes(body: bytes) -> bytes | None:
    """An outbox event with digests instead of codes, or None when it has no code."""
    event = fed_pb.Event()
    event.ParseFromString(body)
    changed = False
    for a in event.voucher.authorizations:
        if a.authCode:
            a.authCodeDigest = code_digest(a.authCode)
            a.authCode = ""
            changed = True
    return event.SerializeToString() if changed else None


def q_protect_national(conn: sqlite3.Connection, keys: NodeKeys, where: str) -> int:
    """Check the master key and convert an older database's secrets; rows converted."""
    n = _check(conn, keys, where)
    n += _seal_faces(conn, keys)
    if q_meta_get(conn, CONVERTED_META) is not None:
        return n
    for (raw,) in conn.execute(
        "SELECT code_hash FROM authorizations WHERE length(code_hash) = 32"
    ).fetchall():
        digest = code_digest(raw)
        conn.execute(
            "UPDATE authorizations SET code_hash = ?, code_digest = ? WHERE code_hash = ?",
            (keys.digest_key(digest), keys.seal(bytes.fromhex(digest), DIGEST_LABEL), raw),
        )
        n += 1
    for rowid, result in conn.execute(
        "SELECT rowid, result FROM idempotency WHERE result NOT LIKE 'sealed:%' "
        "AND result LIKE '%auth_code%'"
    ).fetchall():
        if json.loads(result).get("auth_code"):
            conn.execute(
                "UPDATE idempotency SET result = ? WHERE rowid = ?",
                (seal_answer(keys, result), rowid),
            )
            n += 1
    n += _protect_outbox(conn)
    q_meta_set(conn, CONVERTED_META, "1")
    return n


def _seal_faces(conn: sqlite3.Connection, keys: NodeKeys) -> int:
    """Seal the raw templates (an older database's, or a seeding without the node's
    key), found through the partial index of m010: nothing to read when none is left."""
    n = 0
    for pid, face in conn.execute(
        "SELECT person_id, face_template FROM persons WHERE face_template IS NOT NULL"
    ).fetchall():
        conn.execute(
            "UPDATE persons SET face_sealed = ?, face_template = NULL WHERE person_id = ?",
            (keys.seal(face, FACE_LABEL), pid),
        )
        n += 1
    return n


def _protect_outbox(conn: sqlite3.Connection) -> int:
    n = 0
    for seq, body in conn.execute("SELECT seq, body FROM outbox").fetchall():
        stripped = _strip_codes(body)
        if stripped is not None:
            conn.execute("UPDATE outbox SET body = ? WHERE seq = ?", (stripped, seq))
            n += 1
    return n


def q_protect_provincial(conn: sqlite3.Connection, keys: NodeKeys, where: str) -> int:
    """Check the master key and convert an older database's secrets; rows converted."""
    n = _check(conn, keys, where)
    if q_meta_get(conn, CONVERTED_META) is not None:
        return n
    for table in ("channel_auths", "qr_codes"):
        for (raw,) in conn.execute(
            f"SELECT DISTINCT code_hash FROM {table} WHERE length(code_hash) = 32"
        ).fetchall():
            conn.execute(
                f"UPDATE {table} SET code_hash = ? WHERE code_hash = ?",
                (keys.code_hash(raw), raw),
            )
            n += 1
    q_meta_set(conn, CONVERTED_META, "1")
    return n


def q_sealed_secret(
    conn: sqlite3.Connection, keys: NodeKeys, name: str, fresh: bytes, label: str
) -> bytes:
    """The secret ``name`` of ``meta``, kept sealed as ``<name>_sealed`` (hex): made from
    ``fresh`` the first time; a value an older version kept raw under ``name`` is
    sealed and its raw row deleted."""
    sealed = q_meta_get(conn, f"{name}_sealed")
    if sealed is not None:
        return keys.open(bytes.fromhex(sealed), label)
    legacy = q_meta_get(conn, name)
    value = bytes.fromhex(legacy) if legacy is not None else fresh
    q_meta_set(conn, f"{name}_sealed", keys.seal(value, label).hex())
    if legacy is not None:
        conn.execute("DELETE FROM meta WHERE key = ?", (name,))
    return value
