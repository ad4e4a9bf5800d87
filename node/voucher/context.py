"""What every lifecycle function works with, and the checks they share.

:class:`Lifecycle` bundles the national store, the injected clock and entropy, the
settings, the biometric verifier and the password hasher. The ``check_*`` helpers run
inside a transaction (or a read) and raise :class:`~node.errors.EcError` with the C.4
code of the first problem; they are the one place each rule is decided:

- channel identity (``ec-channel-id``): missing or unknown → 500012, not approved → -4;
- an identity from a request: normalized then validated (-2) before any lookup;
- the person: none with that id → 500050; another name → 500057;
- an authorization code presented by a channel (see :func:`check_auth_code`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from node.clock import Clock, Entropy
from node.domain.display import parse_auth_code, unknown_code
from node.domain.idno import ID_TYPES, normalize_id, validate_id
from node.domain.sm import sm3_hex
from node.domain.voucher_state import SUPERSEDED
from node.errors import EcError, Problems, invalid
from node.storage import national as q
from node.storage.national import AuthRow, ChannelRow, NationalStore, PersonRow
from node.storage.secrets import DIGEST_LABEL, q_sealed_secret
from node.vault import NodeKeys, code_digest
from node.voucher.biometric import LivenessVerifier
from node.voucher.buckets import PersonBuckets
from node.voucher.model import OFFICIAL, Identity
from node.voucher.password import PasswordHasher
from node.voucher.settings import LifecycleSettings
from node.wire.signing import EventSigner

__all__ = [
    "Lifecycle",
    "check_auth_code",
    "check_channel",
    "check_official",
    "check_person",
    "check_same_identity",
    "check_serial",
    "identity_tag",
    "parse_identity",
]

KEY_META = "voucher_key"


@dataclass
class Lifecycle:
    """The dependencies of the voucher lifecycle (one per national node)."""

    store: NationalStore
    clock: Clock
    entropy: Entropy
    settings: LifecycleSettings
    verifier: LivenessVerifier
    # National's SM2 key: every outbox event is signed with it (node.wire.signing).
    signer: EventSigner
    # The node's keys (node.vault): authorization codes by keyed hash, sealed secrets.
    keys: NodeKeys
    wake: Callable[[], None] = lambda: None
    hasher: PasswordHasher = field(init=False)
    # Real-person checks that lift a freeze, per person (settings unfreeze_*).
    unfreezes: PersonBuckets = field(init=False)
    _key: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.hasher = PasswordHasher(self.settings.password_iterations, self.entropy)
        self.unfreezes = PersonBuckets(
            self.settings.unfreeze_burst, self.settings.unfreeze_refill_seconds * 1000
        )

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def serial(self, prefix: str) -> str:
        """A fresh unguessable serial, e.g. ``rn-`` + 32 hex digits."""
        return f"{prefix}-{self.entropy.token_hex(16)}"

    def auth_code(self) -> str:
        """A fresh personal channel authorization code: 32 uppercase hex digits."""
        return self.entropy.token_hex(16).upper()

    def code_row(self, code: str) -> tuple[str, bytes]:
        """What national keeps of a new code (never the code): its keyed hash and the
        digest that events carry, sealed."""
        digest = code_digest(code)
        return self.keys.digest_key(digest), self.keys.seal(bytes.fromhex(digest), DIGEST_LABEL)

    def digest_of(self, auth: AuthRow) -> str:
        """The digest of an authorization's code, for the provinces (events, fetches)."""
        if auth.code_digest is None:
            return ""
        return self.keys.open(auth.code_digest, DIGEST_LABEL).hex()

    async def key(self) -> bytes:
        """The national SM4 key of voucher numbers: made once per national database
        from the node's entropy and kept sealed in its ``meta`` table."""
        if self._key is None:
            fresh = self.entropy.token_bytes(16)
            self._key = await self.store.transact(
                q_sealed_secret, self.keys, KEY_META, fresh, KEY_META
            )
        return self._key


def identity_tag(person: PersonRow | Identity) -> str:
    """Fingerprint of the identity a flow began with (no personal data stored)."""
    return sm3_hex(f"{person.id_type}|{person.id_no}|{person.user_name}".encode())[:32]


