"""The one server interceptor: who is calling, one log line per call, errors mapped.

* Caller identity is decided here and nowhere else. Until the security issue replaces
  it with mutual TLS and channel signatures, it is asserted in metadata:
  ``ec-node`` (``national`` or ``pNN``), ``ec-channel-id``, ``ec-terminal-id``.
* Each call writes one structured (JSON) log line: method, caller, outcome, C.4 code,
  duration. No request bodies, so no id numbers, reach the log. Routine traffic that
  succeeds (ROUTINE_METHODS: provinces' heartbeats, health checks) is logged at debug,
  which a node's log leaves out unless started with ``--debug``: at every two seconds
  per province it would otherwise be most of national's log.
* A handler raises :class:`~node.errors.EcError`; any other exception is a bug, logged
  with its traceback and answered with code -1, never a dropped connection.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar, cast

import grpc

from node.errors import EcError, to_status

__all__ = [
    "Caller",
    "current_caller",
    "caller_of",
    "enter_caller",
    "exit_caller",
    "failure_of",
    "log_call",
    "CallInterceptor",
    "ROUTINE_METHODS",
]

log = logging.getLogger("ecnet.call")

# Calls logged at debug when they succeed (a failed one is news: info, as any other).
ROUTINE_METHODS = frozenset(
    {
        "/ecnet.v1.FederationService/Heartbeat",
        "/grpc.health.v1.Health/Check",
    }
)

# The request and response messages of the method a call reaches.
Req = TypeVar("Req")
Resp = TypeVar("Resp")


@dataclass(frozen=True, slots=True)
class Caller:
    node: str = ""
    channel_id: str = ""
    terminal_id: str = ""

    def describe(self) -> str:
        parts = []
        if self.node:
            parts.append(f"node:{self.node}")
        if self.channel_id:
            parts.append(f"channel:{self.channel_id}")
        if self.terminal_id:
            parts.append(f"terminal:{self.terminal_id}")
        return ",".join(parts) or "anonymous"


_ANONYMOUS = Caller()
_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("ecnet_caller", default=_ANONYMOUS)


def current_caller() -> Caller:
    """The caller of the RPC being handled."""
    return _caller.get()


def _caller_from(metadata: tuple[tuple[str, str | bytes], ...] | None) -> Caller:
    if not metadata:
        return _ANONYMOUS
    node = channel = terminal = ""
    # Only the values of keys ending in -bin are bytes; the keys read here carry text.
    for key, value in cast("tuple[tuple[str, str], ...]", metadata):
        if key == "ec-node":
            node = value
        elif key == "ec-channel-id":
            channel = value
        elif key == "ec-terminal-id":
            terminal = value
    if not (node or channel or terminal):
        return _ANONYMOUS
    return Caller(node, channel, terminal)


def caller_of(metadata: Iterable[tuple[str, str | bytes]] | None) -> Caller:
    """The caller a call's (or a Link stream's) invocation metadata names."""
    return _caller_from(tuple(metadata) if metadata else None)


def enter_caller(caller: Caller) -> contextvars.Token[Caller]:
    """Make ``caller`` the :func:`current_caller` (undo with ``exit_caller``)."""
    return _caller.set(caller)


def exit_caller(token: contextvars.Token[Caller]) -> None:
    _caller.reset(token)


def failure_of(exc: Exception, method: str, node_name: str) -> tuple[str, EcError]:
    """(log outcome, the error to answer with) for an exception out of a handler.

    An :class:`EcError` is the answer itself; ``NotImplementedError`` is a method of a
    later issue (-5); anything else is a bug: logged with its traceback, answered -1.
    """
    if isinstance(exc, EcError):
        return exc.grpc_code.name, exc
    if isinstance(exc, NotImplementedError):
        return "UNIMPLEMENTED", EcError(-5, f"{method} is not implemented yet on this node")
    log.error("unexpected error in %s", method, exc_info=exc)
    return "INTERNAL", EcError(-1, f"unexpected error on node {node_name}; see its log")


def log_call(
    method: str, caller: Caller, outcome: str, code: int, start: float, **more: object
) -> None:
    """The one log line of a call (``start``: its ``time.perf_counter()``)."""
    routine = method in ROUTINE_METHODS and outcome == "OK"
    log.log(
        logging.DEBUG if routine else logging.INFO,
        "call",
        extra={
            "fields": {
                "method": method,
                "caller": caller.describe(),
                "outcome": outcome,
                "code": code,
                "ms": round((time.perf_counter() - start) * 1000, 3),
                **more,
            }
        },
    )


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, node_name: str, log_calls: bool = True) -> None:
        self.node_name = node_name
        self.log_calls = log_calls

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Req, Resp] | None:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method
        caller = _caller_from(details.invocation_metadata)
        # On a grpc.aio server the behaviour is a coroutine function of the aio context;
        # the stubs type RpcMethodHandler for the synchronous server only.
        inner = cast(
            "Callable[[Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]",
            handler.unary_unary,
        )

        async def behaviour(request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> Resp:
            start = time.perf_counter()
            token = _caller.set(caller)
            outcome, ec_code = "OK", 0
            try:
                return await inner(request, context)
            except grpc.aio.AbortError:
                outcome = context.code().name if context.code() else "ABORTED"
                raise
            except Exception as exc:
                outcome, err = failure_of(exc, method, self.node_name)
                ec_code = err.code
                await context.abort_with_status(to_status(err))
            finally:
                _caller.reset(token)
                if self.log_calls:
                    log_call(method, caller, outcome, ec_code, start)

        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
