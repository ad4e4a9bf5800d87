"""The doors of one node as one ASGI application (starlette)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from node.config import Role
from node.doors.calls import Calls
from node.doors.describe import docs_page, openapi
from node.doors.terminal import TRANS_PATH, b2, json_answer, trans_door

__all__ = ["door_app", "DoorNode"]


class DoorNode:
    """What the doors need to know of their node."""

    def __init__(
        self, name: str, role: Role, version: str, sign_public_key: Callable[[], bytes]
    ) -> None:
        self.name, self.role, self.version = name, role, version
        self.sign_public_key = sign_public_key


def door_app(node: DoorNode, calls: Calls) -> Starlette:
    """The routes of ``node``'s role: the terminal door at provinces, the descriptions
    and the node's public signing key everywhere."""
    document = openapi(node.name, node.role, node.version)

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

    async def spec(request: Request) -> Response:
        return json_answer(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_page(document))

    async def key(request: Request) -> Response:
        return json_answer(
            {"node": node.name, "signType": "SM2", "publicKey": node.sign_public_key().hex()}
        )

    return Starlette(
        routes=[
            Route(TRANS_PATH, trans, methods=["POST"]),
            Route("/ec/v1/channel/key", key, methods=["GET"]),
            Route("/openapi.json", spec, methods=["GET"]),
            Route("/docs", docs, methods=["GET"]),
        ]
    )
