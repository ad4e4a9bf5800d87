"""The node directory: every province that registered with national, its address,
instance, state and heartbeat (table ``node_directory`` of national m001). The lease
and the rules of registration are in ``federation/directory.py``."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "NodeRow",
    "q_get_node",
    "q_list_nodes",
    "q_put_node",
    "q_heartbeat",
    "q_deregister",
]


@dataclass(frozen=True, slots=True)
class NodeRow:
    province: str
    address: str
    version: str
    instance_id: str
    state: str
    registered_at: int
    last_heartbeat_at: int
    applied_position: int
    # The province's SM2 public key (node.wire.signing); empty before it sent one.
    sign_key: bytes = b""
    # When the certificate it last called Register or Heartbeat with expires (ms since
    # the epoch); 0: not known (a province on --insecure has none).
    cert_not_after: int = 0


_NODE_COLS = (
    "province, address, version, instance_id, state, registered_at, last_heartbeat_at, "
    "applied_position, sign_key, cert_not_after"
)


def q_get_node(conn: sqlite3.Connection, province: str) -> NodeRow | None:
    r = conn.execute(
        f"SELECT {_NODE_COLS} FROM node_directory WHERE province = ?", (province,)
    ).fetchone()
    return NodeRow(*r) if r else None


def q_list_nodes(conn: sqlite3.Connection) -> list[NodeRow]:
    return [
        NodeRow(*r)
        for r in conn.execute(f"SELECT {_NODE_COLS} FROM node_directory ORDER BY province")
    ]


def q_put_node(
    conn: sqlite3.Connection,
    province: str,
    address: str,
    version: str,
    instance_id: str,
    now_ms: int,
    sign_key: bytes = b"",
    cert_not_after: int = 0,
) -> None:
    """Register (or register again) the node of ``province``: up, heartbeat now, its
    signing key the one it sent, its certificate's expiry the one it called with."""
    conn.execute(
        "INSERT INTO node_directory (province, address, version, instance_id, state, "
        "registered_at, last_heartbeat_at, sign_key, cert_not_after) "
        "VALUES (?,?,?,?, 'up', ?, ?, ?, ?) "
        "ON CONFLICT (province) DO UPDATE SET address = excluded.address, "
        "version = excluded.version, instance_id = excluded.instance_id, state = 'up', "
        "registered_at = excluded.registered_at, last_heartbeat_at = excluded.last_heartbeat_at, "
        "sign_key = excluded.sign_key, cert_not_after = excluded.cert_not_after",
        (province, address, version, instance_id, now_ms, now_ms, sign_key, cert_not_after),
    )


def q_heartbeat(
    conn: sqlite3.Connection,
    province: str,
    instance_id: str,
    applied: int,
    now_ms: int,
    cert_not_after: int = 0,
) -> bool:
    """False when ``instance_id`` is not the registered, running node of ``province``.
    ``cert_not_after``: the expiry of the certificate it called with (a renewed one is
    known from its first heartbeat)."""
    cur = conn.execute(
        "UPDATE node_directory SET last_heartbeat_at = ?, applied_position = ?, "
        "cert_not_after = ? WHERE province = ? AND instance_id = ? AND state = 'up'",
        (now_ms, applied, cert_not_after, province, instance_id),
    )
    return cur.rowcount == 1


def q_deregister(conn: sqlite3.Connection, province: str, instance_id: str, now_ms: int) -> bool:
    cur = conn.execute(
        "UPDATE node_directory SET state = 'stopped', last_heartbeat_at = ? "
        "WHERE province = ? AND instance_id = ?",
        (now_ms, province, instance_id),
    )
    return cur.rowcount == 1
