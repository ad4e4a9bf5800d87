"""The console's secrets: password hashes, one-time passwords, TOTP and session ids.

A password is kept as ``scrypt(password, salt)`` (``cryptography``'s Scrypt: N=2^15,
r=8, p=1, 32 bytes) with 16 random bytes of salt of its own. An administrator's second
factor is a TOTP secret (RFC 6238, 30 s, 6 digits: what authenticator apps read from
the provisioning URI); it is kept sealed under the national node's key
(:meth:`node.vault.NodeKeys.seal`, labelled with the operator's name). A session id is
32 random bytes; national keeps only its SM3 digest.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

import pyotp
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from node.domain.sm import sm3_hex
from node.vault import NodeKeys

__all__ = [
    "MIN_PASSWORD",
    "SALT_BYTES",
    "hash_password",
    "check_password",
    "one_time_password",
    "new_totp_secret",
    "totp_uri",
    "totp_ok",
    "totp_step",
    "seal_totp",
    "open_totp",
    "new_session_id",
    "session_digest",
    "new_csrf",
]

SALT_BYTES = 16
MIN_PASSWORD = 12
_N, _R, _P, _LEN = 2**15, 8, 1, 32
ISSUER = "ecnet management center"
# The letters of a one-time password: no 0/O, 1/l/I to misread.
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _kdf(salt: bytes) -> Scrypt:
    return Scrypt(salt=salt, length=_LEN, n=_N, r=_R, p=_P)


def hash_password(password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """``(salt, hash)`` of ``password`` (a new random salt unless given)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    return salt, _kdf(salt).derive(password.encode())


def check_password(password: str, salt: bytes, digest: bytes) -> bool:
    try:
        _kdf(salt).verify(password.encode(), digest)
    except InvalidKey:
        return False
    return True


def one_time_password() -> str:
    """20 random letters and digits (about 115 bits), to be replaced at the first login."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(20))


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(name: str, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (often as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def totp_step(secret: str, code: str, at: float) -> int | None:
    """The time-step (``at`` // 30) whose TOTP of ``secret`` is ``code``: the step of
    ``at``, or the one before or after (a clock a little off); None if none is. A code
    is accepted once: the console keeps the last step accepted for each operator and
    refuses a step not after it."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.fromtimestamp(int(at), tz=UTC))
    for step in (now, now - 1, now + 1):
        if step >= 0 and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def totp_ok(secret: str, code: str, at: float) -> bool:
    """Whether ``code`` is the TOTP of ``secret`` at ``at`` (seconds), or of the 30 s step
    before or after (:func:`totp_step`; whether it was used already is not checked)."""
    return totp_step(secret, code, at) is not None


def _label(name: str) -> str:
    return f"console-totp/{name}"


def seal_totp(keys: NodeKeys, name: str, secret: str) -> bytes:
    return keys.seal(secret.encode(), _label(name))


def open_totp(keys: NodeKeys, name: str, sealed: bytes) -> str:
    return keys.open(sealed, _label(name)).decode()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_digest(session_id: str) -> str:
    return sm3_hex(b"ecnet/console-session/v1\x1f" + session_id.encode())


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode(), b.encode())
