"""Secrets at rest: a node's master key, the keys derived from it, sealing with
SM4-GCM, and the keyed hashes of authorization codes (issue 12, part 5).

Every node has one secret file, its **master key** (16 random bytes, mode 0600), read
at start from ``--master-key PATH`` (or ``ECNET_MASTER_KEY``), by default
``<data folder>/master.key``, made at the first start from the node's injectable
entropy. It is never written to the database. Everything else is derived from it, once
per process (HMAC-SM3 with a label, :class:`NodeKeys`):

- the **sealing key** (SM4, 128 bits): QR keys, face templates, and the answers kept for
  a retried ``requestId`` that hold an authorization code are stored as
  ``01 || nonce(12) || SM4-GCM ciphertext || tag(16)``, with a label of what the value
  is as associated data (a sealed face cannot be passed off as a QR key);
- the **code key** (HMAC-SM3): an authorization code is found by
  ``HMAC-SM3(code key, digest)``, where ``digest = SM3("ecnet/authCode/v1" || code)``
  (:func:`code_digest`). National makes a code and gives it to the channel once; every
  node keeps only the keyed hash of its digest. Between nodes (events, ``FetchVoucher``)
  only the digest travels (``Authorization.authCodeDigest``): a one-way function of
  128 random bits, which no one can present as a code, and from which each receiver
  makes its own keyed hash;
- the **check value**: ``HMAC-SM3(master, "ecnet/key-check/v1")``, kept in ``meta``; a
  node started with another master key than the one that sealed its data refuses to
  start with one line (:class:`WrongMasterKey`).
"""

from __future__ import annotations

import contextlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from node.clock import Entropy
from node.domain.sm import hmac_sm3, sm3_hex

__all__ = [
    "KEY_CHECK_META",
    "MASTER_KEY_BYTES",
    "MASTER_KEY_ENV",
    "MasterKeyError",
    "NodeKeys",
    "SealError",
    "WrongMasterKey",
    "code_digest",
    "load_master_key",
]

MASTER_KEY_BYTES = 16
MASTER_KEY_ENV = "ECNET_MASTER_KEY"
KEY_CHECK_META = "master_key_check"
_SEALED_VERSION = b"\x01"
_NONCE = 12
_TAG = 16


class MasterKeyError(Exception):
    """The master key file cannot be used; the message says why in one line."""


class WrongMasterKey(MasterKeyError):
    """The database was sealed under another master key."""


class SealError(Exception):
    """A sealed value does not open under this node's key (altered or another key)."""


def code_digest(code: str) -> str:
    """What travels between nodes instead of an authorization code: 64 hex digits."""
    return sm3_hex(b"ecnet/authCode/v1\x1f" + code.upper().encode())


def load_master_key(path: Path, entropy: Entropy) -> bytes:
    """The master key in ``path``: 32 hex digits (a newline allowed). A missing file is
    made (mode 0600, from ``entropy``, written atomically); a file readable by others,
    unreadable, or not 32 hex digits is refused."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(entropy.token_bytes(MASTER_KEY_BYTES).hex() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)  # never replaces a key another process made meanwhile
        except FileExistsError:
            pass
        except OSError as exc:
            raise MasterKeyError(f"cannot create master key {path}: {exc.strerror}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    try:
        if path.stat().st_mode & 0o077:
            raise MasterKeyError(
                f"master key {path} is readable by others (mode "
                f"{path.stat().st_mode & 0o777:o}): chmod 600 {path}"
            )
        text = path.read_text().strip()
    except OSError as exc:
        raise MasterKeyError(f"cannot read master key {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        text = ""
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != MASTER_KEY_BYTES:
        raise MasterKeyError(f"master key {path} is not {2 * MASTER_KEY_BYTES} hex digits")
    return key


@dataclass(frozen=True)
class NodeKeys:
    """The keys of one node, derived from its master key once."""

    master: bytes = field(repr=False)
    entropy: Entropy = field(repr=False)
    code_key: bytes = field(init=False, repr=False)
    seal_key: bytes = field(init=False, repr=False)
    check_value: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.master) != MASTER_KEY_BYTES:
            raise MasterKeyError(f"a master key is {MASTER_KEY_BYTES} bytes")
        object.__setattr__(self, "code_key", hmac_sm3(self.master, b"ecnet/code-key/v1"))
        object.__setattr__(self, "seal_key", hmac_sm3(self.master, b"ecnet/seal-key/v1")[:16])
        object.__setattr__(
            self, "check_value", hmac_sm3(self.master, b"ecnet/key-check/v1").hex()[:32]
        )

    def check(self, stored: str | None, where: str) -> None:
        """Refuse (:class:`WrongMasterKey`) when ``stored`` is another key's check value."""
        if stored is not None and not hmac.compare_digest(stored, self.check_value):
            raise WrongMasterKey(
                f"{where} was sealed under another master key: start the node with the "
                "master key it was made with (--master-key PATH or ECNET_MASTER_KEY)"
            )

    # -- authorization codes -----------------------------------------------------------
    def digest_key(self, digest: str) -> str:
        """The keyed hash a node keeps of a code whose digest is ``digest`` (64 hex)."""
        return hmac_sm3(self.code_key, bytes.fromhex(digest)).hex()

    def code_hash(self, code: str) -> str:
        """The keyed hash of a code presented by a channel: its lookup key."""
        return self.digest_key(code_digest(code))

    # -- sealing -----------------------------------------------------------------------
    def seal(self, plain: bytes, label: str) -> bytes:
        nonce = self.entropy.token_bytes(_NONCE)
        enc = Cipher(algorithms.SM4(self.seal_key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(label.encode())
        body = enc.update(plain) + enc.finalize()
        return _SEALED_VERSION + nonce + body + enc.tag

    def open(self, sealed: bytes, label: str) -> bytes:
        if len(sealed) < 1 + _NONCE + _TAG or sealed[:1] != _SEALED_VERSION:
            raise SealError(f"not a sealed {label}")
        nonce, body, tag = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE : -_TAG], sealed[-_TAG:]
        dec = Cipher(algorithms.SM4(self.seal_key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(label.encode())
        try:
            return dec.update(body) + dec.finalize()
        except InvalidTag:
            raise SealError(f"the sealed {label} does not open under this node's key") from None
