"""The channel door: ``POST /ec/v1/channel/{method}``, the open platform's envelope.

A channel's backend posts its call as the open platform does
(``node.domain.openplatform``: ``appId``, ``encType`` SM4, ``signType`` SM2,
``timestamp``, ``version``, ``nonce``, ``encData`` the SM4-encrypted request,
``signData`` the SM2 signature). ``{method}`` is the method's name (``IssueQrCode``) or
``Service/Method``: VoucherService's at national, QrService's at a province. The door
decrypts the request with the channel's SM4 key, makes it the method's request message,
and runs it through the node's one call path, where the channel's signature, timestamp,
nonce, status and scopes are checked exactly as for a signed gRPC call (``ChannelCheck``
with the envelope's fields in the signature base), then the rate limits and the input
limits. The answer is the same envelope, signed by the node's SM2 key (its public half:
``GET /ec/v1/channel/key``), the response encrypted under the channel's SM4 key.

HTTP statuses: every call answers 200 with its ``code`` (0, or the refusal of table
C.4: 500036 a bad signature, -4 a stale timestamp, a replayed nonce, a suspended
channel, a method outside its scopes, 500012 an unknown appId, 500072 encData that does
not decrypt, -6 over its rate, with ``Retry-After``). Only what is not a call: 400 (not
a JSON object), 404 (no such method at this node, code -5), 413 (a body over 2 MiB),
each still a signed envelope.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response

from node.domain.channelsig import SIGNED_SERVICES, ChannelKey
from node.domain.openplatform import SealedRequest, read_request, seal_response
from node.doors.calls import Calls, DoorContext, DoorRefusal
from node.doors.server import client_pems
from node.doors.terminal import (
    MAX_BODY_BYTES,
    NotATransaction,
    json_answer,
    message_of,
    peer_of,
    read_body,
)
from node.errors import EcError

__all__ = ["CHANNEL_PATH", "ChannelDoor"]

CHANNEL_PATH = "/ec/v1/channel/{method:path}"

Lookup = Callable[[str], "ChannelKey | None"]


class ChannelDoor:
    """The channel door of one node: ``node`` its name, ``private_key`` its SM2 key that
    signs the answers, ``lookup`` the channels as it knows them, ``now_ms`` its clock."""

    def __init__(
        self,
        calls: Calls,
        node: str,
        private_key: Callable[[], bytes],
        lookup: Lookup,
        now_ms: Callable[[], int],
    ) -> None:
        self.calls = calls
        self.node = node
        self.private_key = private_key
        self.lookup = lookup
        self.now_ms = now_ms

    def method_of(self, name: str) -> str | None:
        """The full method (``/ecnet.v1.QrService/IssueQrCode``) a path names, when this
        node serves it to channels."""
        name = name.strip("/")
        if "/" in name:
            service, _, short = name.rpartition("/")
            if not service.startswith("ecnet.v1."):
                service = f"ecnet.v1.{service}"
            candidates = [f"/{service}/{short}"] if service in SIGNED_SERVICES else []
        else:
            candidates = [f"/{service}/{name}" for service in SIGNED_SERVICES]
        return next((m for m in candidates if self.calls.serves(m)), None)

    def answer(
        self,
        method: str,
        code: int,
        message: str,
        *,
        request: SealedRequest | None = None,
        channel: ChannelKey | None = None,
        data: dict[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        """The node's signed envelope: ``data`` encrypted for ``channel``."""
        sm4 = channel.sm4_key if channel is not None and channel.sm4_key else None
        body = seal_response(
            self.node,
            self.private_key(),
            sm4,
            request,
            method,
            code,
            message_of(code, message),
            data if sm4 is not None else None,
            now_ms=self.now_ms(),
            nonce=secrets.token_hex(16),
        )
        headers = {"Retry-After": "1"} if code in (-6, 500084) else {}
        return json_answer(body, status, **headers)

    async def __call__(self, request: Request) -> Response:
        name = request.path_params.get("method", "")
        method = self.method_of(name)
        shown = method.lstrip("/") if method else name[:80]
        try:
            raw = await read_body(request, MAX_BODY_BYTES)
        except NotATransaction as exc:
            return self.answer(shown, exc.error.code, exc.error.message, status=exc.status)
        try:
            envelope = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            why = "the body is not JSON" if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            return self.answer(shown, -2, f"{why}: send the open platform's envelope", status=400)
        if not isinstance(envelope, dict):
            return self.answer(shown, -2, "the body must be a JSON object", status=400)
        if method is None:
            return self.answer(
                shown,
                -5,
                f"{name[:80]!r} is not a channel's method at node {self.node}: VoucherService "
                "is served by national, QrService by the provinces",
                status=404,
            )
        sealed: SealedRequest | None = None
        channel: ChannelKey | None = None
        try:
            sealed = read_request(envelope)
            channel = self.lookup(sealed.app_id)
            if channel is None:
                raise EcError(
                    500012,
                    f"channel {sealed.app_id!r} is not registered with the national platform",
                )
            if not channel.sm4_key:
                raise EcError(
                    500072,
                    f"this node does not hold channel {sealed.app_id}'s SM4 key yet (national "
                    "sends it with the channel's record): try again later",
                )
            body = sealed.open(channel.sm4_key)
            message = self._message(method, body)
            context = DoorContext(client_pems(request.scope), peer_of(request))
            answer = await self.calls.run(
                method,
                message,
                context,
                sealed.metadata(),
                anonymous=True,
                signed_envelope=sealed.envelope_fields(),
            )
        except EcError as err:  # before the call: the envelope, the channel, the body
            return self.answer(shown, err.code, err.message, request=sealed, channel=channel)
        except DoorRefusal as exc:
            refusal = exc.error
            return self.answer(
                shown, refusal.code, refusal.message, request=sealed, channel=channel
            )
        data = json_format.MessageToDict(answer)
        return self.answer(shown, 0, "success", request=sealed, channel=channel, data=data)

    def _message(self, method: str, body: dict[str, object]) -> Message:
        """The method's request message from the decrypted JSON; -2 naming what is wrong."""
        kind = _input_type(method)
        try:
            return json_format.ParseDict(body, kind())
        except json_format.ParseError as exc:
            raise EcError(
                -2, f"the request is not a {kind.DESCRIPTOR.name}: {str(exc)[:200]}"
            ) from None


def _input_type(method: str) -> type[Message]:
    service, _, name = method.lstrip("/").rpartition("/")
    descriptor = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
    return message_factory.GetMessageClass(descriptor.input_type)
