"""The doors of one node as one ASGI application (starlette)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from node.config import Role
from node.domain.channelsig import ChannelKey
from node.doors.calls import Calls
from node.doors.channel import CHANNEL_PATH, ChannelDoor
from node.doors.describe import docs_page, openapi
from node.doors.metrics import METRICS_PATH, metrics_door
from node.doors.terminal import TRANS_PATH, b2, json_answer, trans_door

__all__ = ["door_app", "DoorNode"]


class DoorNode:
    """What the doors need to know of their node: its name, role and version, its SM2
    key pair that signs the channel door's answers, the channels as it knows them and
    its clock."""

    def __init__(
        self,
        name: str,
        role: Role,
        version: str,
        sign_keys: Callable[[], tuple[bytes, bytes]],
        channel_key: Callable[[str], ChannelKey | None],
        now_ms: Callable[[], int],
    ) -> None:
        self.name, self.role, self.version = name, role, version
        self.sign_keys = sign_keys
        self.channel_key = channel_key
        self.now_ms = now_ms


def door_app(node: DoorNode, calls: Calls, console: Starlette | None = None) -> Starlette:
    """The routes of ``node``'s role: the terminal door (provinces), the channel door,
    the node's public signing key and the descriptions; at national the management
    console (``node.console``) under ``/console``."""
    document = openapi(node.name, node.role, node.version, calls.serves)
    channel = ChannelDoor(
        calls, node.name, lambda: node.sign_keys()[0], node.channel_key, node.now_ms
    )

    async def trans(request: Request) -> Response:
        if node.role is Role.NATIONAL:
            return json_answer(
                b2(
                    "",
                    -5,
                    "scanning is served by the provincial nodes: post the envelope to the "
                    "door of the province of the terminal",
                ),
                404,
            )
        return await trans_door(calls, request)

    async def channel_call(request: Request) -> Response:
        return await channel(request)

    async def spec(request: Request) -> Response:
        return json_answer(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_page(document))

    async def key(request: Request) -> Response:
        return json_answer(
            {"node": node.name, "signType": "SM2", "publicKey": node.sign_keys()[1].hex()}
        )

    routes: list[BaseRoute] = [
        Route(TRANS_PATH, trans, methods=["POST"]),
        Route(CHANNEL_PATH, channel_call, methods=["POST"]),
        Route("/ec/v1/channel/key", key, methods=["GET"]),
        Route("/openapi.json", spec, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route(METRICS_PATH, metrics_door(calls), methods=["GET"]),
    ]
    if console is not None:
        routes.append(Mount("/console", app=console))
    return Starlette(routes=routes)
