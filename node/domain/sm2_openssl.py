"""SM2 signature verification in the system's OpenSSL (libcrypto 3), through ctypes.

gmalglib verifies an SM2 signature in about 1.2 ms (a generic scalar multiplication of
the signer's point); OpenSSL in about 0.35 ms. A node verifies a signature on every call
of a channel (node.domain.channelsig), so :func:`node.domain.sm.sm2_verify` uses this
when the machine's libcrypto has SM2 (OpenSSL 3 built without ``no-sm2``), and
gmalglib otherwise; tests check that both give the same answers. ``cryptography``,
which carries its own OpenSSL, exposes no SM2.

A public key becomes an ``EVP_PKEY`` once (from its SubjectPublicKeyInfo: id-ecPublicKey
with the SM2 curve, OID 1.2.156.10197.1.301), kept for the next calls (at most
:data:`CACHE` keys; the oldest freed). Each verification: an ``EVP_MD_CTX`` with SM3 and
the user id set on its ``EVP_PKEY_CTX``, the signature ``r || s`` DER-encoded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections import OrderedDict

__all__ = ["available", "verify"]

CACHE = 1024
# SEQUENCE { SEQUENCE { id-ecPublicKey, sm2 }, BIT STRING (0 unused bits) }, then 04||x||y
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
_P = ctypes.c_void_p


def _load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        if lib.OpenSSL_version_num() < 0x30000000:
            return None
        lib.d2i_PUBKEY.restype = _P
        lib.d2i_PUBKEY.argtypes = [_P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]
        lib.EVP_PKEY_free.argtypes = [_P]
        lib.EVP_MD_CTX_new.restype = _P
        lib.EVP_MD_CTX_free.argtypes = [_P]
        lib.EVP_MD_CTX_set_pkey_ctx.argtypes = [_P, _P]
        lib.EVP_PKEY_CTX_new.restype = _P
        lib.EVP_PKEY_CTX_new.argtypes = [_P, _P]
        lib.EVP_PKEY_CTX_free.argtypes = [_P]
        lib.EVP_PKEY_CTX_set1_id.argtypes = [_P, ctypes.c_char_p, ctypes.c_int]
        lib.EVP_sm3.restype = _P
        lib.EVP_DigestVerifyInit.argtypes = [_P, _P, _P, _P, _P]
        lib.EVP_DigestVerify.argtypes = [
            _P,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.ERR_clear_error.argtypes = []
        if not lib.EVP_sm3():
            return None
    except (OSError, AttributeError):
        return None
    return lib


_lib = _load()
_keys: OrderedDict[bytes, int] = OrderedDict()
_lock = threading.Lock()


def _pkey(lib: ctypes.CDLL, public_key: bytes) -> int | None:
    with _lock:
        found = _keys.get(public_key)
        if found is not None:
            _keys.move_to_end(public_key)
            return found
        der = _SPKI_PREFIX + public_key
        buf = ctypes.c_char_p(der)
        made = lib.d2i_PUBKEY(None, ctypes.byref(buf), len(der))
        if not made:
            lib.ERR_clear_error()
            return None
        _keys[public_key] = made
        while len(_keys) > CACHE:
            lib.EVP_PKEY_free(_keys.popitem(last=False)[1])
        return int(made)


def _der_int(b: bytes) -> bytes:
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b


def available() -> bool:
    """True when the system's OpenSSL verifies SM2 here."""
    return _lib is not None and _pkey(_lib, _PROBE_KEY) is not None


def verify(public_key: bytes, message: bytes, signature: bytes, uid: bytes) -> bool | None:
    """Does ``signature`` (64 bytes ``r || s``) sign ``message`` under ``public_key``
    (65 bytes) and ``uid``? None when OpenSSL cannot answer (no SM2 here, a key it
    cannot read): the caller asks gmalglib."""
    lib = _lib
    if lib is None or len(public_key) != 65 or len(signature) != 64:
        return None
    pkey = _pkey(lib, public_key)
    if pkey is None:
        return None
    body = _der_int(signature[:32]) + _der_int(signature[32:])
    der = b"\x30" + bytes([len(body)]) + body
    md = lib.EVP_MD_CTX_new()
    pctx = lib.EVP_PKEY_CTX_new(pkey, None)
    try:
        if not md or not pctx or lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1:
            return None
        lib.EVP_MD_CTX_set_pkey_ctx(md, pctx)
        if lib.EVP_DigestVerifyInit(md, None, lib.EVP_sm3(), None, pkey) != 1:
            return None
        ok = bool(lib.EVP_DigestVerify(md, der, len(der), message, len(message)) == 1)
        if not ok:
            lib.ERR_clear_error()
        return ok
    finally:
        lib.EVP_MD_CTX_free(md)
        lib.EVP_PKEY_CTX_free(pctx)


# The SM2 generator point: a valid public key to probe with.
_PROBE_KEY = bytes.fromhex(
    "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
    "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"
)
