"""Links: the routed calls between two nodes, multiplexed on one long-lived stream.

A scan of another province's code crosses three nodes (serving province → national →
issuer), a remote settlement the same. Made as unary gRPC calls, every hop pays for a
new HTTP/2 stream, its headers, a deadline timer and a status, twice (server and client
side), and on a 2-core machine that was most of the cost of a routed scan: three empty
``grpc.aio`` servers chained that way reach only 0.25–0.31 of a no-op call's
throughput, the same chain over streams like these 0.44–0.48.

So a node calls ``RouteQuery``, ``RouteSettle`` and ``RouteReverse`` on another node
through a :class:`Link` (``PeerClient.link``), which has the unary stub's signature:

* the calling end opens one ``FederationService/Link`` stream (its connection's
  certificate names the caller of every message on it) and writes each call as a
  :class:`LinkMessage` with an id, the method's name, the serialized request and its
  timeout; what queues up while a frame is being written goes out as the next frame;
* the answering end (:class:`LinkServer`) runs each message as its own task through the
  very servicer method the unary call reaches, with the caller set as the interceptor
  sets it and ``context.time_remaining()`` counted from the message's timeout, and
  writes the answer with the same id: the serialized response, or the
  ``google.rpc.Status`` the unary call would have ended with;
* the calling end hands the answer to the caller: the response, or a
  ``grpc.aio.AioRpcError`` carrying that status, so a caller handles a link's failure
  exactly as the unary call's (``node.errors.from_rpc_error``, ``transport_failure``).

Failures keep the unary call's meaning. No answer within the timeout is
DEADLINE_EXCEEDED. A stream that breaks (the peer stopped, the channel closed) fails
its calls in flight with UNAVAILABLE, and the next call opens a new stream. In both
cases the answering end may still have done the work, as with a unary call that times
out. A peer that does not know ``Link`` (UNIMPLEMENTED) is called with the unary
methods for the next ``UNARY_RETRY`` seconds, then tried on a stream again (it may
have been upgraded); a request larger than ``MAX_PAYLOAD``, and any call beyond
``MAX_IN_FLIGHT`` on one stream, go as unary calls too. A node that stops drains its
links first (:meth:`LinkServer.drain`): messages that arrive then are answered -3, the
ones in flight finish, and the stream ends, so the stop does not wait for the other end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast, overload

import grpc
from google.protobuf.message import Message
from google.rpc import status_pb2  # type: ignore[import-untyped]  # .pyi files, no py.typed
from grpc.aio import AioRpcError, Metadata

from ecnet.v1 import federation_service_pb2 as pb
from ecnet.v1.federation_service_pb2_grpc import FederationServiceStub
from federation.keepalive import KEEPALIVE_MS
from node.errors import EcError, to_status
from node.interceptor import Caller, current_caller, enter_caller, exit_caller, failure_of, log_call
from node.settings import read_settings

__all__ = [
    "Link",
    "LinkServer",
    "LinkSettings",
    "ROUTED",
    "MAX_PAYLOAD",
    "MAX_IN_FLIGHT",
    "MAX_FRAME_BYTES",
]

if TYPE_CHECKING:  # the stubs' type of an aio stub (no such class at run time)
    from ecnet.v1.federation_service_pb2_grpc import FederationServiceAsyncStub

log = logging.getLogger("ecnet.link")

# The calls a link carries: method name -> (request type, response type).
ROUTED: dict[str, tuple[type[Message], type[Message]]] = {
    "RouteQuery": (pb.RouteQueryRequest, pb.RouteQueryResponse),
    "RouteSettle": (pb.RouteSettleRequest, pb.RouteSettleResponse),
    "RouteReverse": (pb.RouteReverseRequest, pb.RouteReverseResponse),
}
SERVICE = "/ecnet.v1.FederationService/"
# A request this large goes as a unary call (a frame must stay well under gRPC's 4 MiB).
MAX_PAYLOAD = 1 << 20
# A frame is cut after this many bytes of payload (the rest goes in the next one).
MAX_FRAME_BYTES = 1 << 20
# Calls waiting for an answer on one stream at most; more go as unary calls (and an
# answering end refuses more than this many at once on a stream with -6, 触发限流).
MAX_IN_FLIGHT = 4096
# Seconds a peer without Link is called unary before a stream is tried again (it may
# have been upgraded meanwhile: a rolling upgrade ends with every pair on a link).
UNARY_RETRY = 60.0
# Seconds a draining stream waits for its calls in flight and its last frame.
DRAIN_TIMEOUT = 5.0
_STATUS_KEY = "grpc-status-details-bin"
# timeoutMs is a uint32: a longer timeout (49 days) is sent as this.
_MAX_MS = 2**32 - 1


@dataclass(frozen=True)
class LinkSettings:
    """``ECNET_LINK_<NAME>`` or the node's ``extra`` (node.settings)."""

    # Milliseconds a frame of calls waits for more calls while its stream is busy
    # (calls on it await answers); 0 writes every frame at once. Latency of a routed
    # call under load for fewer frames (_Sender); an idle stream never waits.
    linger_ms: float = field(default=1.0, metadata={"zero_ok": True})
    # Milliseconds between keepalive pings a node sends on a connection to another node
    # (a peer that stopped answering is noticed within this plus 10 s). The same setting
    # sets how often the node's server accepts pings (keepalive.server_options): set
    # apart, a server refuses the pings with GOAWAY too_many_pings and the link drops.
    keepalive_ms: int = KEEPALIVE_MS

    @classmethod
    def from_config(
        cls, extra: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> LinkSettings:
        return read_settings(cls, "link", extra, environ)

    @property
    def linger(self) -> float:
        return self.linger_ms / 1000


def _rpc_error(code: grpc.StatusCode, details: str, status: bytes = b"") -> AioRpcError:
    trailing = Metadata((_STATUS_KEY, status)) if status else Metadata()
    return AioRpcError(code, Metadata(), trailing, details=details)


def _error_of(status_bytes: bytes) -> AioRpcError:
    """The failure a unary call would have raised, from an answer's status."""
    status = status_pb2.Status.FromString(status_bytes)
    code = next((c for c in grpc.StatusCode if c.value[0] == status.code), grpc.StatusCode.UNKNOWN)
    return _rpc_error(code, status.message, status_bytes)


def status_bytes(err: EcError) -> bytes:
    """The serialized ``google.rpc.Status`` of ``err`` (what ``to_status`` puts in the trailer)."""
    return cast(bytes, dict(to_status(err).trailing_metadata)[_STATUS_KEY])  # a -bin value


class _Sender:
    """The one writer of a stream end: messages queued by many tasks, written in frames.

    gRPC allows one write at a time on a call; this task writes whatever queued up
    while the previous frame was being written. ``on_error`` gets the exception that
    ended the writing (the stream is gone).

    ``linger`` (seconds) trades a little latency for fewer frames when the stream is
    busy: if ``busy()`` says so when the first message of a frame is queued, the frame
    waits that long for more. Every frame costs each end a write or a read through
    gRPC's core, so under load this is most of what a routed call costs; an idle
    stream (``busy()`` false) writes at once.
    """

    def __init__(
        self,
        write: Callable[[pb.LinkFrame], Awaitable[None]],
        on_error: Callable[[BaseException], None],
        *,
        linger: float = 0.0,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self._write = write
        self._on_error = on_error
        self._linger = linger
        self._busy = busy
        self._queue: list[pb.LinkMessage] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.frames = self.messages = 0  # written so far (their ratio: how much batching helps)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def put(self, message: pb.LinkMessage) -> None:
        self._queue.append(message)
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._linger and not self._closing and self._busy is not None and self._busy():
                    await asyncio.sleep(self._linger)
                while self._queue:
                    self.frames += 1
                    self.messages += len(self._queue)
                    await self._write(self._next_frame())
                if self._closing:
                    return
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the stream is gone
            self._on_error(exc)

    def _next_frame(self) -> pb.LinkFrame:
        """The queue's head, cut before the message that would take the frame over
        ``MAX_FRAME_BYTES`` (a large message goes alone, so any message a unary call
        could carry fits in a frame)."""
        size = 0
        cut = 0
        for m in self._queue:
            size += len(m.payload) + len(m.status)
            if cut and size > MAX_FRAME_BYTES:
                break
            cut += 1
        frame = pb.LinkFrame(messages=self._queue[:cut])
        del self._queue[:cut]
        return frame

    async def close(self, timeout: float | None = None) -> None:
        """Write what is queued, then stop (cancelled after ``timeout`` seconds)."""
        self._closing = True
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        self.cancel()

    def cancel(self) -> None:
        self._task.cancel()


# -- the calling end ---------------------------------------------------------------------


class _Stream:
    """One open Link stream of a :class:`Link`, with the calls waiting on it."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.call = link._stub.Link(metadata=link._metadata)
        self.pending: dict[int, asyncio.Future[pb.LinkMessage | _Unary]] = {}
        self.dead = False
        self._accepted = False
        # Busy: some calls were written and wait for their answers, so more are coming.
        self.sender = _Sender(
            self._write,
            self._lost,
            linger=link.linger,
            busy=lambda: len(self.pending) > self.sender.queued,
        )
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _write(self, frame: pb.LinkFrame) -> None:
        if not self._accepted:
            # The answering end sends its headers first (LinkServer.serve). Until they
            # arrive nothing is written: a peer without Link ends the call instead, and
            # its UNIMPLEMENTED must reach _lost as such, not as a failed write.
            await self.call.initial_metadata()
            if self.call.done():
                raise _rpc_error(await self.call.code(), await self.call.details() or "")
            self._accepted = True
        await self.call.write(frame)

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.call.read()
                if frame is grpc.aio.EOF:
                    self._lost(None)
                    return
                # Not EOF, so a LinkFrame (grpc's stubs type read() as EOF's type, object).
                for m in cast(pb.LinkFrame, frame).messages:
                    future = self.pending.pop(m.id, None)
                    if future is not None and not future.done():
                        future.set_result(m)
        except asyncio.CancelledError:
            self._lost(None)
            raise
        except BaseException as exc:
            self._lost(exc)

    def _lost(self, exc: BaseException | None) -> None:
        """The stream is gone: every call still waiting fails as a unary call would."""
        if self.dead:
            return
        self.dead = True
        self.link._forget(self)
        unimplemented = (
            isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNIMPLEMENTED
        )
        if unimplemented:
            self.link._unary_until = time.monotonic() + UNARY_RETRY
            log.info(
                "peer has no Link; using unary calls", extra={"fields": {"peer": self.link.name}}
            )
        why = (
            f"{exc.code().name.lower()}: {exc.details()}"
            if isinstance(exc, grpc.RpcError)
            else "stream ended"
        )
        for future in self.pending.values():
            if future.done():
                continue
            if unimplemented:  # a peer without Link did nothing with them: they go again, unary
                future.set_result(_UNARY)
            else:
                future.set_exception(
                    _rpc_error(
                        grpc.StatusCode.UNAVAILABLE, f"link to {self.link.name} lost ({why})"
                    )
                )
        self.pending.clear()
        self.sender.cancel()

    def close(self) -> None:
        self.reader.cancel()
        self.call.cancel()
        self._lost(None)


class _Unary(enum.Enum):
    """The type of :data:`_UNARY` (an enum member, so a check of it narrows the type)."""

    UNARY = object()


_UNARY: Final = _Unary.UNARY  # an answer meaning "make this call as a unary call"


class Link:
    """The routed calls to one node over a Link stream; drop-in for the unary stub's
    ``RouteQuery``, ``RouteSettle`` and ``RouteReverse`` (``metadata`` is the link's own)."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        metadata: tuple[tuple[str, str], ...],
        name: str,
        linger: float = 0.0,
    ) -> None:
        self.name = name
        self.linger = linger  # seconds a frame of calls waits for more while the stream is busy
        self._stub: FederationServiceAsyncStub = FederationServiceStub(channel)
        self._metadata = metadata
        self._stream: _Stream | None = None
        self._ids = itertools.count(1)
        # time.monotonic() until which calls go unary (the peer answered Link UNIMPLEMENTED).
        self._unary_until = float("-inf")
        self._closed = False

    async def RouteQuery(
        self,
        request: pb.RouteQueryRequest,
        *,
        timeout: float | None = None,
        metadata: object = None,
    ) -> pb.RouteQueryResponse:
        return await self.call("RouteQuery", request, timeout)

    async def RouteSettle(
        self,
        request: pb.RouteSettleRequest,
        *,
        timeout: float | None = None,
        metadata: object = None,
    ) -> pb.RouteSettleResponse:
        return await self.call("RouteSettle", request, timeout)

    async def RouteReverse(
        self,
        request: pb.RouteReverseRequest,
        *,
        timeout: float | None = None,
        metadata: object = None,
    ) -> pb.RouteReverseResponse:
        return await self.call("RouteReverse", request, timeout)

    def _forget(self, stream: _Stream) -> None:
        if self._stream is stream:
            self._stream = None

    def _unary(self, method: str, request: Message, timeout: float | None) -> Awaitable[Message]:
        unary: grpc.aio.UnaryUnaryMultiCallable[Message, Message] = getattr(self._stub, method)
        return unary(request, metadata=self._metadata, timeout=timeout)

    @overload
    async def call(
        self, method: Literal["RouteQuery"], request: pb.RouteQueryRequest, timeout: float | None
    ) -> pb.RouteQueryResponse: ...

    @overload
    async def call(
        self, method: Literal["RouteSettle"], request: pb.RouteSettleRequest, timeout: float | None
    ) -> pb.RouteSettleResponse: ...

    @overload
    async def call(
        self,
        method: Literal["RouteReverse"],
        request: pb.RouteReverseRequest,
        timeout: float | None,
    ) -> pb.RouteReverseResponse: ...

    async def call(self, method: str, request: Message, timeout: float | None) -> Message:
        """``method`` (one of :data:`ROUTED`) on the peer: its response, or the
        ``grpc.RpcError`` the unary call would have raised."""
        if self._closed:
            raise _rpc_error(grpc.StatusCode.UNAVAILABLE, f"link to {self.name} is closed")
        payload = request.SerializeToString()
        stream = self._stream
        if (
            time.monotonic() < self._unary_until
            or len(payload) > MAX_PAYLOAD
            or (stream is not None and len(stream.pending) >= MAX_IN_FLIGHT)
        ):
            return await self._unary(method, request, timeout)
        if stream is None:
            stream = self._stream = _Stream(self)
        loop = asyncio.get_running_loop()
        ident = next(self._ids)
        message = pb.LinkMessage(
            id=ident,
            method=method,
            payload=payload,
            timeoutMs=0 if timeout is None else min(max(1, int(timeout * 1000)), _MAX_MS),
        )
        future: asyncio.Future[pb.LinkMessage | _Unary] = loop.create_future()
        stream.pending[ident] = future
        timer = None
        if timeout is not None:
            timer = loop.call_later(max(timeout, 0), _expire, future, timeout)
        start = loop.time()
        stream.sender.put(message)
        try:
            answer = await future
        finally:
            stream.pending.pop(ident, None)
            if timer is not None:
                timer.cancel()
        if answer is _UNARY:  # the peer has no Link: the same call, unary, in the time left
            left = None if timeout is None else max(0.0, timeout - (loop.time() - start))
            return await self._unary(method, request, left)
        if answer.status:
            raise _error_of(answer.status)
        return ROUTED[method][1].FromString(answer.payload)

    async def close(self) -> None:
        self._closed = True
        if self._stream is not None:
            self._stream.close()


def _expire(future: asyncio.Future[pb.LinkMessage | _Unary], timeout: float) -> None:
    if not future.done():
        future.set_exception(
            _rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, f"Deadline Exceeded ({timeout:g} s)")
        )


# -- the answering end -------------------------------------------------------------------


class _MessageContext:
    """What a servicer method may ask of its context when it runs for a link message."""

    __slots__ = ("_deadline",)

    def __init__(self, timeout_ms: int) -> None:
        self._deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())


