"""The open platform's signed, encrypted JSON envelope: what a channel POSTs to a node's
channel door (``POST /ec/v1/channel/{method}``) and what the node answers.

The signing is :mod:`node.domain.channelsig`'s, the same as a signed gRPC call's; this
module only wraps it in the envelope. Pure functions: the clock and the nonce are
arguments where they matter.

**The request** (a JSON object, the POST body)::

    {"appId": "WECHAT", "encType": "SM4", "signType": "SM2",
     "timestamp": "<ms since the epoch, as text>", "version": "1.0.0",
     "nonce": "<8-64 of A-Z a-z 0-9 _ ->",
     "encData": "<hex of SM4-ECB/PKCS#7 of the UTF-8 JSON of the request message>",
     "signData": "<base64 of the 64-byte SM2 signature r||s>"}

``encData`` is the request message as protobuf JSON with the contract's field names
(what ``grpcurl -d`` writes; normalized as :func:`~node.domain.channelsig.message_body`
writes it: int64 as text, enums by name), encrypted under the channel's SM4 key (the one
national's approval or key rotation gave it; :func:`~node.domain.channelsig.sm4_key_for`).
``encType`` must be ``SM4`` and ``signType`` ``SM2``. An ``extra`` field is allowed and
ignored (it is never signed, as on the open platform); any other field is refused.

**The request's signature base** is exactly a signed gRPC call's
(:func:`~node.domain.channelsig.signature_base`) over the *decrypted* request: its
fields, ``appId``, ``timestamp``, ``nonce``, ``encType`` and ``method``
(``ecnet.v1.QrService/IssueQrCode``), plus the envelope's ``signType`` and ``version``.
The SM2 signature (user id ``1234567812345678``) is over the SM3 digest of that text, as
for a gRPC call.

**The response** (a JSON object), signed by the *node* with its SM2 event-signing key
(``node.wire.signing``; the channel checks it with the node's public key)::

    {"code": 0, "message": "success", "appId": "WECHAT", "encType": "SM4",
     "signType": "SM2", "timestamp": "<the node's ms>", "version": "1.0.0",
     "nonce": "<fresh>", "node": "p44", "method": "ecnet.v1.QrService/IssueQrCode",
     "encData": "<hex of SM4 of the response message's JSON, the channel's SM4 key>",
     "signData": "<base64>"}

**The response's signature base**: :func:`~node.domain.channelsig.canonical` of every
field but ``encData`` and ``signData``, plus ``"data"``: the decrypted response as an
object (written as JSON with sorted keys). A refusal made before the channel's key is
known (an unknown ``appId``, a malformed envelope) has no ``encData`` (there is nothing
to encrypt under) and no ``data``, but is signed all the same.

The node's side: :func:`read_request` checks the envelope's shape (-2 naming the field;
500036 when ``signData`` is missing or not base64 of 64 bytes),
:meth:`SealedRequest.open` decrypts it (500072; -2 when the plaintext is not a JSON
object), :func:`open_request` does both with the channel looked up (500012 unknown),
``node.interceptor.ChannelCheck.check(..., envelope=...)`` checks the signature, time,
nonce, status and scopes as for a gRPC call, and :func:`seal_response` answers.
The channel's side: :func:`seal_request` and :func:`open_response`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from node.domain.channelsig import (
    APP_ID,
    NONCE,
    SIGN,
    TIMESTAMP,
    ChannelKey,
    canonical,
    signature_base,
    sm4_open,
    sm4_seal,
    valid_app_id,
)
from node.domain.sm import sm2_sign, sm2_verify, sm3
from node.errors import EcError

__all__ = [
    "ENC_TYPE",
    "SIGN_TYPE",
    "VERSION",
    "REQUEST_FIELDS",
    "MAX_ENC_DATA",
    "SealedRequest",
    "full_method",
    "seal_request",
    "open_response",
    "read_request",
    "open_request",
    "seal_response",
    "response_base",
]

ENC_TYPE = "SM4"
SIGN_TYPE = "SM2"
VERSION = "1.0.0"
# The fields of a request envelope, each a string.
REQUEST_FIELDS = (
    "appId",
    "encType",
    "signType",
    "timestamp",
    "version",
    "nonce",
    "encData",
    "signData",
)
# Ignored when present (never signed, as on the open platform).
_IGNORED = frozenset({"extra"})
# The longest encData taken: 2 MiB of ciphertext, in hexadecimal (the largest request
# a node takes over gRPC, node.inputcheck.MAX_REQUEST_BYTES).
MAX_ENC_DATA = 4 * 1024 * 1024
_SIGNATURE_BYTES = 64
# The longest value of each other field.
_LONGEST = {
    "appId": 32,
    "encType": 8,
    "signType": 8,
    "timestamp": 16,
    "version": 16,
    "nonce": 64,
    "signData": 128,
}
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_VERSION = re.compile(r"[0-9A-Za-z._-]{1,16}")
_METHOD = re.compile(r"(?:[a-z][a-z0-9]*\.)+[A-Z][A-Za-z]*/[A-Z][A-Za-z]*")
_SHORT_METHOD = re.compile(r"[A-Z][A-Za-z]*/[A-Z][A-Za-z]*")
# The response's fields that are neither signed as themselves nor part of "data".
_RESPONSE_UNSIGNED = ("encData", "signData")


def full_method(method: str) -> str:
    """``ecnet.v1.QrService/IssueQrCode`` from that or ``QrService/IssueQrCode`` (a
    leading ``/`` ignored); ``ValueError`` for anything else."""
    m = method.strip().lstrip("/")
    if _SHORT_METHOD.fullmatch(m):
        return f"ecnet.v1.{m}"
    if _METHOD.fullmatch(m):
        return m
    raise ValueError(
        f"{method!r} is not a method: write SERVICE/METHOD, e.g. QrService/IssueQrCode or "
        "ecnet.v1.QrService/IssueQrCode"
    )


def _envelope_fields(sign_type: str, version: str) -> dict[str, str]:
    return {"signType": sign_type, "version": version}


def _sign(private_key: bytes, base: str) -> str:
    return base64.b64encode(sm2_sign(private_key, sm3(base.encode("utf-8")))).decode("ascii")


def _json(data: Mapping[str, object]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# -- the channel's side --------------------------------------------------------------
def seal_request(
    app_id: str,
    private_key: bytes,
    sm4_key: bytes,
    method: str,
    body: Mapping[str, object],
    *,
    now_ms: int | None = None,
    nonce: str | None = None,
    version: str = VERSION,
) -> dict[str, str]:
    """The envelope of one call of ``method`` (``QrService/IssueQrCode`` or the full name)
    with ``body`` (the request message's protobuf JSON, as
    :func:`~node.domain.channelsig.message_body` writes it) as channel ``app_id``:
    signed with its SM2 ``private_key``, encrypted under its ``sm4_key``. ``now_ms`` and
    ``nonce`` default to the clock and 16 random bytes. ``ValueError`` for a method that
    is none, an SM4 key that is not 16 bytes, or a body with a field the signature
    reserves."""
    if len(sm4_key) != 16:
        raise ValueError("the channel's SM4 key is 16 bytes (32 hexadecimal digits)")
    name = full_method(method)
    ts = str(int(time.time() * 1000) if now_ms is None else now_ms)
    nonce = nonce or secrets.token_hex(16)
    base = signature_base(
        name, body, app_id, ts, nonce, ENC_TYPE, _envelope_fields(SIGN_TYPE, version)
    )
    return {
        "appId": app_id,
        "encType": ENC_TYPE,
        "signType": SIGN_TYPE,
        "timestamp": ts,
        "version": version,
        "nonce": nonce,
        "encData": sm4_seal(sm4_key, _json(body)),
        "signData": _sign(private_key, base),
    }


def response_base(fields: Mapping[str, object], data: Mapping[str, object] | None) -> str:
    """The text a node signs for a response: its fields but ``encData`` and ``signData``,
    plus ``data`` (the decrypted response; none for a refusal without ``encData``)."""
    signed = {k: v for k, v in fields.items() if k not in _RESPONSE_UNSIGNED and k != "data"}
    if data is not None:
        signed["data"] = dict(data)
    return canonical(signed)


def open_response(
    envelope: object, node_public_key: bytes, sm4_key: bytes | None
) -> tuple[int, str, dict[str, object]]:
    """``(code, message, data)`` of a node's answer, once its signature verifies with the
    node's SM2 public key (65 bytes) and its ``encData`` decrypts under the channel's
    ``sm4_key`` (``data`` is empty for an answer without ``encData``). ``ValueError``
    with a sentence when the answer is malformed, does not decrypt or is not signed by
    that key."""
    if not isinstance(envelope, dict):
        raise ValueError("the answer is not a JSON object: no envelope of the open platform")
    code, message = envelope.get("code"), envelope.get("message", "")
    if not isinstance(code, int) or isinstance(code, bool):
        raise ValueError("the answer has no integer code")
    if not isinstance(message, str):
        raise ValueError("the answer's message is not text")
    for key, value in envelope.items():
        if key != "code" and not isinstance(value, str):
            raise ValueError(f"the answer's {key} is not text")
    sign_data = envelope.get("signData", "")
    try:
        signature = base64.b64decode(sign_data, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != _SIGNATURE_BYTES:
        raise ValueError("the answer's signData is not base64 of a 64-byte SM2 signature")
    data: dict[str, object] | None = None
    enc_data = envelope.get("encData", "")
    if enc_data:
        if not sm4_key:
            raise ValueError("the answer has encData and no SM4 key was given to decrypt it")
        try:
            parsed = json.loads(sm4_open(sm4_key, enc_data))
        except ValueError as exc:
            raise ValueError(f"the answer's encData does not decrypt with the key: {exc}") from None
        if not isinstance(parsed, dict):
            raise ValueError("the answer's encData is not a JSON object")
        data = parsed
    base = response_base(envelope, data)
    if not sm2_verify(node_public_key, sm3(base.encode("utf-8")), signature):
        raise ValueError(
            "the answer's signature does not verify with the node's key: it was altered, "
            "or another node (or key) signed it"
        )
    return code, message, data or {}


# -- the node's side -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SealedRequest:
    """A request envelope whose shape :func:`read_request` checked; not yet decrypted
    nor verified."""

    app_id: str
    enc_type: str
    sign_type: str
    timestamp: str
    version: str
    nonce: str
    enc_data: str = field(repr=False)
    signature: bytes = field(repr=False)

    def open(self, sm4_key: bytes) -> dict[str, object]:
        """The request message's JSON, decrypted with the channel's SM4 key; 500072 when
        ``encData`` does not decrypt, -2 when it is not a JSON object."""
        try:
            text = sm4_open(sm4_key, self.enc_data)
        except ValueError as exc:
            raise EcError(
                500072,
                f"encData could not be decrypted with channel {self.app_id}'s SM4 key: {exc}",
            ) from None
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise EcError(
                -2, "encData decrypts to something that is not a JSON object (the request message)"
            )
        return body

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The signed call's metadata as a gRPC call would carry it (``ec-app-id``,
        ``ec-timestamp``, ``ec-nonce``, ``ec-sign`` in hexadecimal), for
        ``node.interceptor.ChannelCheck.check`` with :meth:`envelope_fields`."""
        return (
            (APP_ID, self.app_id),
            (TIMESTAMP, self.timestamp),
            (NONCE, self.nonce),
            (SIGN, self.signature.hex()),
        )

    def envelope_fields(self) -> dict[str, str]:
        """``encType``, ``signType`` and ``version``: what the envelope adds to the
        signature base (``ChannelCheck.check(..., envelope=...)``)."""
        return {"encType": self.enc_type, "signType": self.sign_type, "version": self.version}

    def verify(self, public_key: bytes, method: str, body: Mapping[str, object]) -> bool:
        """True when the signature is the channel's (``public_key``) over ``method`` and
        the decrypted ``body``."""
        try:
            base = signature_base(
                full_method(method),
                body,
                self.app_id,
                self.timestamp,
                self.nonce,
                self.enc_type,
                _envelope_fields(self.sign_type, self.version),
            )
        except ValueError:
            return False
        return sm2_verify(public_key, sm3(base.encode("utf-8")), self.signature)


