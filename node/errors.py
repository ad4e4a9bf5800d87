"""The error model, built in one place.

Every failure carries its code from table C.4 of the standard. On typed RPCs the code
travels as a gRPC status with a ``google.rpc.ErrorInfo`` detail (reason, domain
``ecnet``, metadata ``code``); in the Appendix B envelope it is the ``code`` field.
Handlers raise :class:`EcError`; the server interceptor turns it into the status.
The table itself (code, 系统级 / 电子凭证中心, the standard's description, reason,
English message, gRPC status) is :data:`node.domain.codes.ERRORS`.

One case, one code, at every node
---------------------------------

A case answers the same code wherever it can happen: national or a province, from a
province's cache or fetched from national, typed RPC or the Trans envelope.
``tests/test_same_codes.py`` makes each case against every node where it can happen.

=====================================================  ========  =====================
case                                                   code      decided in
=====================================================  ========  =====================
request bytes that are not the method's message        -2        node.interceptor
required fields missing / invalid (all named at once)  -2 [1]_   :class:`Problems`
pageToken not an earlier nextPageToken (too long,      -2        node.services.admin
not digits, negative)
authCode empty                                         -2        node.domain.display
authCode not 32 hexadecimal digits                     500087    node.domain.display
authCode unknown                                       500040    node.domain.display
authCode of another channel                            500003    node.domain.display
authCode of a superseded (or not activated) voucher    500002    node.domain.display
authCode whose authorization the holder revoked        500022    node.domain.display
voucher frozen (where the flow refuses it)             500079    node.domain.display
=====================================================  ========  =====================

.. [1] Where the standard has a code of its own for a field, that code wins, with every
   other problem still named: orgId missing 500098 (table B.1), the settle token
   missing 500067.

Why these authCode codes: each is the row of table C.4 whose description says the case
(500040 授权记录不存在, 500003 该用户在该应用渠道未授权, 500022 用户未授权或已过期，请重新
进入: authorize again), and they were already the answers of QR display, scan and
``FetchVoucher``; national's VoucherService answered 500008 (非法授权码) for the first
two and 500003 for a revocation, and now answers as the provinces do. 500008 is not
used: a code of the right shape that is not on record is 500040.
"""

from __future__ import annotations

from typing import Any, TypedDict

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]  # .pyi, no py.typed
from grpc_status import rpc_status

from node.domain.codes import ERRORS

__all__ = [
    "EcError",
    "DOMAIN",
    "to_status",
    "from_rpc_error",
    "node_answer",
    "transport_failure",
    "invalid",
    "envelope_fields",
    "EnvelopeFields",
    "Problems",
]

DOMAIN = "ecnet"


class EcError(Exception):
    """A failure with its C.4 code and a message a person understands."""

    def __init__(self, code: int, message: str | None = None, **metadata: str) -> None:
        entry = ERRORS.get(code)
        if entry is None:
            raise ValueError(f"{code} is not a code of table C.4")
        self.code = code
        self.reason = entry.reason
        self.message = message or entry.en
        self.metadata = {k: str(v) for k, v in metadata.items()}
        super().__init__(f"{code} {self.reason}: {self.message}")

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return grpc.StatusCode[ERRORS[self.code].grpc_status_name]


def invalid(message: str, **metadata: str) -> EcError:
    """Shorthand for -2, the request's parameters are wrong."""
    return EcError(-2, message, **metadata)


class Problems:
    """What is wrong with a request, collected so that one refusal names every field.

    A validation helper records each missing field (:meth:`require`) and each invalid
    one (:meth:`wrong`) instead of raising at the first, and the caller raises once
    (:meth:`check`): "missing: userName, idType, idNo" rather than three round trips.
    The code is -2 unless a recorded field has a code of its own in the standard
    (orgId missing: 500098), which then wins; the first such code recorded is answered.
    The ErrorInfo metadata ``fields`` lists the names, comma-separated.
    """

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.invalid: list[tuple[str, str]] = []
        self._hints: dict[str, str] = {}
        self._code = -2

    def _own(self, code: int) -> None:
        if code != -2 and self._code == -2:
            self._code = code

    def require(self, name: str, value: object, *, code: int = -2, hint: str = "") -> bool:
        """Record ``name`` as missing when ``value`` is empty; True when it is present.
        ``hint`` says what the field holds (printed after the name, in parentheses)."""
        if value:
            return True
        if self.has(name):  # checked twice (an envelope and its data): named once
            return False
        self.missing.append(name)
        if hint:
            self._hints[name] = hint
        self._own(code)
        return False

    def wrong(self, name: str, why: str, *, code: int = -2) -> None:
        """Record ``name`` as present but invalid, ``why`` saying what is allowed."""
        if self.has(name):
            return
        self.invalid.append((name, why))
        self._own(code)

    def has(self, name: str) -> bool:
        """True when ``name`` was recorded (missing or invalid)."""
        return name in self.missing or any(n == name for n, _ in self.invalid)

    def __bool__(self) -> bool:
        return bool(self.missing or self.invalid)

    def error(self) -> EcError | None:
        """The one refusal naming everything recorded; None when nothing was."""
        if not self:
            return None
        parts = []
        if self.missing:
            parts.append(
                "missing: "
                + ", ".join(
                    f"{n} ({self._hints[n]})" if n in self._hints else n for n in self.missing
                )
            )
        parts.extend(f"{name}: {why}" for name, why in self.invalid)
        names = [*self.missing, *(n for n, _ in self.invalid)]
        return EcError(self._code, "; ".join(parts), fields=",".join(names))

    def check(self) -> None:
        """Raise the refusal when anything was recorded."""
        err = self.error()
        if err is not None:
            raise err