class CallContext(Protocol):
    """What a routed servicer method may ask of its context: the unary call's
    ``grpc.aio.ServicerContext``, or a link message's :class:`_MessageContext`."""

    def time_remaining(self) -> float | None: ...


# The servicer method of a routed call. Its request is the method's own message
# (``ROUTED[method][0]``), so the handlers of a LinkServer differ in that parameter.
Handler = Callable[[Any, CallContext], Awaitable[Message]]


class LinkServer:
    """The answering end of every Link stream of a node.

    ``handlers``: method name → the servicer method the unary call reaches.
    """

    def __init__(self, node_name: str, log_calls: bool, handlers: dict[str, Handler]) -> None:
        self.node_name = node_name
        self.log_calls = log_calls
        self.handlers = handlers
        self._draining = False
        self._drained = asyncio.Event()
        # One per stream, done when serve() returns.
        self._serving: set[asyncio.Future[None]] = set()
        # Messages answered, by calling node: what came over links, and from whom.
        self.answered: collections.Counter[str] = collections.Counter()

    async def serve(
        self,
        request_iterator: AsyncIterator[pb.LinkFrame],
        context: grpc.aio.ServicerContext[pb.LinkFrame, pb.LinkFrame],
    ) -> None:
        """The body of ``FederationService/Link``: runs until the caller ends the stream
        or this node drains its links."""
        caller = current_caller()  # the stream's, set by the interceptor
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        # Set when the stream can no longer be written.
        gone: asyncio.Future[BaseException | None] = loop.create_future()

        def lost(exc: BaseException | None) -> None:
            if not gone.done():
                gone.set_result(exc)

        sender = _Sender(context.write, lost)

        async def read() -> None:
            async for frame in request_iterator:
                for m in frame.messages:
                    task = loop.create_task(
                        self._answer(caller, m, sender, len(tasks) >= MAX_IN_FLIGHT)
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

        # Headers first: the calling end writes nothing until it has them (_Stream._write).
        await context.send_initial_metadata(())
        log.info("link opened", extra={"fields": {"caller": caller.describe()}})
        reader = loop.create_task(read())
        draining = loop.create_task(self._drained.wait())
        finished: asyncio.Future[None] = loop.create_future()
        self._serving.add(finished)
        try:
            ends: set[asyncio.Future[Any]] = {reader, draining, gone}  # results unread
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                lost(reader.exception())
            if tasks and not gone.done():
                await asyncio.wait(set(tasks), timeout=DRAIN_TIMEOUT)
            if not gone.done():
                await sender.close(DRAIN_TIMEOUT)
        finally:
            log.info(
                "link closed",
                extra={
                    "fields": {
                        "caller": caller.describe(),
                        "draining": self._draining,
                        "answers": sender.messages,
                        "frames": sender.frames,
                    }
                },
            )
            self._serving.discard(finished)
            finished.set_result(None)
            for t in (reader, draining, *tasks):
                t.cancel()
            sender.cancel()

    async def _answer(
        self, caller: Caller, m: pb.LinkMessage, sender: _Sender, full: bool = False
    ) -> None:
        start = time.perf_counter()
        method = SERVICE + m.method
        outcome, code = "OK", 0
        token = enter_caller(caller)
        try:
            caller.recheck()  # its certificate revoked or expired since the stream opened
            entry = self.handlers.get(m.method)
            if entry is None:
                raise EcError(
                    -5,
                    f"{m.method!r} is not a call a link carries "
                    f"(one of {', '.join(sorted(self.handlers))})",
                )
            if self._draining:
                raise EcError(-3, f"node {self.node_name} is stopping; try again")
            if full:  # a caller that does not wait for its answers must not grow this without bound
                raise EcError(
                    -6,
                    f"node {self.node_name} already has {MAX_IN_FLIGHT} calls in flight on this "
                    "link; try again",
                )
            request = ROUTED[m.method][0].FromString(m.payload)
            response = await entry(request, _MessageContext(m.timeoutMs))
            sender.put(pb.LinkMessage(id=m.id, payload=response.SerializeToString()))
            self.answered[caller.node] += 1
        except asyncio.CancelledError:
            outcome, code = "CANCELLED", -3
            raise
        except Exception as exc:
            outcome, err = failure_of(exc, method, self.node_name)
            code = err.code
            sender.put(pb.LinkMessage(id=m.id, status=status_bytes(err)))
        finally:
            exit_caller(token)
            if self.log_calls or code == -4:  # a refusal is always logged
                log_call(method, caller, outcome, code, start, via="link")

    async def drain(self) -> None:
        """Stop taking calls (answered -3), let the ones in flight finish, end every stream."""
        self._draining = True
        self._drained.set()
        if self._serving:
            await asyncio.wait(set(self._serving), timeout=DRAIN_TIMEOUT + 1)
