"""Signed events (issue 12, part 4): every outbox event is signed with SM2 by the node
that originated it, and every receiver checks the signature before applying it, so a
node that relays an event (national relaying a province's settlement notice) cannot
forge or alter it, and a client that merely claims to be a node cannot plant one.

* **The key.** Each node has an SM2 key pair of its own, in a file (``ecnet-node
  --sign-key``, default ``<data folder>/sign.key``, mode 0600, 64 hexadecimal digits of
  the private key), made at its first start from the node's injected entropy
  (:func:`load_sign_key`). Its public key reaches the others through the directory: a
  province sends it in ``Register``; national keeps it per province and sends its own
  in ``RegisterResponse`` and ``HeartbeatResponse``.
* **What is signed.** :func:`canonical` is the event's bytes in one fixed form: a domain
  tag, then origin, event id, kind, subject, version, the voucher's deterministic
  serialization, the payload and the creation time, each length-prefixed, so no two
  events share a form. ``sequence`` is not signed: it is the position in one hop's
  outbox and changes when national relays or re-queues an event.
* **When.** The origin signs once, when it writes the event to its outbox
  (:meth:`EventSigner.sign`); the signature is stored in the row's body, so it survives
  restarts, retries and re-queued parked events. National relaying a notice passes the
  origin's signature unchanged and adds the origin's key it verified it with
  (``originKey``) and, when it sends it, its endorsement of that key
  (:meth:`EventSigner.endorse`): a province takes another province's key only on
  national's signature.
* **Who checks.** National checks a province's notices against the key in its
  directory (``federation.relay``); a province checks national's events against
  national's key and a relayed notice against the endorsed origin key
  (``federation.inbox``), through :class:`EventVerifier`. One SM2 verification per
  event; endorsements are verified once per (origin, key) and remembered.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ecnet.v1 import federation_service_pb2 as fed_pb
from node.clock import Entropy
from node.domain.sm import DEFAULT_UID, sm2_public_key, sm2_sign, sm2_verify

__all__ = [
    "EVENT_TAG",
    "Endorsements",
    "KEY_TAG",
    "EventSigner",
    "EventVerifier",
    "SignKeyError",
    "canonical",
    "endorsement_message",
    "load_sign_key",
    "signature_problem",
]

EVENT_TAG = b"ecnet.v1.Event/1"
KEY_TAG = b"ecnet.v1.OriginKey/1"


class SignKeyError(ValueError):
    """The signing key file cannot be used; the message says why and where."""


def _field(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def canonical(e: fed_pb.Event) -> bytes:
    """The bytes an event's signature covers (see the module docstring)."""
    voucher = e.voucher.SerializeToString(deterministic=True) if e.HasField("voucher") else b""
    return b"".join(
        (
            _field(EVENT_TAG),
            _field(e.origin.encode()),
            _field(e.eventId.encode()),
            _field(e.kind.encode()),
            _field(e.ecCardNo.encode()),
            struct.pack(">q", e.version),
            _field(voucher),
            _field(e.payloadJson.encode()),
            struct.pack(">qi", e.createdAt.seconds, e.createdAt.nanos),
        )
    )


def endorsement_message(origin: str, key: bytes) -> bytes:
    """What national signs to vouch that ``key`` is ``origin``'s signing key."""
    return KEY_TAG + b"\x00" + origin.encode() + b"\x00" + key


@dataclass(frozen=True)
class EventSigner:
    """A node's signing key and its name (``national`` or ``pNN``)."""

    origin: str
    private_key: bytes = field(repr=False)
    public_key: bytes = b""

    def __post_init__(self) -> None:
        if not self.public_key:
            object.__setattr__(self, "public_key", sm2_public_key(self.private_key))

    def sign(self, e: fed_pb.Event) -> fed_pb.Event:
        """Name this node the origin of ``e`` and sign it (in place; returns it)."""
        e.origin = self.origin
        e.ClearField("originKey")
        e.ClearField("originKeyEndorsement")
        e.signature = sm2_sign(self.private_key, canonical(e), DEFAULT_UID)
        return e

    def endorse(self, origin: str, key: bytes) -> bytes:
        """National's signature vouching that ``key`` is ``origin``'s signing key."""
        return sm2_sign(self.private_key, endorsement_message(origin, key), DEFAULT_UID)


