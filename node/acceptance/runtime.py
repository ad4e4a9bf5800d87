"""Small runtime helpers of acceptance: telling transport failures from answers, and
releasing resources when the node stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import grpc
from grpc_status import rpc_status

__all__ = ["transport_failure", "on_stop"]


def transport_failure(exc: grpc.RpcError) -> bool:
    """True when a call failed in transport (deadline, peer down), not with a node's answer."""
    try:
        return rpc_status.from_call(exc) is None  # type: ignore[arg-type]
    except Exception:
        return True


def on_stop(node, close: Callable[[], Awaitable[None]]) -> None:
    """Await ``close()`` when ``node`` stops: a task in the node's task list, which
    ``Node.stop`` cancels and awaits before it stops the server."""

    async def wait_then_close() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(Exception):
                await close()

    node._tasks.append(asyncio.get_running_loop().create_task(wait_then_close()))
