"""The Chinese commercial cryptography (GM / 国密) algorithms ecnet uses: SM2, SM3, SM4.

One module, so the rest of ecnet never imports a crypto library directly.

- SM3 (GB/T 32905), HMAC-SM3 and SM4 (GB/T 32907) run in OpenSSL through
  ``cryptography``.
- SM2 signatures (GB/T 32918, GM/T 0003; signature format GM/T 0009) run in C through
  ``gmalglib``; ``cryptography`` has no SM2. A verification runs in the system's
  OpenSSL when it has SM2 (:mod:`node.domain.sm2_openssl`, 3x faster), else gmalglib.
  A signature signs ``SM3(Z_A || M)``, where ``Z_A`` binds the signer's public key and
  user id (default ``1234567812345678``), and is the raw 64 bytes ``r || s`` (no DER).
- Passwords: PBKDF2 (RFC 8018) with HMAC-SM3 as the pseudo-random function.

Keys are bytes: an SM4 key is 16 bytes; an SM2 private key 32 bytes big-endian; an SM2
public key 65 bytes ``04 || x || y`` (64-byte ``x || y`` and 33-byte compressed keys are
accepted on input).

Quirks of gmalglib 0.5.9 handled here:

- its module-level ``sm2_verify`` wrapper drops the signature argument (unusable), so
  the ``SM2`` class is used directly;
- ``rnd_fn=None`` raises ``TypeError`` although its stub allows it;
- the bytes of the injectable random function are read as a *little-endian* integer,
  so a fixed ``k`` (written big-endian as usual) is byte-reversed before it goes in;
- it asks the random function again, without limit, while ``k`` is unusable, so a
  fixed ``k`` is handed out once only;
- building a signer costs more than a signature (it derives the public key and
  ``Z_A``), so signer and verifier objects are cached per key and user id. gmalglib
  holds the GIL during its calls, so a shared object is safe across threads.
"""

from __future__ import annotations

import hmac as _hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac
from cryptography.hazmat.primitives import padding as _padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from gmalglib.sm2 import SM2  # no py.typed: mypy sees Any, so its results are annotated

from node.domain import sm2_openssl

__all__ = [
    "DEFAULT_UID",
    "SM2_N",
    "Sm2KeyPair",
    "hmac_sm3",
    "password_hash",
    "password_verify",
    "sm2_generate_keypair",
    "sm2_public_key",
    "sm2_public_key_valid",
    "sm2_sign",
    "sm2_verify",
    "sm3",
    "sm3_hex",
    "sm4_decrypt_cbc",
    "sm4_decrypt_ecb",
    "sm4_encrypt_cbc",
    "sm4_encrypt_ecb",
]

DEFAULT_UID = b"1234567812345678"
"""The default SM2 user id of GM/T 0009 (used when the parties agreed on no other)."""

SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""Order of the base point of the SM2 recommended curve."""

_SM3 = hashes.SM3()
_BLOCK = 16


# --------------------------------------------------------------------------- SM3


def sm3(data: bytes) -> bytes:
    """SM3 digest of ``data`` (32 bytes)."""
    h = hashes.Hash(_SM3)
    h.update(data)
    return h.finalize()


def sm3_hex(data: bytes) -> str:
    """SM3 digest of ``data`` as 64 lowercase hex characters."""
    return sm3(data).hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC-SM3 (RFC 2104) of ``data`` under ``key``; 32 bytes."""
    h = _crypto_hmac.HMAC(key, _SM3)
    h.update(data)
    return h.finalize()


# --------------------------------------------------------------------------- SM4


def _check_key(key: bytes) -> None:
    if len(key) != _BLOCK:
        raise ValueError(f"SM4 key must be 16 bytes, got {len(key)}")


def _check_blocks(data: bytes) -> None:
    if len(data) % _BLOCK:
        raise ValueError(f"data length {len(data)} is not a multiple of 16")


def sm4_encrypt_ecb(key: bytes, data: bytes) -> bytes:
    """SM4-ECB encryption without padding; ``len(data)`` must be a multiple of 16."""
    _check_key(key)
    _check_blocks(data)
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return enc.update(data) + enc.finalize()


def sm4_decrypt_ecb(key: bytes, data: bytes) -> bytes:
    """SM4-ECB decryption without padding; ``len(data)`` must be a multiple of 16."""
    _check_key(key)
    _check_blocks(data)
    dec = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()
    return dec.update(data) + dec.finalize()


def sm4_encrypt_cbc(key: bytes, iv: bytes, data: bytes, pad: bool = True) -> bytes:
    """SM4-CBC encryption; PKCS#7 padding unless ``pad`` is False (then whole blocks only)."""
    _check_key(key)
    if len(iv) != _BLOCK:
        raise ValueError(f"SM4 IV must be 16 bytes, got {len(iv)}")
    if pad:
        padder = _padding.PKCS7(128).padder()
        data = padder.update(data) + padder.finalize()
    else:
        _check_blocks(data)
    enc = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def sm4_decrypt_cbc(key: bytes, iv: bytes, data: bytes, pad: bool = True) -> bytes:
    """SM4-CBC decryption, removing PKCS#7 padding unless ``pad`` is False.

    Raises ``ValueError`` when the data is not whole blocks or the padding is bad.
    """
    _check_key(key)
    if len(iv) != _BLOCK:
        raise ValueError(f"SM4 IV must be 16 bytes, got {len(iv)}")
    _check_blocks(data)
    dec = Cipher(algorithms.SM4(key), modes.CBC(iv)).decryptor()
    plain = dec.update(data) + dec.finalize()
    if not pad:
        return plain
    if not plain:
        raise ValueError("no data to unpad")
    unpadder = _padding.PKCS7(128).unpadder()
    return unpadder.update(plain) + unpadder.finalize()


