"""The one server interceptor: who is calling, one log line per call, errors mapped.

* Caller identity is decided here and nowhere else. Until the security issue replaces
  it with mutual TLS and channel signatures, it is asserted in metadata:
  ``ec-node`` (``national`` or ``pNN``), ``ec-channel-id``, ``ec-terminal-id``.
* Each call writes one structured (JSON) log line: method, caller, outcome, C.4 code,
  duration. No request bodies, so no id numbers, reach the log.
* A handler raises :class:`~node.errors.EcError`; any other exception is a bug, logged
  with its traceback and answered with code -1, never a dropped connection.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from node.errors import EcError, to_status

__all__ = ["Caller", "current_caller", "CallInterceptor"]

log = logging.getLogger("ecnet.call")


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


def _caller_from(metadata: tuple[tuple[str, Any], ...] | None) -> Caller:
    if not metadata:
        return _ANONYMOUS
    node = channel = terminal = ""
    for key, value in metadata:
        if key == "ec-node":
            node = value
        elif key == "ec-channel-id":
            channel = value
        elif key == "ec-terminal-id":
            terminal = value
    if not (node or channel or terminal):
        return _ANONYMOUS
    return Caller(node, channel, terminal)


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, node_name: str, log_calls: bool = True) -> None:
        self.node_name = node_name
        self.log_calls = log_calls

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method
        caller = _caller_from(details.invocation_metadata)
        inner = handler.unary_unary

        async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            token = _caller.set(caller)
            outcome, ec_code = "OK", 0
            try:
                return await inner(request, context)
            except EcError as err:
                outcome, ec_code = err.grpc_code.name, err.code
                await context.abort_with_status(to_status(err))
            except NotImplementedError:
                # A method of a later issue, still the generated base class's.
                outcome, ec_code = "UNIMPLEMENTED", -5
                await context.abort_with_status(
                    to_status(EcError(-5, f"{method} is not implemented yet on this node"))
                )
            except grpc.aio.AbortError:
                outcome = context.code().name if context.code() else "ABORTED"
                raise
            except Exception:
                log.exception("unexpected error in %s", method)
                outcome, ec_code = "INTERNAL", -1
                await context.abort_with_status(
                    to_status(EcError(-1, f"unexpected error on node {self.node_name}; see its log"))
                )
            finally:
                _caller.reset(token)
                if self.log_calls:
                    log.info(
                        "call",
                        extra={
                            "fields": {
                                "method": method,
                                "caller": caller.describe(),
                                "outcome": outcome,
                                "code": ec_code,
                                "ms": round((time.perf_counter() - start) * 1000, 3),
                            }
                        },
                    )

        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
