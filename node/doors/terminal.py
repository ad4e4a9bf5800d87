"""The terminal door: ``POST /ec/v1/trans``, the Appendix B envelope over HTTPS.

A hospital's ``NationEcTrans(strUrl, InData, OutData)`` posts ``InData`` (table B.1:
``{orgId, transType, data, extra}``) here, with the terminal's client certificate, and
reads the answer (table B.2: ``{orgId, code, message, data, extra}``) into ``OutData``.
The envelope goes to ``AcceptanceService/Trans`` through the node's one call path: the
terminal is the one its certificate names, and every rule of the gRPC call holds.

HTTP statuses: every transaction, refused or not, answers 200 with its ``code`` (0:
success; table C.4 otherwise, with the standard's Chinese description first in
``message``, then what exactly was wrong). Only what is not a transaction answers 4xx,
still with a B.2 body: no client certificate, or one refused (revoked, expired, not a
terminal's): 403, code -4; a body that is not a JSON object: 400, code -2; a body over
:data:`MAX_BODY_BYTES`, or ``data`` or ``extra`` over table B.1's 200K: 413, code -2.
A rate limit answers 200 with code -6 and a ``Retry-After`` header.
"""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf.json_format import MessageToDict
from starlette.requests import Request
from starlette.responses import Response

from ecnet.v1 import acceptance_service_pb2 as pb
from node.domain.codes import ERRORS
from node.doors.calls import Calls, DoorContext, DoorRefusal
from node.doors.server import client_pems
from node.errors import EcError
from node.inputcheck import MAX_REQUEST_BYTES, STRUCT_BYTES

__all__ = [
    "TRANS_PATH",
    "MAX_BODY_BYTES",
    "NotATransaction",
    "trans_door",
    "b2",
    "json_answer",
    "message_of",
    "peer_of",
    "read_body",
]

TRANS_PATH = "/ec/v1/trans"
TRANS_METHOD = "/ecnet.v1.AcceptanceService/Trans"
# The largest body taken: the gRPC port's largest request (an envelope whose data and
# extra are at table B.1's 200K each fits with room).
MAX_BODY_BYTES = MAX_REQUEST_BYTES


class NotATransaction(Exception):
    """A request that is not a transaction: answered with ``status`` and a B.2 body."""

    def __init__(self, status: int, error: EcError) -> None:
        super().__init__(error.message)
        self.status, self.error = status, error


def message_of(code: int, detail: str) -> str:
    """The answer's ``message``: the standard's description of ``code`` (Chinese, table
    C.4) and then the particulars, unless they say the same."""
    row = ERRORS.get(code)
    if row is None or not detail or detail == row.zh:
        return detail or (row.zh if row else "")
    if code == 0:
        return row.zh
    return f"{row.zh}: {detail}"


def json_answer(body: dict[str, Any], status: int = 200, **headers: str) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers or None,
    )


def b2(org_id: str, code: int, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """An answer of table B.2 (``data`` always an object)."""
    return {
        "orgId": org_id,
        "code": code,
        "message": message_of(code, message),
        "data": data or {},
        "extra": {},
    }


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) past ``limit`` bytes before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise NotATransaction(413, _too_large(int(declared), limit))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise NotATransaction(413, _too_large(len(body), limit))
    return bytes(body)


def _too_large(size: int, limit: int) -> EcError:
    return EcError(-2, f"the request body is {size} bytes; this door takes at most {limit}")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotATransaction(400, EcError(-2, "the body is not UTF-8 text")) from None
    except json.JSONDecodeError as exc:
        raise NotATransaction(
            400, EcError(-2, f"the body is not JSON ({exc.msg} at character {exc.pos})")
        ) from None
    if not isinstance(value, dict):
        raise NotATransaction(
            400,
            EcError(-2, "the body must be a JSON object {orgId, transType, data, extra}"),
        )
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    """``data`` or ``extra``: an object, or (as some callers send it) JSON text of one."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise NotATransaction(
                400, EcError(-2, f"{name} is a string that is not JSON", field=name)
            ) from None
    if not isinstance(value, dict):
        raise NotATransaction(400, EcError(-2, f"{name} must be a JSON object", field=name))
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return json.dumps(value)  # refused by the field's check, quoted there
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _whole(value: Any) -> Any:
    """Struct numbers are doubles: 1 for 1.0, as the caller sent it."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def _request(envelope: dict[str, Any]) -> pb.TransRequest:
    request = pb.TransRequest(
        orgId=_text(envelope.get("orgId")), transType=_text(envelope.get("transType"))
    )
    try:
        request.data.update(_object(envelope.get("data"), "data"))
        request.extra.update(_object(envelope.get("extra"), "extra"))
    except (ValueError, TypeError) as exc:  # a value a Struct cannot hold
        raise NotATransaction(400, EcError(-2, f"data or extra cannot be read: {exc}")) from None
    # Measured as the gRPC port's input check measures them (node.inputcheck).
    for name in ("data", "extra"):
        size = getattr(request, name).ByteSize()
        if size > STRUCT_BYTES:
            raise NotATransaction(
                413,
                EcError(
                    -2,
                    f"{name} is {size // 1024}K; table B.1 allows at most 200K",
                    field=name,
                ),
            )
    return request


def peer_of(request: Request) -> str:
    """The caller's address as gRPC names a peer (``ipv4:127.0.0.1:53312``,
    ``ipv6:[::1]:53312``), for the audit log and the log line."""
    client = request.client
    if client is None:
        return ""
    if ":" in client.host:
        return f"ipv6:[{client.host}]:{client.port}"
    return f"ipv4:{client.host}:{client.port}"


def _metadata(request: Request) -> list[tuple[str, str]]:
    """The ``ec-`` headers, as gRPC metadata (read only by an ``--insecure`` node)."""
    return [(k, v) for k, v in request.headers.items() if k.startswith("ec-")]


async def trans_door(calls: Calls, request: Request) -> Response:
    """``POST /ec/v1/trans``."""
    org_id = ""
    try:
        envelope = _json_object(await read_body(request, MAX_BODY_BYTES))
        org_id = _text(envelope.get("orgId"))
        message = _request(envelope)
        pems = client_pems(request.scope)
        insecure = request.url.scheme == "http"
        if not pems and not insecure:
            raise NotATransaction(
                403,
                EcError(
                    -4,
                    "no client certificate: a terminal calls with the certificate the "
                    "national CA issued it (ecnet terminals register)",
                ),
            )
        context = DoorContext(pems, peer_of(request))
        answer: pb.TransResponse = await calls.run(
            TRANS_METHOD, message, context, _metadata(request)
        )
    except NotATransaction as exc:
        return json_answer(b2(org_id, exc.error.code, exc.error.message), exc.status)
    except DoorRefusal as exc:  # refused for its certificate (every other refusal: 200)
        status = 403 if exc.error.code == -4 else 500
        return json_answer(b2(org_id, exc.error.code, exc.error.message), status)
    body = {
        "orgId": answer.orgId,
        "code": answer.code,
        "message": message_of(answer.code, answer.message),
        "data": _whole(MessageToDict(answer.data)),
        "extra": _whole(MessageToDict(answer.extra)),
    }
    if answer.code in (-6, 500084):
        return json_answer(body, 200, **{"Retry-After": "1"})
    return json_answer(body)
