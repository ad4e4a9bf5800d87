"""The HTTPS server of a node: uvicorn on the node's own event loop.

TLS 1.3 with the node's certificate from the national CA. A client certificate is asked
for and, when offered, verified against the CA in the handshake (a certificate of
another CA ends it); it reaches the application in the request's scope as the ASGI TLS
extension names it (``scope["extensions"]["tls"]["client_cert_chain"]``: the PEM of the
client's certificate, first), where :mod:`node.tls`'s ``Trust`` then judges it as it
judges a gRPC caller's (clock, CRL). A door that requires one (the terminal door) says so
with a 403; the channel door's callers are their signatures.

A handshake the node refuses (a client certificate of another CA, or expired) is refused
out loud: the TLS alert that says why is sent, the node's side is closed (FIN), and the
connection is let go when the client closes its side. asyncio alone drops such a
connection at once with the alert unsent, and a client whose request was still arriving
then sees a reset, not a refusal (``_RefusingTls``).

The node's certificate and key are read again when their files change (looked at every
second): a renewed certificate is served to the next connection without a restart.
``--insecure`` serves plain HTTP (development only), as the gRPC port then does.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from node.config import ConfigError, parse_address
from node.tls import TlsFiles, _Watched

__all__ = ["DoorTls", "HttpsServer", "client_pems"]

log = logging.getLogger("ecnet.https")

# uvicorn's own loggers: its start and stop lines are the node's to write.
for _name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# How long a kept-alive connection may stay idle (seconds).
KEEP_ALIVE_S = 30
# How long a refused handshake's connection waits for the client to close its side.
REFUSED_LINGER_S = 2.0


class DoorTls:
    """The server side of the doors' TLS: TLS 1.3, the node's certificate, client
    certificates of the CA verified when offered."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        files.load()  # every file readable and matching, or a ConfigError naming it
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(cafile=str(files.ca))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_cert_chain(str(files.cert), str(files.key))
        self.context = ctx
        self._watch = _Watched(files.cert, files.key)

    def refresh(self, now: float) -> bool:
        """Take a renewed certificate (when its files changed): True when taken."""
        if not self._watch.changed(now):
            return False
        try:
            self.files.load()
            self.context.load_cert_chain(str(self.files.cert), str(self.files.key))
        except (ConfigError, ssl.SSLError, OSError) as exc:
            log.warning("renewed certificate not taken", extra={"fields": {"why": str(exc)}})
            return False
        log.info("certificate renewed", extra={"fields": {"cert": str(self.files.cert)}})
        return True


def client_pems(scope: Any) -> list[bytes]:
    """The verified client certificate of a request (PEM), or none."""
    tls = scope.get("extensions", {}).get("tls") or {}
    return [c.encode() if isinstance(c, str) else c for c in tls.get("client_cert_chain", ())]


class _TlsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, passing the client's certificate to the application
    (the ASGI TLS extension's ``client_cert_chain``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
        tls = {"client_cert_chain": chain, "tls_version": ssl_object.version()}
        app = self.app

        async def with_tls(scope: Any, receive: Any, send: Any) -> None:
            scope["extensions"] = {**scope.get("extensions", {}), "tls": tls}
            await app(scope, receive, send)

        self.app = with_tls


class _RefusingTls(asyncio.sslproto.SSLProtocol):
    """asyncio's server-side TLS, with a refused handshake refused out loud.

    asyncio aborts the connection the moment the handshake fails, with the alert still in
    its outgoing buffer. In TLS 1.3 the client has finished its side of the handshake by
    then and sent its request; it sees the connection end without a word, or reset when
    its request arrived after the server's last read. Here the alert is written, the
    node's side shut (FIN), and whatever the client still sends is read and dropped until
    it closes (or ``REFUSED_LINGER_S`` passes): the client reads the alert, whatever the
    timing."""

    _refused: asyncio.TimerHandle | None = None

    def _on_handshake_complete(self, handshake_exc: Any) -> None:
        me: Any = self  # SSLProtocol's state, not in typeshed
        transport: Any = me._transport
        if not isinstance(handshake_exc, ssl.SSLError) or transport is None:
            super()._on_handshake_complete(handshake_exc)
            return
        if me._handshake_timeout_handle is not None:
            me._handshake_timeout_handle.cancel()
            me._handshake_timeout_handle = None
        # UNWRAPPED: bytes still arriving are left unread in the memory BIO, and the
        # client's EOF closes the transport (eof_received answers None in this state).
        me._set_state(asyncio.sslproto.SSLProtocolState.UNWRAPPED)
        alert = me._outgoing.read()
        if alert:
            transport.write(alert)
        if transport.can_write_eof():
            transport.write_eof()
        self._refused = self._loop.call_later(REFUSED_LINGER_S, transport.abort)
        self._wakeup_waiter(handshake_exc)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused is not None:
            self._refused.cancel()
            self._refused = None
        super().connection_lost(exc)


def _tls_protocol(context: ssl.SSLContext) -> Any:
    """uvicorn's protocol factory for TLS connections: ``_TlsProtocol`` inside
    ``_RefusingTls`` (what ``create_server(ssl=…)`` would build, with the refusal kept)."""

    def make(**kwargs: Any) -> asyncio.BaseProtocol:
        loop = kwargs.get("_loop") or asyncio.get_running_loop()
        waiter: Any = None  # no one awaits the handshake: the protocol inside starts the call
        return _RefusingTls(loop, _TlsProtocol(**kwargs), context, waiter, server_side=True)

    return make


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: the node handles its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpsServer:
    """One listening socket of a node's doors: ``start`` binds and serves ``app``;
    ``address`` is where (``127.0.0.1:PORT``)."""

    def __init__(self, app: Any, listen: str, tls: DoorTls | None) -> None:
        self.app = app
        self.listen = listen
        self.tls = tls
        self.address = ""
        self.port = 0
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None

    def bind(self) -> socket.socket:
        host, port = parse_address(self.listen, "--https")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are
        # TCP, and without it every answer written in two pieces (head, body) waits for
        # the client's delayed ACK (40 ms) before its second piece leaves.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"cannot listen on {self.listen} (--https): {exc.strerror}") from None
        sock.listen(512)
        sock.setblocking(False)
        return sock

    async def start(self) -> None:
        sock = self.bind()
        self.port = sock.getsockname()[1]
        host, _ = parse_address(self.listen)
        advertised = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.address = f"{advertised}:{self.port}"
        config = uvicorn.Config(
            self.app,
            # TLS is the protocol's: uvicorn sees plain HTTP (its config.ssl stays None)
            http=_TlsProtocol if self.tls is None else _tls_protocol(self.tls.context),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_S,
            timeout_graceful_shutdown=2,
        )
        config.load()
        server = _Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._task.done():
                await self._task  # its failure, raised
                raise ConfigError(f"the HTTPS door on {self.listen} did not start")
            await asyncio.sleep(0.01)
        if self.tls is not None:
            self._refresh = asyncio.create_task(self._refresh_forever(self.tls))

    async def _refresh_forever(self, tls: DoorTls) -> None:
        while True:
            await asyncio.sleep(1.05)  # _Watched looks once a second at most
            tls.refresh(time.monotonic())

    async def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