# The longest message and ErrorInfo metadata value a status carries, in UTF-8 bytes.
# The status travels in the call's trailers twice (grpc-message, percent-encoded: up to
# three times its bytes, and the details, base64), and a client may drop trailers past
# 8 KiB as a transport failure ("Stream removed"): a message quoting what the caller
# sent would otherwise turn a refusal into -1. At these sizes the trailers stay under
# 7 KiB even when every character is Chinese.
MAX_MESSAGE = 1200
MAX_METADATA_VALUE = 200


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character), ending in "…"."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


def to_status(err: EcError) -> grpc.Status:
    """The rich gRPC status for an error (AIP-193); the message and metadata values
    clipped to ``MAX_MESSAGE`` and ``MAX_METADATA_VALUE`` bytes."""
    metadata = {k: _clip(v, MAX_METADATA_VALUE) for k, v in err.metadata.items()}
    info = error_details_pb2.ErrorInfo(
        reason=err.reason, domain=DOMAIN, metadata={"code": str(err.code), **metadata}
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    details = [detail]
    retry_ms = err.metadata.get("retryAfterMs", "")
    if retry_ms.isdigit():  # a rate limit: google.rpc.RetryInfo too, which clients know
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(retry_ms))
        retry = any_pb2.Any()
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(retry)
    proto = status_pb2.Status(
        code=err.grpc_code.value[0], message=_clip(err.message, MAX_MESSAGE), details=details
    )
    return rpc_status.to_status(proto)


class EnvelopeFields(TypedDict):
    """The fields of an Appendix B answer (``code`` 0 for success)."""

    code: int
    message: str
    data: dict[str, Any]


def envelope_fields(err: EcError) -> EnvelopeFields:
    """The Appendix B answer fields for a failure: ``code`` (C.4) and ``message``.

    Table B.2 makes ``message`` meaningful only when ``code`` is not 0; the ``data``
    object is still sent (empty), because callers parse it unconditionally.
    """
    return {"code": err.code, "message": err.message, "data": {}}


def _rich_status(exc: grpc.RpcError) -> status_pb2.Status | None:
    # The RpcError of a failed call is also its grpc.Call (code, details, trailers),
    # which the stubs do not say.
    return rpc_status.from_call(exc)  # type: ignore[arg-type]


def node_answer(exc: grpc.RpcError) -> tuple[int, str] | None:
    """(C.4 code, message) when an ecnet node itself answered the failed call (our
    ``ErrorInfo`` is in its status); None for a transport failure or a stranger's status."""
    try:
        status = _rich_status(exc)
    except Exception:  # a malformed trailer must not hide the failure itself
        return None
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == DOMAIN and "code" in info.metadata:
                return int(info.metadata["code"]), status.message
    return None


def transport_failure(exc: grpc.RpcError) -> bool:
    """True when a call failed in transport (deadline, peer down), not with a node's
    answer (a node's answer carries a rich status)."""
    try:
        return _rich_status(exc) is None
    except Exception:
        return True


def from_rpc_error(exc: grpc.RpcError) -> tuple[int, str]:
    """(C.4 code, message) from a failed call, for clients and for routing nodes.

    A status without our ErrorInfo (a transport failure, a node that is down) maps to
    the system-level codes: -3 for a deadline or an unreachable node, -1 otherwise.
    """
    answer = node_answer(exc)
    if answer is not None:
        return answer
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
        return -3, f"upstream did not answer in time ({code.name.lower()}): {details}"
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return -5, f"no such method here: {details}"
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return -4, details or "permission denied"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return -2, details or "invalid request"
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in (details or ""):
        # gRPC's own refusal of a message past the node's max receive size
        # (node.inputcheck.MAX_REQUEST_BYTES), before any node code saw it.
        return -2, f"the request is larger than the node accepts: {details}"
    return -1, details or "unknown error"
