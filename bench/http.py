"""A load generator's HTTP/1.1 client for the HTTPS doors: one kept-alive TLS connection
per caller in flight, a request sent as prepared bytes, the answer read by its
``Content-Length``.

Why not httpx (which the tests use): on these 2 shared cores the client runs beside the
node it measures, and httpx spends about 1 ms of CPU per call (its connection pool under
16 callers in flight, h11, anyio), four times what the node spends answering: the
figure would be httpx's. The gRPC scenarios' client is gRPC's C core; this is the
HTTPS door's equivalent, as ``wrk`` would be, and as cheap as a client gets in Python.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

__all__ = ["HttpConnections", "HttpAnswer"]


class HttpAnswer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def json(self) -> Any:
        return json.loads(self.body)


class HttpConnections:
    """Kept-alive connections to ``host:port`` (TLS with ``context``; plaintext without),
    one per call in flight, made on first use."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        self.host, self.port, self.context = host, port, context
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self.context,
                server_hostname=self.host if self.context else None,
            )
            self._all.append(writer)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\n{head}"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = HttpAnswer(status, await reader.readexactly(length))
        self._idle.append((reader, writer))
        return answer

    async def close(self) -> None:
        for writer in self._all:
            writer.close()
        self._all.clear()
        self._idle.clear()
