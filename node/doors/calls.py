"""The gRPC methods a door calls, run through the node's one call path.

:class:`Handlers` stands in for the gRPC server while the role's servicers are added to
it: it passes everything on and keeps each method's handler. :class:`Calls` then runs a
method for a door: its request through ``CallInterceptor.call`` (every check a gRPC call
meets) to the same servicer, a refusal raised as :class:`DoorRefusal`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import grpc

from node.errors import EcError
from node.interceptor import CallInterceptor
from node.pki import Identity

__all__ = ["Handlers", "Calls", "DoorContext", "DoorRefusal"]

# How long a door's call may take (the gRPC path has the caller's deadline; a door's
# caller has its own time-out, which the node cannot see).
DOOR_DEADLINE_S = 30.0


class DoorRefusal(grpc.aio.AbortError):
    """A door's call refused: ``error`` says why (its C.4 code and message)."""

    def __init__(self, error: EcError) -> None:
        super().__init__(error.message)
        self.error = error


class DoorContext:
    """What a servicer and the checks read of a call's context, for a door's call: the
    client certificate the TLS handshake verified (``auth_context``, as gRPC names it),
    the peer's address and the call's deadline."""

    def __init__(self, pems: Sequence[bytes], peer: str, deadline_s: float = DOOR_DEADLINE_S):
        self._auth = {"x509_pem_cert": list(pems)} if pems else {}
        self._peer = peer
        self._deadline = time.monotonic() + deadline_s
        self._code: grpc.StatusCode | None = None

    def auth_context(self) -> Mapping[str, Iterable[bytes]]:
        return self._auth

    def peer(self) -> str:
        return self._peer

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def time_remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    async def abort(self, err: EcError) -> None:
        self._code = err.grpc_code
        raise DoorRefusal(err)


class Handlers:
    """A gRPC server's stand-in while servicers are added: everything goes on to
    ``server``, and each method's handler is kept (``handler``)."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self.server = server
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self.server.add_registered_method_handlers(service, handlers)
        for name, handler in handlers.items():
            self._handlers[f"/{service}/{name}"] = handler

    def __getattr__(self, name: str) -> Any:  # anything else a registration calls
        return getattr(self.server, name)

    def handler(self, method: str) -> grpc.RpcMethodHandler[Any, Any] | None:
        """The unary handler of ``method`` (``/ecnet.v1.QrService/IssueQrCode``) on this
        node, or None when the node does not serve it."""
        handler = self._handlers.get(method)
        return handler if handler is not None and handler.unary_unary is not None else None


Behaviour = Callable[[Any, Any], Awaitable[Any]]


class Calls:
    """Runs a method of the node for a door, as the gRPC server would."""

    def __init__(self, interceptor: CallInterceptor, handlers: Handlers) -> None:
        self.interceptor = interceptor
        self.handlers = handlers

    def serves(self, method: str) -> bool:
        return self.handlers.handler(method) is not None

    async def run(
        self,
        method: str,
        request: Any,
        context: DoorContext,
        metadata: Iterable[tuple[str, str]] = (),
        *,
        anonymous: bool = False,
        signed_envelope: Mapping[str, str] | None = None,
        identity: Identity | None = None,
    ) -> Any:
        """The answer of ``method`` to ``request``; raises :class:`DoorRefusal`.
        ``anonymous``: a caller without a client certificate is let in (its signature is
        what names it); ``signed_envelope``: the channel door's signed envelope fields;
        ``identity``: the caller as the management console verified it (its logged-in
        operator, ``node.console``), for the console only."""
        handler = self.handlers.handler(method)
        if handler is None:
            raise DoorRefusal(EcError(-5, f"{method.lstrip('/')} is not served by this node"))
        inner: Behaviour = handler.unary_unary  # type: ignore[assignment]
        return await self.interceptor.call(
            method,
            tuple(metadata),
            request,
            context,
            inner,
            context.abort,
            (DoorRefusal,),
            anonymous=anonymous,
            envelope_refusals=False,
            door="https",
            signed_envelope=signed_envelope,
            identity=identity,
        )
