"""National's forwarding of a call to the one province that may answer it.

National is the hub of every cross-province call (:mod:`federation.hub` says which
call goes where). :class:`Forwarder` finds the province's address in the node directory (its answer
kept for ``ADDRESS_TTL`` seconds, forgotten at once when a call fails), keeps one
channel per address, and gives the forwarded call what is left of the caller's
deadline less ``MARGIN`` (at most the call's own deadline), so that national's own clear -3
("province 44 did not answer") reaches the caller before the caller's deadline does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from federation.client import PeerClient
from federation.directory import Directory
from federation.keepalive import KEEPALIVE_MS
from node.domain.regions import province_name
from node.errors import EcError, from_rpc_error, transport_failure
from node.tls import Dialer

__all__ = ["Forwarder", "MARGIN", "ADDRESS_TTL"]

T = TypeVar("T")

# Seconds kept back from the caller's deadline for national's own answer to travel back.
MARGIN = 0.2
# Seconds a province's address (or its absence) is taken from the directory's last answer.
ADDRESS_TTL = 1.0


class Forwarder:
    def __init__(
        self,
        directory: Directory,
        dialer: Dialer,
        linger: float = 0.0,
        keepalive_ms: int = KEEPALIVE_MS,
    ) -> None:
        self.directory = directory
        self.dialer = dialer
        self.linger = linger  # of the links to the provinces (federation.link)
        self.keepalive_ms = keepalive_ms
        self._peers: dict[str, PeerClient] = {}
        # province -> (address or None, time.monotonic() of the lookup)
        self._addresses: dict[str, tuple[str | None, float]] = {}

    async def _address_of(self, province: str) -> str | None:
        now = time.monotonic()
        hit = self._addresses.get(province)
        if hit is not None and now - hit[1] < ADDRESS_TTL:
            return hit[0]
        address = await self.directory.address_of(province)
        self._addresses[province] = (address, now)
        return address

    async def _drop(self, address: str) -> None:
        peer = self._peers.pop(address, None)
        if peer is not None:
            await peer.close()

    async def forward(
        self,
        province: str,
        what: str,
        call: Callable[[PeerClient, float], Awaitable[T]],
        time_remaining: float | None,
        deadline: float,
    ) -> T:
        """``call(peer, timeout)`` on ``province``'s node, within ``deadline`` seconds
        and the caller's ``time_remaining``; ``what`` names the province's part in
        errors ("the insured province")."""
        where = f"{what}, province {province} ({province_name(province)})"
        address = await self._address_of(province)
        if address is None:
            raise EcError(
                -3, f"{where} has no live node registered with the national hub; try again later"
            )
        timeout = deadline
        if time_remaining is not None:
            timeout = min(timeout, time_remaining - MARGIN)
        if timeout <= 0:
            raise EcError(-3, f"no time left to reach {where}")
        peer = self._peers.get(address)
        if peer is None:
            peer = self._peers[address] = PeerClient(
                address,
                f"p{province}",
                self.dialer,
                linger=self.linger,
                keepalive_ms=self.keepalive_ms,
            )
        try:
            return await call(peer, timeout)
        except grpc.RpcError as exc:
            code, message = from_rpc_error(exc)
            if transport_failure(exc):
                self._addresses.pop(province, None)
                if exc.code() == grpc.StatusCode.UNAVAILABLE:
                    await self._drop(address)
                code, message = (
                    -3,
                    (
                        f"{where} at {address} did not answer within {timeout:.1f} s "
                        f"({exc.code().name.lower()})"
                    ),
                )
            raise EcError(code, message) from None

    async def close(self) -> None:
        for address in list(self._peers):
            await self._drop(address)
