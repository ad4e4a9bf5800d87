"""Idempotency keys (AIP-155): a call repeated with the same ``requestId`` returns the
first call's result instead of doing the work twice (a lost answer to Activate must not
become 500086 on the retry).

Keys are scoped by channel and method and kept for ``idempotency_ttl``. The
fingerprint is an SM3 digest of the request's non-secret fields (never the password:
a fast hash of a six-digit secret would give it away); the same key with a different
request is -2. Results are the lifecycle's frozen dataclasses, stored as JSON inside
the transaction that did the work; a result that holds an authorization code (Activate,
Authorize) is stored sealed under the node's key (``keys``, ``node.vault``).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import types
import typing
from typing import TYPE_CHECKING, Any, TypeVar, cast

from node.domain.sm import sm3_hex
from node.errors import invalid
from node.storage import national as q
from node.storage.secrets import open_answer, seal_answer
from node.vault import NodeKeys

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["fingerprint", "recall", "remember"]

R = TypeVar("R")
MAX_REQUEST_ID = 128


def fingerprint(*parts: object) -> str:
    return sm3_hex("\x1f".join(str(p) for p in parts).encode())


def _decode(tp: Any, value: Any) -> Any:
    """``value``, parsed JSON, as the type ``tp`` (a class or a type form, hence Any)."""
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        # A dataclass itself here, never an instance (which is_dataclass accepts too).
        cls = cast("type[Any]", tp)
        return cls(**{k: _decode(hints[k], v) for k, v in value.items() if k in hints})
    origin = typing.get_origin(tp)
    if origin is tuple:
        (inner, _ellipsis) = typing.get_args(tp)
        return tuple(_decode(inner, v) for v in value)
    if origin in (typing.Union, types.UnionType):
        return value
    return value


def recall(
    conn: sqlite3.Connection,
    channel_id: str,
    method: str,
    request_id: str,
    fp: str,
    cls: type[R],
    keys: NodeKeys | None = None,
) -> R | None:
    """The stored result of an earlier call with ``request_id``, or None."""
    if not request_id:
        return None
    if len(request_id) > MAX_REQUEST_ID:
        raise invalid(f"requestId must be at most {MAX_REQUEST_ID} characters")
    found = q.q_idempotent_get(conn, channel_id, method, request_id)
    if found is None:
        return None
    stored_fp, result = found
    if stored_fp != fp:
        raise invalid(f"requestId {request_id!r} was already used for a different {method} request")
    if keys is not None:
        result = open_answer(keys, result)
    decoded: R = _decode(cls, json.loads(result))
    return decoded


def remember(
    conn: sqlite3.Connection,
    channel_id: str,
    method: str,
    request_id: str,
    fp: str,
    result: DataclassInstance,
    now_ms: int,
    keys: NodeKeys | None = None,
) -> None:
    """Store ``result`` under ``request_id`` (nothing without one), sealed with ``keys``."""
    if request_id:
        payload = json.dumps(dataclasses.asdict(result), ensure_ascii=False)
        if keys is not None:
            payload = seal_answer(keys, payload)
        q.q_idempotent_put(conn, channel_id, method, request_id, fp, payload, now_ms)
