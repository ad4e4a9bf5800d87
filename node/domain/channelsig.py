"""Signed channel calls (4.3, 4.6): the one signing helper of the project.

A channel (the official NHSA app, WeChat, Alipay, any third party national approved)
signs every call it makes with its SM2 key, as the deployed open platform does, and
carries the signature in gRPC metadata:

========================  ===========================================================
``ec-app-id``             the channel's ``appId`` (national gave it at approval)
``ec-timestamp``          the time of signing, ms since the epoch
``ec-nonce``              a string of 8-64 letters, digits, ``-`` or ``_``, never sent twice
``ec-sign``               SM2 signature (``r || s``, 64 bytes), hexadecimal
``ec-enc-type``           ``SM4`` when password / id number fields are SM4-encrypted
========================  ===========================================================

**The signature base** (:func:`canonical`): the request as protobuf JSON with the
contract's field names (:func:`message_body`), plus ``appId``, ``timestamp``, ``nonce``
(and ``encType`` when sent) and ``method`` (the full gRPC method,
``ecnet.v1.QrService/IssueQrCode``, so a signature is good for one method only), and
the open platform's envelope fields when the call came in one (``signType``,
``version``: :mod:`node.domain.openplatform`; none for a gRPC call); drop
``signData``, ``encData``, ``extra`` and empty values; sort the keys by ASCII; a nested
object is written as JSON with sorted keys, a list as JSON; join ``k=v`` with ``&``.
The SM2 signature (user id ``1234567812345678``) is over the SM3 digest of that text.

The node checks (node.interceptor): the signature (bad → 500036), the timestamp within
:data:`WINDOW_MS` of its clock and a nonce it has not seen in that window (else -4),
then the channel's status and scopes (-4).

A developer of a channel signs with :func:`sign_metadata`::

    from node.domain.channelsig import sign_metadata
    md = sign_metadata("WECHAT", private_key, "ecnet.v1.QrService/IssueQrCode",
                       {"authCode": code})
    stub.IssueQrCode(IssueQrCodeRequest(authCode=code), metadata=md)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from node.domain.sm import (
    Sm2KeyPair,
    hmac_sm3,
    sm2_generate_keypair,
    sm2_sign,
    sm2_verify,
    sm3,
    sm4_decrypt_ecb,
    sm4_encrypt_ecb,
)

__all__ = [
    "APP_ID",
    "TIMESTAMP",
    "NONCE",
    "SIGN",
    "ENC_TYPE",
    "WINDOW_MS",
    "SIGNED_SERVICES",
    "ALL_SCOPES",
    "ChannelKey",
    "NonceBook",
    "canonical",
    "message_body",
    "signature_base",
    "sign_metadata",
    "sign_message",
    "verify_signature",
    "scope_allows",
    "parse_scopes",
    "sm4_key_for",
    "sm4_seal",
    "sm4_open",
    "ENCRYPTED_FIELDS",
    "valid_app_id",
    "ENVELOPE_FIELDS",
    "SigningInterceptor",
    "AioSigningInterceptor",
    "key_file",
    "load_key",
    "ensure_key",
    "write_key",
    "sm4_key_file",
    "load_sm4_key",
    "write_sm4_key",
]

APP_ID = "ec-app-id"
TIMESTAMP = "ec-timestamp"
NONCE = "ec-nonce"
SIGN = "ec-sign"
ENC_TYPE = "ec-enc-type"
# How far a call's timestamp may be from the node's clock, either way.
WINDOW_MS = 5 * 60 * 1000
# The services whose calls a channel makes and signs.
SIGNED_SERVICES = ("ecnet.v1.VoucherService", "ecnet.v1.QrService")
# Every method of those services: what the seeded channels may call.
ALL_SCOPES = ("ecnet.v1.VoucherService/*", "ecnet.v1.QrService/*")
# Left out of the signature base, as on the open platform.
_EXCLUDED = frozenset({"signData", "encData", "extra"})
_RESERVED = ("appId", "timestamp", "nonce", "method", "encType")
# The open platform's envelope fields that join the signature base of a call that came in
# an envelope (node.domain.openplatform); reserved like appId: no request has a field of
# these names.
ENVELOPE_FIELDS = ("signType", "version")
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_APP_ID = re.compile(r"[A-Z0-9][A-Z0-9_-]{1,31}")
# Fields that a channel may send SM4-encrypted (``ec-enc-type: SM4``).
ENCRYPTED_FIELDS = ("password", "passwordConfirm", "idNo")


def valid_app_id(app_id: str) -> bool:
    """An appId: 2-32 capital letters, digits, ``-`` or ``_``, starting with a letter or digit."""
    return bool(_APP_ID.fullmatch(app_id))


@dataclass(frozen=True, slots=True)
class ChannelKey:
    """What a node knows of a channel to check its calls: its public key (65 bytes,
    ``04||x||y``; empty: none registered), its scopes, its status, the version of its
    key and the SM4 key of its encrypted fields and envelopes (16 bytes; national derives
    it from its master secret and the key's version, :func:`sm4_key_for`, and tells the
    provinces with the channel's record; empty: this node was not told it)."""

    app_id: str
    public_key: bytes
    scopes: tuple[str, ...]
    status: str = "approved"
    reason: str = ""
    key_version: int = 1
    sm4_key: bytes = field(default=b"", repr=False)


def _value(v: object) -> str:
    if isinstance(v, Mapping):
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(v, list | tuple):
        return json.dumps(list(v), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _empty(v: object) -> bool:
    return v is None or (isinstance(v, str | list | tuple | dict) and len(v) == 0)


def canonical(fields: Mapping[str, object]) -> str:
    """The open platform's signature base of ``fields``: ``k=v&…`` sorted by key, without
    ``signData``, ``encData``, ``extra`` and empty values."""
    return "&".join(
        f"{k}={_value(v)}"
        for k, v in sorted(fields.items())
        if k not in _EXCLUDED and not _empty(v)
    )


def message_body(message: Message) -> dict[str, object]:
    """A request as protobuf JSON with the contract's field names (what grpcurl's ``-d``
    says, normalized: int64 as text, bytes as base64, enums by name)."""
    body: dict[str, object] = json_format.MessageToDict(message)
    return body


def signature_base(
    method: str,
    body: Mapping[str, object],
    app_id: str,
    timestamp_ms: int | str,
    nonce: str,
    enc_type: str = "",
    envelope: Mapping[str, str] | None = None,
) -> str:
    """The text a channel signs for one call of ``method`` (``ecnet.v1.QrService/IssueQrCode``,
    a leading ``/`` ignored); ``envelope``: the open platform's envelope fields of a call
    that came in one (``signType``, ``version``; empty values drop out as any other).
    ``ValueError`` when the body has a field of the metadata's or the envelope's names, or
    ``envelope`` names a field that is not an envelope field."""
    extra = dict(envelope or {})
    odd = [k for k in extra if k not in ENVELOPE_FIELDS]
    if odd:
        raise ValueError(
            f"{odd[0]} is not an envelope field of the signature (those are "
            f"{', '.join(ENVELOPE_FIELDS)})"
        )
    clash = [k for k in (*_RESERVED, *ENVELOPE_FIELDS) if k in body]
    if clash:
        raise ValueError(f"the request has a field named {clash[0]}, which the signature reserves")
    fields = {
        **body,
        **extra,
        "appId": app_id,
        "timestamp": str(timestamp_ms),
        "nonce": nonce,
        "encType": enc_type,
        "method": method.lstrip("/"),
    }
    return canonical(fields)


def sign_metadata(
    app_id: str,
    private_key: bytes,
    method: str,
    body: Mapping[str, object],
    *,
    now_ms: int | None = None,
    nonce: str | None = None,
    enc_type: str = "",
    envelope: Mapping[str, str] | None = None,
) -> tuple[tuple[str, str], ...]:
    """The metadata that signs one call of ``method`` with ``body`` (its JSON fields) as
    the channel ``app_id``; ``now_ms`` and ``nonce`` default to the clock and 16 random
    bytes; ``envelope``: the envelope fields signed too (:func:`signature_base`)."""
    ts = int(time.time() * 1000) if now_ms is None else now_ms
    nonce = nonce or secrets.token_hex(16)
    base = signature_base(method, body, app_id, ts, nonce, enc_type, envelope)
    signature = sm2_sign(private_key, sm3(base.encode("utf-8")))
    md = [(APP_ID, app_id), (TIMESTAMP, str(ts)), (NONCE, nonce), (SIGN, signature.hex())]
    if enc_type:
        md.append((ENC_TYPE, enc_type))
    return tuple(md)


def sign_message(
    app_id: str,
    private_key: bytes,
    method: str,
    request: Message,
    *,
    now_ms: int | None = None,
    nonce: str | None = None,
    enc_type: str = "",
) -> tuple[tuple[str, str], ...]:
    """:func:`sign_metadata` of a protobuf request."""
    return sign_metadata(
        app_id,
        private_key,
        method,
        message_body(request),
        now_ms=now_ms,
        nonce=nonce,
        enc_type=enc_type,
    )


def verify_signature(
    public_key: bytes,
    method: str,
    body: Mapping[str, object],
    app_id: str,
    timestamp: str,
    nonce: str,
    signature_hex: str,
    enc_type: str = "",
    envelope: Mapping[str, str] | None = None,
) -> bool:
    """True when ``signature_hex`` signs this call with the key's private half
    (``envelope``: the envelope fields signed too, :func:`signature_base`)."""
    try:
        signature = bytes.fromhex(signature_hex)
        base = signature_base(method, body, app_id, timestamp, nonce, enc_type, envelope)
    except ValueError:
        return False
    return sm2_verify(public_key, sm3(base.encode("utf-8")), signature)


def parse_scopes(text: str | Sequence[str]) -> tuple[str, ...]:
    """Scopes from ``a,b`` text or a list: each ``ecnet.v1.Service/Method`` or
    ``ecnet.v1.Service/*``; ``ValueError`` naming the first that is neither."""
    items = text.split(",") if isinstance(text, str) else list(text)
    scopes = []
    for raw in items:
        s = raw.strip().lstrip("/")
        if not s:
            continue
        service, _, name = s.partition("/")
        if service not in SIGNED_SERVICES or not name or not re.fullmatch(r"\*|[A-Za-z]+", name):
            raise ValueError(
                f"scope {raw.strip()!r} is not a method a channel calls: write "
                f"SERVICE/METHOD or SERVICE/* with SERVICE one of {', '.join(SIGNED_SERVICES)}"
            )
        scopes.append(s)
    return tuple(dict.fromkeys(scopes))


def scope_allows(scopes: Sequence[str], method: str) -> bool:
    """May a channel with ``scopes`` call ``method`` (``/ecnet.v1.QrService/IssueQrCode``)?"""
    method = method.lstrip("/")
    service = method.partition("/")[0]
    return method in scopes or f"{service}/*" in scopes


class NonceBook:
    """The nonces seen within the window (per channel), so that a call is never
    accepted twice. Kept in memory, for the window (5 minutes); a node that restarts
    forgets them: a call replayed to it within 5 minutes of its first sending passes once
    more (documented in docs/architecture.md)."""

    def __init__(self, window_ms: int = WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()

    def admit(self, app_id: str, nonce: str, timestamp_ms: int, now_ms: int) -> str:
        """Empty when the call may go on; else why not (a sentence)."""
        if not _NONCE.fullmatch(nonce):
            return "ec-nonce must be 8-64 letters, digits, '-' or '_'"
        if abs(now_ms - timestamp_ms) > self.window_ms:
            return (
                f"ec-timestamp {timestamp_ms} is {abs(now_ms - timestamp_ms) // 1000} s from the "
                f"node's clock; a signed call is good for {self.window_ms // 60000} minutes "
                "either way: sign it again"
            )
        seen = self._seen
        while seen:  # forget what fell out of the window (oldest first: insertion order)
            key, expiry = next(iter(seen.items()))
            if expiry > now_ms:
                break
            del seen[key]
        key = (app_id, nonce)
        if key in seen:
            return f"nonce {nonce} was used before: every call carries a new one"
        seen[key] = max(now_ms, timestamp_ms) + self.window_ms
        return ""


def sm4_key_for(secret: bytes, app_id: str, key_version: int) -> bytes:
    """The SM4 key of a channel's encrypted fields: derived by national from its master
    secret, the appId and the key's version, and given to the channel once, in the
    approval (or rotation) answer."""
    return hmac_sm3(secret, f"ecnet/channel-sm4/v1\x00{app_id}\x00{key_version}".encode())[:16]


def sm4_seal(key: bytes, plain: str) -> str:
    """A field as a channel sends it encrypted: SM4-ECB, PKCS#7, hexadecimal."""
    data = plain.encode("utf-8")
    pad = 16 - len(data) % 16
    return sm4_encrypt_ecb(key, data + bytes([pad]) * pad).hex()


def sm4_open(key: bytes, sealed: str) -> str:
    """The text of an encrypted field; ``ValueError`` when it is not one."""
    try:
        data = sm4_decrypt_ecb(key, bytes.fromhex(sealed))
    except ValueError as exc:
        raise ValueError(f"not SM4 ciphertext in hexadecimal: {exc}") from None
    pad = data[-1] if data else 0
    if not 1 <= pad <= 16 or data[-pad:] != bytes([pad]) * pad:
        raise ValueError("wrong key or corrupt data (bad padding)")
    return data[:-pad].decode("utf-8")


# -- key files ------------------------------------------------------------------------
def key_file(pki: Path, app_id: str) -> Path:
    """Where a nation keeps a channel's signing key: ``DIR/pki/channels/<APPID>.sign.key``
    when it exists; else in the folder ``ECNET_CHANNEL_KEYS`` names, when set (keys kept
    outside the nation's folder, as ``ECNET_CA`` … for the operator's certificate)."""
    own = pki / "channels" / f"{app_id}.sign.key"
    elsewhere = os.environ.get("ECNET_CHANNEL_KEYS")
    if own.exists() or not elsewhere:
        return own
    return Path(elsewhere) / f"{app_id}.sign.key"


def sm4_key_file(pki: Path, app_id: str) -> Path:
    """Where a nation keeps a channel's SM4 key (the one national's approval or rotation
    answer gave it, for its encrypted fields and envelopes), beside its signing key:
    ``DIR/pki/channels/<APPID>.sm4.key``, or in ``ECNET_CHANNEL_KEYS`` as
    :func:`key_file` says."""
    return key_file(pki, app_id).with_name(f"{app_id}.sm4.key")


def load_sm4_key(path: Path) -> bytes:
    """A channel's SM4 key from its file (32 hexadecimal digits); ``ValueError`` saying
    what is wrong."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the channel's SM4 key {path}: {exc.strerror}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 16:
        raise ValueError(f"{path} is not an SM4 key (32 hexadecimal digits)")
    return key


def write_sm4_key(path: Path, key: bytes) -> None:
    """Write (or replace) a channel's SM4 key, mode 0600: a rotation gives a new one."""
    if len(key) != 16:
        raise ValueError("an SM4 key is 16 bytes")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_key(path: Path) -> Sm2KeyPair:
    """A channel's key pair from its file (the private key, 64 hexadecimal digits);
    ``ValueError`` saying what is wrong."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the channel key {path}: {exc.strerror}") from None
    try:
        return Sm2KeyPair.from_private_key(bytes.fromhex(text))
    except ValueError:
        raise ValueError(f"{path} is not an SM2 private key (64 hexadecimal digits)") from None


def ensure_key(path: Path) -> Sm2KeyPair:
    """The key pair in ``path``, made (mode 0600) when the file does not exist."""
    if path.exists():
        return load_key(path)
    pair = sm2_generate_keypair()
    write_key(path, pair)
    return pair


def write_key(path: Path, pair: Sm2KeyPair) -> None:
    """Write a channel's private key (mode 0600); the file must not exist."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pair.private_key.hex() + "\n")


# -- clients --------------------------------------------------------------------------
class _Details(grpc.ClientCallDetails):
    def __init__(
        self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str | bytes]]
    ) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = tuple(metadata)
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def _path(method: str | bytes) -> str:
    return method.decode() if isinstance(method, bytes) else method


class SigningInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Signs every unary call of a (synchronous) channel as ``app_id``:
    ``grpc.intercept_channel(channel, SigningInterceptor("WECHAT", private_key))``."""

    def __init__(self, app_id: str, private_key: bytes) -> None:
        self.app_id, self.private_key = app_id, private_key

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        md: list[tuple[str, str | bytes]] = list(details.metadata or ())
        md += sign_message(self.app_id, self.private_key, _path(details.method), request)
        return continuation(_Details(details, md), request)


class AioSigningInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """:class:`SigningInterceptor` for ``grpc.aio`` channels
    (``grpc.aio.secure_channel(..., interceptors=[AioSigningInterceptor(...)])``)."""

    def __init__(self, app_id: str, private_key: bytes) -> None:
        self.app_id, self.private_key = app_id, private_key

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        md = grpc.aio.Metadata(*(details.metadata or ()))
        for key, value in sign_message(
            self.app_id, self.private_key, _path(details.method), request
        ):
            md.add(key, value)
        return await continuation(details._replace(metadata=md), request)