class Endorsements:
    """National's endorsements of the keys of relayed events, made when an event is
    sent (``federation.delivery``), so they are always under national's current key:
    one signature per (origin, key), remembered."""

    def __init__(self, signer: EventSigner) -> None:
        self.signer = signer
        self._made: dict[tuple[str, bytes], bytes] = {}

    def __call__(self, e: fed_pb.Event) -> None:
        """Endorse ``e``'s ``originKey`` when it is a relayed event (another origin)."""
        if e.origin == self.signer.origin or not e.originKey:
            return
        made = self._made.get((e.origin, e.originKey))
        if made is None:
            made = self._made[(e.origin, e.originKey)] = self.signer.endorse(e.origin, e.originKey)
        e.originKeyEndorsement = made


def signature_problem(e: fed_pb.Event, key: bytes) -> str | None:
    """Why ``e``'s signature does not verify with ``key``; None when it does."""
    if not e.signature:
        return "no signature"
    if not key:
        return f"no signing key known for {e.origin!r}"
    if not sm2_verify(key, canonical(e), e.signature, DEFAULT_UID):
        return f"signature does not verify with {e.origin}'s key"
    return None


@dataclass
class EventVerifier:
    """A province's check of what national delivers: national's own events against
    ``national_key``; a notice relayed from ``pNN`` against the ``originKey`` national
    endorsed. ``national_key`` is set from national's answers (register, heartbeat)."""

    national_key: bytes = b""
    _endorsed: set[tuple[str, bytes, bytes, bytes]] = field(default_factory=set, repr=False)

    def problem(self, e: fed_pb.Event) -> str | None:
        """Why ``e`` may not be applied here; None when its signature holds."""
        if not e.origin:
            return "no origin"
        if e.origin == "national":
            return signature_problem(e, self.national_key)
        if not self.national_key:
            return "national's signing key is not known yet"
        if not e.originKey or not e.originKeyEndorsement:
            return f"relayed from {e.origin} without national's endorsement of its key"
        seen = (e.origin, e.originKey, e.originKeyEndorsement, self.national_key)
        if seen not in self._endorsed:
            message = endorsement_message(e.origin, e.originKey)
            if not sm2_verify(self.national_key, message, e.originKeyEndorsement, DEFAULT_UID):
                return f"national's endorsement of {e.origin}'s key does not verify"
            if len(self._endorsed) > 1024:  # keys change rarely; a bound all the same
                self._endorsed.clear()
            self._endorsed.add(seen)
        return signature_problem(e, e.originKey)


def load_sign_key(path: Path, entropy: Entropy) -> bytes:
    """The node's SM2 private key from ``path``, made there (mode 0600, from
    ``entropy``) when the file does not exist. Raises :class:`SignKeyError` for a file
    that cannot be read or holds no valid key."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return _create(path, entropy)
    except (OSError, UnicodeDecodeError) as exc:
        raise SignKeyError(f"cannot read signing key {path}: {exc}") from None
    try:
        key = bytes.fromhex(text)
        sm2_public_key(key)
    except ValueError:
        raise SignKeyError(
            f"signing key {path} is not an SM2 private key (64 hexadecimal digits); "
            "move it away and a new one is made at the next start"
        ) from None
    return key


def _create(path: Path, entropy: Entropy) -> bytes:
    while True:  # a random 32 bytes is a valid key but for a vanishing few
        key = entropy.token_bytes(32)
        try:
            sm2_public_key(key)
            break
        except ValueError:
            continue
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        # Never replaces a key another process made meanwhile.
        os.link(tmp, path)
    except FileExistsError:
        os.unlink(tmp)
        return load_sign_key(path, entropy)
    except OSError as exc:
        raise SignKeyError(f"cannot create signing key {path}: {exc.strerror}") from None
    os.unlink(tmp)
    return key
