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
* A request whose bytes are not the method's message never reaches a handler: grpc would
  answer UNKNOWN with protobuf's own text. Every handler's ``request_deserializer`` is
  wrapped so that it yields an :class:`Undecodable` instead, which the call answers with
  -2 and a sentence naming the message expected (streams too: a Link frame that does not
  decode ends the stream with that status). A method whose refusals travel in its
  response (the Appendix B ``Trans``) answers it there (``envelopes``).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

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
    "Undecodable",
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


@dataclass(frozen=True, slots=True)
class Undecodable:
    """What a wrapped ``request_deserializer`` gives for bytes that are not the message."""

    method: str
    problem: str

    def error(self) -> EcError:
        name = self.method.rsplit("/", 1)[-1]
        return EcError(
            -2,
            f"the request to {name} could not be decoded ({self.problem}): send the "
            f"protobuf message that {self.method} takes",
        )


def _tolerant(
    method: str, deserializer: Callable[[bytes], Any] | None
) -> Callable[[bytes], Any] | None:
    """``deserializer``, answering :class:`Undecodable` where it would raise."""
    if deserializer is None:
        return None
    inner = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return inner(data)
        except Exception as exc:  # DecodeError, and whatever a codec raises on bad bytes
            return Undecodable(method, type(exc).__name__)

    return deserialize


async def _checked_frames(frames: AsyncIterator[Any], bad: list[EcError]) -> AsyncIterator[Any]:
    """The frames of a stream up to the first that did not decode (kept in ``bad``)."""
    async for frame in frames:
        if isinstance(frame, Undecodable):
            bad.append(frame.error())
            return
        yield frame


def _stream_handler(
    handler: grpc.RpcMethodHandler[Req, Resp], method: str
) -> grpc.RpcMethodHandler[Req, Resp]:
    """A streaming handler whose requests that do not decode end the call with -2."""
    deserializer = _tolerant(method, handler.request_deserializer)
    serializer = handler.response_serializer
    # The aio behaviours (coroutine or async generator functions), untyped in the stubs.
    b: Any
    if handler.unary_stream is not None:
        b = handler.unary_stream
        if inspect.isasyncgenfunction(b):

            async def unary_gen(request: Any, context: Any) -> AsyncIterator[Any]:
                if isinstance(request, Undecodable):
                    await context.abort_with_status(to_status(request.error()))
                async for answer in b(request, context):
                    yield answer

            return grpc.unary_stream_rpc_method_handler(
                unary_gen, request_deserializer=deserializer, response_serializer=serializer
            )

        async def unary_co(request: Any, context: Any) -> Any:
            if isinstance(request, Undecodable):
                await context.abort_with_status(to_status(request.error()))
            return await b(request, context)

        return grpc.unary_stream_rpc_method_handler(
            unary_co, request_deserializer=deserializer, response_serializer=serializer
        )
    streaming = handler.stream_stream is not None
    b = handler.stream_stream if streaming else handler.stream_unary
    make = (
        grpc.stream_stream_rpc_method_handler if streaming else grpc.stream_unary_rpc_method_handler
    )
    if inspect.isasyncgenfunction(b):

        async def stream_gen(frames: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
            bad: list[EcError] = []
            async for answer in b(_checked_frames(frames, bad), context):
                yield answer
            if bad:
                await context.abort_with_status(to_status(bad[0]))

        return make(stream_gen, request_deserializer=deserializer, response_serializer=serializer)

    async def stream_co(frames: AsyncIterator[Any], context: Any) -> Any:
        bad: list[EcError] = []
        result = await b(_checked_frames(frames, bad), context)
        if bad:
            await context.abort_with_status(to_status(bad[0]))
        return result

    return make(stream_co, request_deserializer=deserializer, response_serializer=serializer)


class CallInterceptor(grpc.aio.ServerInterceptor):
    """``envelopes`` maps the full name of a method whose refusals travel in its response
    (``/ecnet.v1.AcceptanceService/Trans``) to the response that carries an error."""

    def __init__(
        self,
        node_name: str,
        log_calls: bool = True,
        envelopes: Mapping[str, Callable[[EcError], object]] | None = None,
    ) -> None:
        self.node_name = node_name
        self.log_calls = log_calls
        self.envelopes = dict(envelopes or {})

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Req, Resp] | None:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        if handler.unary_unary is None:
            return _stream_handler(handler, method)
        envelope = self.envelopes.get(method)
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
                if isinstance(request, Undecodable):
                    if envelope is not None:
                        err = request.error()
                        outcome, ec_code = "OK", err.code
                        return cast("Resp", envelope(err))
                    raise request.error()
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
            request_deserializer=_tolerant(method, handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