def parse_identity(
    user_name: str,
    id_type: str,
    id_no: str,
    *,
    need_name: bool = True,
    problems: Problems | None = None,
) -> Identity:
    """The canonical identity of a request, or -2 before anything is looked up.

    Every problem of the three fields is named in one refusal, with whatever
    ``problems`` holds already (the request's other fields, checked by the caller).
    """
    p = problems if problems is not None else Problems()
    name = user_name.strip()
    if need_name:
        p.require("userName", name)
    known_type = False
    if p.require("idType", id_type):
        known_type = id_type in ID_TYPES
        if not known_type:
            p.wrong(
                "idType",
                f"{id_type!r} is not a code of table C.2 (e.g. 01 for the resident id card)",
            )
    canonical = normalize_id(id_type, id_no)
    if p.require("idNo", canonical) and known_type:
        problem = validate_id(id_type, canonical)
        if problem:
            p.wrong("idNo", f"not a valid number of id type {id_type}: {problem}")
    p.check()
    return Identity(name, id_type, canonical)


def check_channel(conn: sqlite3.Connection, channel_id: str) -> ChannelRow:
    """The calling channel, which must be registered and approved."""
    if not channel_id:
        raise EcError(500012, "no channel: send the channel id in the ec-channel-id metadata")
    channel = q.q_channel(conn, channel_id)
    if channel is None:
        raise EcError(
            500012, f"channel {channel_id!r} is not registered with the national platform"
        )
    if channel.status != "approved":
        raise EcError(-4, f"channel {channel_id!r} is {channel.status}, not approved (4.3)")
    return channel


def check_official(channel: ChannelRow, what: str) -> None:
    if channel.kind != OFFICIAL:
        raise EcError(
            500091,
            f"{what} is only for the official NHSA channel (4.7), not for {channel.channel_id}",
        )


def check_person(
    conn: sqlite3.Connection, ident: Identity, *, check_name: bool = True
) -> PersonRow:
    """The registered person with this id; 500050 if none, 500057 if the name differs."""
    person = q.q_person(conn, ident.id_type, ident.id_no)
    if person is None:
        raise EcError(500050, "no person with this id type and id number in the base registry")
    if check_name and person.user_name != ident.user_name:
        raise EcError(500057, "the name does not match the base registry for this id number")
    return person


def check_auth_code(
    conn: sqlite3.Connection, channel: ChannelRow, auth_code: str, keys: NodeKeys
) -> AuthRow:
    """The live authorization behind a code presented by ``channel``, found by the
    code's keyed hash under ``keys``.

    The codes are those of every node (the table in :mod:`node.errors`, the same rules
    as a display, :mod:`node.domain.display`): empty → -2; not 32 hexadecimal digits →
    500087; no such code → 500040; a code issued to another channel → 500003; the
    voucher superseded by a change of identity → 500002; revoked by the holder → 500022.
    """
    auth_code = parse_auth_code(auth_code)
    auth = q.q_authorization(conn, keys.code_hash(auth_code))
    if auth is None:
        raise unknown_code()
    if auth.channel_id != channel.channel_id:
        raise EcError(500003, f"this authCode was not issued to channel {channel.channel_id}")
    if auth.revoked_at is not None:
        voucher = q.q_voucher(conn, auth.ec_card_no)
        if voucher is not None and voucher.state == SUPERSEDED:
            raise EcError(
                500002,
                "the voucher of this authCode was superseded by a change of name or id "
                "number: the holder must activate the new voucher (6.1.3)",
            )
        raise EcError(
            500022, "the holder revoked this channel's authorization: authorize the channel again"
        )
    return auth


_SERIAL_LABELS = {
    "real_name": "realNameSerial",
    "real_person": "realPersonSerial",
    "password_page": "pageSession",
    "password": "passwordSerial",
}


def check_serial(
    conn: sqlite3.Connection,
    serial: str,
    kind: str,
    channel_id: str,
    now_ms: int,
    *,
    code: int = 500037,
    allow_used: bool = False,
) -> q.SerialRow:
    """A serial of ``kind`` issued to ``channel_id``, not expired, not used.

    Anything else is ``code`` (500037, an invalid real-person serial, by default): a
    serial of another channel is as unknown as one never issued.
    """
    label = _SERIAL_LABELS[kind]
    if not serial:
        raise invalid(f"{label} is required")
    row = q.q_serial(conn, serial)
    if row is None or row.kind != kind or row.channel_id != channel_id:
        raise EcError(code, f"{label} is not one the national platform issued to this channel")
    if row.used_at is not None and not allow_used:
        raise EcError(code, f"{label} was already used; start again with a real-name check")
    if row.expires_at <= now_ms:
        raise EcError(code, f"{label} has expired; start again with a real-name check")
    return row


def check_same_identity(conn: sqlite3.Connection, serial: q.SerialRow) -> PersonRow:
    """The person a flow began with, whose name and id must not have changed since."""
    person = q.q_person_by_id(conn, serial.person_id)
    if person is None or identity_tag(person) != serial.identity_tag:
        raise EcError(
            500058,
            "the person's name or id changed in the base registry during this activation; "
            "start again",
        )
    return person
