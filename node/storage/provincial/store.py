"""Coroutine access to a provincial database (:class:`ProvincialStore`): the voucher
cache, the inbox, the notices received, the province's secrets, and the one unsynced
inline writer its scans and QR codes share (:mod:`node.storage.batch`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from node.storage import outbox
from node.storage.batch import WriteBatcher
from node.storage.db import BUSY_TIMEOUT_MS, CACHE_MIB, RoleStore
from node.storage.meta import q_meta_get, q_meta_set
from node.storage.migrations.provincial import MIGRATIONS
from node.storage.provincial.channels import SM4_LABEL, ChannelStatus, q_channel_status
from node.storage.provincial.inbox import ApplyResult, InboundEvent, q_apply_events
from node.storage.provincial.notices import ReceivedNotice, q_list_notices
from node.storage.provincial.vouchers import (
    AuthMatch,
    CachedVoucher,
    VoucherSnapshot,
    q_get_by_code_hash,
    q_get_voucher,
    q_put_voucher,
)
from node.storage.secrets import q_protect_provincial, q_sealed_secret
from node.vault import NodeKeys

__all__ = ["ProvincialStore", "COUNTED_TABLES", "NATIONAL_SIGN_KEY"]

# The ``meta`` key of national's SM2 public key (hexadecimal), which verifies its events.
NATIONAL_SIGN_KEY = "national_sign_key"

# The tables whose row counts a status call reports.
COUNTED_TABLES = (
    "voucher_cache",
    "channel_auths",
    "settlements",
    "settlement_notices",
    "outbox_parked",
)


class ProvincialStore(RoleStore):
    """Coroutine access to a provincial database."""

    MIGRATIONS = MIGRATIONS
    COUNTED_TABLES = COUNTED_TABLES

    def __init__(
        self,
        path: Path | str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        check: bool = True,
        cache_mib: int = CACHE_MIB,
    ) -> None:
        super().__init__(path, synchronous, busy_timeout_ms, check, cache_mib)
        self._unsynced: WriteBatcher | None = None

    async def unlock(self, keys: NodeKeys) -> int:
        """Check the node's master key against the database (``WrongMasterKey``) and
        convert what an older version kept in clear (``node.storage.secrets``)."""
        converted = await self.db.write(q_protect_provincial, keys, self.db.location)
        self._keys = keys
        if converted:
            await self.db.truncate_wal()
        return converted

    @property
    def unsynced(self) -> WriteBatcher:
        """The province's writes whose loss in a power failure costs a repeat and moves
        no money (a scan's claim and token, a QR code): on the loop's thread when
        SQLite's lock is free, not synced (node.storage.batch). One per database, so
        they share one connection and one checkpoint schedule."""
        if self._unsynced is None:
            self._unsynced = WriteBatcher(self.db, inline=True, synced=False)
        return self._unsynced

    async def close(self) -> None:
        if self._unsynced is not None:
            await self._unsynced.close()
        await super().close()

    async def apply_events(
        self, origin: str, events: Sequence[InboundEvent], now_ms: int, epoch: str = ""
    ) -> ApplyResult:
        """Apply a batch delivered from ``origin``'s outbox ``epoch`` in one transaction
        (idempotent; see :mod:`node.storage.provincial.inbox`)."""
        return await self.db.write(
            q_apply_events, origin, list(events), now_ms, epoch, self.keys.digest_key, self._seal
        )

    def _seal(self, sm4_key: bytes) -> bytes:
        return self.keys.seal(sm4_key, SM4_LABEL)

    def _open(self, sealed: bytes) -> bytes:
        return self.keys.open(sealed, SM4_LABEL)

    async def put_voucher(self, snapshot: VoucherSnapshot, source: str, now_ms: int) -> bool:
        """Cache a snapshot from national (e.g. ``'fetched'`` for a visitor) unless a
        newer one is cached; its authorizations kept as keyed hashes."""
        return await self.db.write(q_put_voucher, snapshot, source, now_ms, self.keys.digest_key)

    async def list_notices(self, id_type: str, id_no: str, limit: int) -> list[ReceivedNotice]:
        """Settlement notices received for one person: each settlement's current state."""
        return await self.db.read(q_list_notices, id_type, id_no, limit)

    async def load_applied_position(self, origin: str = "national") -> int:
        """The highest outbox seq of ``origin`` applied here."""
        return await self.db.read(outbox.q_inbox_position, origin)

    async def get_voucher(self, ec_card_no: str) -> CachedVoucher | None:
        return await self.db.read(q_get_voucher, ec_card_no)

    async def secret(self, name: str, fresh: bytes) -> bytes:
        """A per-province secret kept sealed in ``meta`` (e.g. ``qr_key``, the key of the
        QR check digits): ``fresh`` is stored the first time and never replaced."""
        return await self.db.write(q_sealed_secret, self.keys, name, fresh, name)

    async def national_sign_key(self) -> bytes:
        """National's SM2 public key as national last sent it (empty: never)."""
        value = await self.db.read(q_meta_get, NATIONAL_SIGN_KEY)
        return bytes.fromhex(value) if value else b""

    async def set_national_sign_key(self, key: bytes) -> None:
        await self.db.write(q_meta_set, NATIONAL_SIGN_KEY, key.hex())

    async def get_by_auth_code(self, auth_code: str) -> AuthMatch | None:
        """The cached voucher a channel authorization code belongs to (revoked ones too),
        found by the code's keyed hash."""
        return await self.db.read(q_get_by_code_hash, self.keys.code_hash(auth_code))

    async def get_by_code_hash(self, code_hash: str) -> AuthMatch | None:
        """:meth:`get_by_auth_code` by the code's keyed hash (``NodeKeys.code_hash``)."""
        return await self.db.read(q_get_by_code_hash, code_hash)

    def channel_status_now(self, channel_id: str) -> ChannelStatus | None:
        """What national last told this province of a channel, read on the loop's thread
        (its SM4 key opened with the province's vault)."""
        return self.db.read_now(q_channel_status, channel_id, self._open)

    def get_by_code_hash_now(self, code_hash: str) -> AuthMatch | None:
        """:meth:`get_by_code_hash` on the loop's thread (``Database.read_now``)."""
        return self.db.read_now(q_get_by_code_hash, code_hash)