# --------------------------------------------------------------------------- SM2


@dataclass(frozen=True)
class Sm2KeyPair:
    """An SM2 key pair: 32-byte private key, 65-byte uncompressed public key ``04||x||y``."""

    private_key: bytes = field(repr=False)
    public_key: bytes

    @classmethod
    def from_private_key(cls, private_key: bytes) -> Sm2KeyPair:
        """The key pair of ``private_key`` (``ValueError`` when it is not a valid key)."""
        return cls(_as_bytes(private_key), sm2_public_key(private_key))


def sm2_generate_keypair(rng: Callable[[int], bytes] | None = None) -> Sm2KeyPair:
    """A fresh SM2 key pair.

    ``rng(n)`` returns ``n`` random bytes (e.g. ``Entropy.token_bytes``); by default the
    operating system's generator. Inject a seeded one only for reproducible tests.
    """
    # gmalglib rejects rnd_fn=None despite its stub: leave the argument out instead.
    sk, pk = (SM2() if rng is None else SM2(rnd_fn=rng)).generate_keypair()
    return Sm2KeyPair(sk, pk)


def sm2_public_key(private_key: bytes) -> bytes:
    """The 65-byte uncompressed public key of a 32-byte private key."""
    private_key = _as_bytes(private_key)
    if len(private_key) != 32 or not SM2.is_sk_valid(private_key):
        raise ValueError("invalid SM2 private key")
    public_key: bytes = SM2.get_pk(private_key)
    return public_key


def sm2_public_key_valid(public_key: bytes) -> bool:
    """True for a 65-byte uncompressed public key ``04||x||y`` on the SM2 curve."""
    try:
        key = _as_bytes(public_key)
        return len(key) == 65 and key[0] == 4 and bool(SM2.is_pk_valid(key))
    except Exception:  # the contract is a boolean, whatever the input
        return False


def _as_bytes(value: bytes) -> bytes:
    # memoryview accepts bytes-like objects only (bytes(3) would quietly be b"\0\0\0").
    return memoryview(value).tobytes()


def _normalize_pk(public_key: bytes) -> bytes:
    if len(public_key) == 64:
        return b"\x04" + public_key
    return public_key


@lru_cache(maxsize=256)
def _signer(private_key: bytes, uid: bytes) -> SM2:
    return SM2(sk=private_key, uid=uid)


@lru_cache(maxsize=4096)
def _verifier(public_key: bytes, uid: bytes) -> SM2:
    return SM2(pk=public_key, uid=uid)


def sm2_sign(
    private_key: bytes, message: bytes, uid: bytes = DEFAULT_UID, *, k: int | None = None
) -> bytes:
    """Sign ``message`` with SM2 over ``SM3(Z_A || message)``; returns 64 bytes ``r || s``.

    ``k`` fixes the per-signature random number, for published test vectors only: a
    repeated ``k`` reveals the private key. ``ValueError`` for an invalid private key, or
    a ``k`` outside ``[1, n-1]`` or one that yields ``r = 0``, ``r + k = n`` or ``s = 0``.
    """
    private_key, message, uid = _as_bytes(private_key), _as_bytes(message), _as_bytes(uid)
    if len(private_key) != 32 or not SM2.is_sk_valid(private_key):
        raise ValueError("invalid SM2 private key")
    if k is None:
        signature: bytes = _signer(private_key, uid).sign(message)
        return signature
    if not 1 <= k < SM2_N:
        raise ValueError("k must be in [1, n-1]")
    supply = [k.to_bytes(32, "little")]  # gmalglib reads its random bytes little-endian

    def once(n: int) -> bytes:
        if n != 32 or not supply:
            # gmalglib asks again only when k was unusable; fail instead of looping.
            raise ValueError("k rejected")
        return supply.pop()

    try:
        signature = SM2(sk=private_key, uid=uid, rnd_fn=once).sign(message)
        return signature
    except RuntimeError as exc:
        raise ValueError("k yields an invalid signature (r = 0, r + k = n or s = 0)") from exc


def sm2_verify(
    public_key: bytes, message: bytes, signature: bytes, uid: bytes = DEFAULT_UID
) -> bool:
    """True when ``signature`` (64 bytes ``r || s``) is a valid SM2 signature of ``message``.

    Never raises: a malformed key or signature, or an argument of the wrong type, gives
    False.
    """
    try:
        signature = _as_bytes(signature)
        if len(signature) != 64:
            return False
        key, message, uid = _normalize_pk(_as_bytes(public_key)), _as_bytes(message), _as_bytes(uid)
        if len(key) == 65 and key[0] == 4:  # OpenSSL's, 3x faster, when it has SM2 here
            fast = sm2_openssl.verify(key, message, signature, uid)
            if fast is not None:
                return fast
        return bool(_verifier(key, uid).verify(message, signature))
    except Exception:  # the contract is a boolean, whatever the input
        return False


# ------------------------------------------------------------------- passwords


def password_hash(password: str, salt: bytes, iterations: int, length: int = 32) -> bytes:
    """PBKDF2 (RFC 8018) with HMAC-SM3 of the UTF-8 ``password``; ``length`` bytes."""
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    kdf = PBKDF2HMAC(algorithm=_SM3, length=length, salt=salt, iterations=iterations)
    return kdf.derive(password.encode("utf-8"))


def password_verify(password: str, salt: bytes, iterations: int, expected: bytes) -> bool:
    """True when ``password`` hashes to ``expected``; compares in constant time."""
    actual = password_hash(password, salt, iterations, length=len(expected) or 32)
    return _hmac.compare_digest(actual, expected)
