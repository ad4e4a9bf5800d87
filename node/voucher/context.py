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

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from node.clock import Clock, Entropy
from node.domain.idno import ID_TYPES, normalize_id, validate_id
from node.domain.sm import sm3_hex
from node.errors import EcError, invalid
from node.storage import national as q
from node.storage.national import AuthRow, ChannelRow, NationalStore, PersonRow
from node.voucher.biometric import LivenessVerifier
from node.voucher.model import OFFICIAL, Identity
from node.voucher.password import PasswordHasher
from node.voucher.settings import LifecycleSettings

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
AUTH_CODE = re.compile(r"[0-9A-F]{32}")


@dataclass
class Lifecycle:
    """The dependencies of the voucher lifecycle (one per national node)."""

    store: NationalStore
    clock: Clock
    entropy: Entropy
    settings: LifecycleSettings
    verifier: LivenessVerifier
    wake: Callable[[], None] = lambda: None
    hasher: PasswordHasher = field(init=False)
    _key: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.hasher = PasswordHasher(self.settings.password_iterations, self.entropy)

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def serial(self, prefix: str) -> str:
        """A fresh unguessable serial, e.g. ``rn-`` + 32 hex digits."""
        return f"{prefix}-{self.entropy.token_hex(16)}"

    def auth_code(self) -> str:
        """A fresh personal channel authorization code: 32 uppercase hex digits."""
        return self.entropy.token_hex(16).upper()

    async def key(self) -> bytes:
        """The national SM4 key of voucher numbers: made once per national database
        from the node's entropy and kept in its ``meta`` table."""
        if self._key is None:
            fresh = self.entropy.token_hex(16)
            self._key = bytes.fromhex(await self.store.transact(q.q_meta_init, KEY_META, fresh))
        return self._key


def identity_tag(person: PersonRow | Identity) -> str:
    """Fingerprint of the identity a flow began with (no personal data stored)."""
    return sm3_hex(f"{person.id_type}|{person.id_no}|{person.user_name}".encode())[:32]


def parse_identity(user_name: str, id_type: str, id_no: str, *, need_name: bool = True) -> Identity:
    """The canonical identity of a request, or -2 before anything is looked up."""
    name = user_name.strip()
    if need_name and not name:
        raise invalid("userName is required")
    if not id_type:
        raise invalid("idType is required (table C.2, e.g. 01 for the resident id card)")
    if id_type not in ID_TYPES:
        raise invalid(f"idType {id_type!r} is not a code of table C.2")
    canonical = normalize_id(id_type, id_no)
    problem = validate_id(id_type, canonical)
    if problem:
        raise invalid(f"idNo is not a valid number of id type {id_type}: {problem}")
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


def check_auth_code(conn: sqlite3.Connection, channel: ChannelRow, auth_code: str) -> AuthRow:
    """The live authorization behind a code presented by ``channel``.

    Empty → -2; not 32 uppercase hex digits → 500087; no such code, or a code issued to
    another channel → 500008; revoked (by the holder, or with a superseded voucher) →
    500003: the channel is not (any more) authorized for this person.
    """
    if not auth_code:
        raise invalid("authCode is required")
    auth_code = auth_code.strip().upper()
    if not AUTH_CODE.fullmatch(auth_code):
        raise EcError(500087, "authCode must be 32 hexadecimal digits (0-9, A-F)")
    auth = q.q_authorization(conn, auth_code)
    if auth is None or auth.channel_id != channel.channel_id:
        raise EcError(500008, "authCode is not an authorization code issued to this channel")
    if auth.revoked_at is not None:
        voucher = q.q_voucher(conn, auth.ec_card_no)
        why = (
            "the voucher was superseded; activate again"
            if voucher and voucher.state == 4
            else ("the holder revoked it")
        )
        raise EcError(500003, f"this channel is no longer authorized for the holder: {why}")
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
