"""The error model, built in one place.

Every failure carries its code from table C.4 of the standard. On typed RPCs the code
travels as a gRPC status with a ``google.rpc.ErrorInfo`` detail (reason, domain
``ecnet``, metadata ``code``); in the Appendix B envelope it is the ``code`` field.
Handlers raise :class:`EcError`; the server interceptor turns it into the status.
"""

from __future__ import annotations

from typing import Any, TypedDict

import grpc
from google.protobuf import any_pb2
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


def to_status(err: EcError) -> grpc.Status:
    """The rich gRPC status for an error (AIP-193)."""
    info = error_details_pb2.ErrorInfo(
        reason=err.reason, domain=DOMAIN, metadata={"code": str(err.code), **err.metadata}
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    proto = status_pb2.Status(code=err.grpc_code.value[0], message=err.message, details=[detail])
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
    return -1, details or "unknown error"
