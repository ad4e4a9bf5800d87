"""Coroutine access to the national database (:class:`NationalStore`): the calls the
services and ``federation/`` make on their own, plus ``query`` / ``transact`` for the
lifecycle code that composes the ``q_*`` functions of this package into one read or
one write transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar, TypeVarTuple

from node.storage import outbox
from node.storage.db import RoleStore
from node.storage.migrations.national import MIGRATIONS
from node.storage.national.channels import (
    ChannelRow,
    TerminalRow,
    q_channel,
    q_list_channels,
    q_list_terminals,
)
from node.storage.national.directory import (
    NodeRow,
    q_deregister,
    q_get_node,
    q_heartbeat,
    q_list_nodes,
    q_put_node,
)
from node.storage.national.registry import PersonRow, q_list_persons, q_person
from node.storage.national.relay import RelayEvent, RelayResult, q_relay_events
from node.storage.secrets import q_protect_national
from node.vault import NodeKeys

__all__ = ["NationalStore", "COUNTED_TABLES"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# The tables whose row counts a status call reports.
COUNTED_TABLES = ("persons", "vouchers", "authorizations", "channels", "terminals")


class NationalStore(RoleStore):
    """Coroutine access to the national database."""

    MIGRATIONS = MIGRATIONS
    COUNTED_TABLES = COUNTED_TABLES

    async def unlock(self, keys: NodeKeys) -> int:
        """Check the node's master key against the database (``WrongMasterKey``) and
        convert what an older version kept in clear (``node.storage.secrets``)."""
        converted = await self.db.write(q_protect_national, keys, self.db.location)
        self._keys = keys
        if converted:
            await self.db.truncate_wal()
        return converted

    async def list_persons(
        self, insured_province: str, limit: int, after_id: int
    ) -> list[PersonRow]:
        return await self.db.read(q_list_persons, insured_province, limit, after_id)

    async def get_person(self, id_type: str, id_no: str) -> PersonRow | None:
        return await self.db.read(q_person, id_type, id_no)

    async def list_channels(self) -> list[ChannelRow]:
        return await self.db.read(q_list_channels)

    def channel_now(self, channel_id: str) -> ChannelRow | None:
        """A channel by id, read on the calling thread (a call's signature check)."""
        return self.db.read_now(q_channel, channel_id)

    async def list_terminals(self, province: str, limit: int, after: str) -> list[TerminalRow]:
        return await self.db.read(q_list_terminals, province, limit, after)

    async def get_node(self, province: str) -> NodeRow | None:
        return await self.db.read(q_get_node, province)

    async def list_nodes(self) -> list[NodeRow]:
        return await self.db.read(q_list_nodes)

    async def put_node(
        self,
        province: str,
        address: str,
        version: str,
        instance_id: str,
        now_ms: int,
        sign_key: bytes = b"",
        synced: bool = False,
        cert_not_after: int = 0,
    ) -> None:
        """``synced``: the commit is synced (a new signing key must not be lost);
        ``cert_not_after``: when the certificate it called with expires (ms; 0: none)."""
        write = self.db.write if synced else self.db.write_unsynced
        await write(
            q_put_node, province, address, version, instance_id, now_ms, sign_key, cert_not_after
        )

    async def heartbeat(
        self, province: str, instance_id: str, applied: int, now_ms: int, cert_not_after: int = 0
    ) -> bool:
        return await self.db.write_unsynced(
            q_heartbeat, province, instance_id, applied, now_ms, cert_not_after
        )

    async def deregister(self, province: str, instance_id: str, now_ms: int) -> bool:
        return await self.db.write(q_deregister, province, instance_id, now_ms)

    async def relay_events(
        self, origin: str, events: Sequence[RelayEvent], now_ms: int, epoch: str = ""
    ) -> RelayResult:
        """Queue events a province delivered, sent in its outbox ``epoch``, for their
        destinations (idempotent)."""
        return await self.db.write(q_relay_events, origin, list(events), now_ms, epoch)

    async def load_inbox_position(self, origin: str) -> int:
        """The highest outbox seq of province node ``origin`` relayed here."""
        return await self.db.read(outbox.q_inbox_position, origin)

    async def query(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` on a reader (``fn`` composes the ``q_*`` functions)."""
        return await self.db.read(fn, *args)

    async def transact(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` in one write transaction: it commits whole or not at all."""
        return await self.db.write(fn, *args)