def read_request(envelope: object) -> SealedRequest:
    """The envelope's fields, its shape checked: -2 naming the malformed, missing or
    unknown field (``encType`` other than SM4, ``signType`` other than SM2 included),
    500036 when ``signData`` is missing or not base64 of a 64-byte signature."""
    if not isinstance(envelope, dict):
        raise EcError(
            -2,
            "the body must be a JSON object: the open platform's envelope (appId, encType, "
            "signType, timestamp, version, nonce, encData, signData)",
        )
    unknown = sorted(str(k) for k in envelope if k not in REQUEST_FIELDS and k not in _IGNORED)
    if unknown:
        raise EcError(-2, f"the envelope has a field it does not know: {unknown[0][:40]!r}")
    missing = [k for k in REQUEST_FIELDS if k != "signData" and not envelope.get(k)]
    if missing:
        raise EcError(-2, f"the envelope lacks {', '.join(missing)}", field=missing[0])
    values: dict[str, str] = {}
    for k in REQUEST_FIELDS:
        v = envelope.get(k, "")
        if not isinstance(v, str):
            raise EcError(-2, f"the envelope's {k} must be text, not {type(v).__name__}", field=k)
        longest = MAX_ENC_DATA if k == "encData" else _LONGEST[k]
        if len(v) > longest:
            raise EcError(-2, f"the envelope's {k} is longer than {longest} characters", field=k)
        values[k] = v
    _check_values(values)
    sign_data = values["signData"]
    if not sign_data:
        raise EcError(
            500036, "the envelope is not signed: signData (base64 of the SM2 signature) is missing"
        )
    try:
        signature = base64.b64decode(sign_data, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != _SIGNATURE_BYTES:
        raise EcError(500036, "signData is not base64 of a 64-byte SM2 signature (r||s)")
    return SealedRequest(
        values["appId"],
        values["encType"],
        values["signType"],
        values["timestamp"],
        values["version"],
        values["nonce"],
        values["encData"],
        signature,
    )


def open_request(
    envelope: object, lookup: Callable[[str], ChannelKey | None]
) -> tuple[SealedRequest, ChannelKey, dict[str, object]]:
    """The channel door's first steps: the envelope read (:func:`read_request`), its
    channel as this node knows it (``lookup``: 500012 when unknown), and the request
    decrypted with the channel's SM4 key (500072 when this node does not hold it or it
    does not decrypt). The signature is not checked yet: that is
    ``ChannelCheck.check(method, request.metadata(), message, caller,
    envelope=request.envelope_fields())`` once the body is the method's message."""
    request = read_request(envelope)
    channel = lookup(request.app_id)
    if channel is None:
        raise EcError(
            500012, f"channel {request.app_id!r} is not registered with the national platform"
        )
    if not channel.sm4_key:
        raise EcError(
            500072,
            f"this node does not hold channel {request.app_id}'s SM4 key yet (national sends "
            "it with the channel's record): try again later",
        )
    return request, channel, request.open(channel.sm4_key)


def _check_values(v: Mapping[str, str]) -> None:
    if not valid_app_id(v["appId"]):
        raise EcError(
            -2,
            "the envelope's appId must be 2-32 capital letters, digits, '-' or '_'",
            field="appId",
        )
    if v["encType"] != ENC_TYPE:
        raise EcError(
            -2,
            f"encType {v['encType'][:8]!r} is not taken: the channel door takes SM4 only",
            field="encType",
        )
    if v["signType"] != SIGN_TYPE:
        raise EcError(
            -2,
            f"signType {v['signType'][:8]!r} is not taken: the channel door takes SM2 only",
            field="signType",
        )
    if not (v["timestamp"].isascii() and v["timestamp"].isdigit()):
        raise EcError(
            -2,
            "the envelope's timestamp must be milliseconds since the epoch, as text",
            field="timestamp",
        )
    if not _VERSION.fullmatch(v["version"]):
        raise EcError(
            -2,
            "the envelope's version must be 1-16 letters, digits, '.', '-' or '_'",
            field="version",
        )
    if not _NONCE.fullmatch(v["nonce"]):
        raise EcError(
            -2, "the envelope's nonce must be 8-64 letters, digits, '-' or '_'", field="nonce"
        )


def seal_response(
    node_name: str,
    private_key: bytes,
    sm4_key: bytes | None,
    request: SealedRequest | None,
    method: str,
    code: int,
    message: str,
    data: Mapping[str, object] | None,
    *,
    now_ms: int,
    nonce: str,
) -> dict[str, object]:
    """The node's answer: ``code`` and ``message`` (0 and ``success``, or a C.4 refusal),
    ``data`` (the response message's JSON) encrypted under the channel's ``sm4_key``,
    signed with the node's SM2 ``private_key``. Without ``sm4_key`` (the channel's key
    is not known: unknown ``appId``, a malformed envelope) the answer has no ``encData``
    and ``data`` must be None. ``request``: the envelope answered (its ``appId`` and
    ``version`` are echoed), None when it could not be read."""
    if data is not None and not sm4_key:
        raise ValueError("data is encrypted under the channel's SM4 key: none was given")
    fields: dict[str, object] = {
        "code": code,
        "message": message,
        "appId": request.app_id if request is not None else "",
        "encType": ENC_TYPE,
        "signType": SIGN_TYPE,
        "timestamp": str(now_ms),
        "version": request.version if request is not None else VERSION,
        "nonce": nonce,
        "node": node_name,
        "method": method.strip().lstrip("/"),
    }
    if data is not None and sm4_key:
        fields["encData"] = sm4_seal(sm4_key, _json(data))
    fields["signData"] = _sign(private_key, response_base(fields, data))
    return fields
