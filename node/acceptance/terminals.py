"""The terminals a province serves: national's registry, copied into the province.

National's management center registers terminals (table 1 of 7.2.1.1) and binds each
to its institution (orgId); a scan is accepted only from a terminal registered for this
province and bound to the request's orgId, else 500100.

The province learns its terminals from national (``AdminService/ListTerminals`` for its
province code, paged) and keeps them in its ``terminals`` table and in memory:

* first use: the table is loaded; an empty table is filled from national at once;
* a copy older than ``terminal_refresh`` is refreshed in the background on the next
  scan (the scan itself uses the copy it has);
* an unknown terminal, or one bound to another orgId, makes the province ask national
  again before it refuses — at most every ``terminal_miss_refresh`` seconds, so a
  terminal registered a moment ago is accepted, and made-up numbers cost national one
  call per interval at most;
* national unreachable: the copy is used as it is; a province that never had a copy
  answers -3 (it cannot tell a registered terminal from an unknown one).

Only one refresh runs at a time; scans waiting for it share its result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from node.clock import Clock
from node.domain.regions import province_name
from node.errors import EcError
from node.storage.acceptance import TerminalRow, q_load_terminals, q_replace_terminals
from node.storage.provincial import ProvincialStore

__all__ = ["TerminalRegistry", "TERMINAL_ID_LENGTH"]

log = logging.getLogger("ecnet.terminals")

TERMINAL_ID_LENGTH = 20

Fetch = Callable[[], Awaitable[list[TerminalRow]]]


class TerminalRegistry:
    def __init__(
        self,
        store: ProvincialStore,
        clock: Clock,
        province: str,
        fetch: Fetch,
        refresh: float,
        miss_refresh: float,
    ) -> None:
        self.store = store
        self.clock = clock
        self.province = province
        self._fetch = fetch
        self.refresh = refresh
        self.miss_refresh = miss_refresh
        self._org_of: dict[str, str] | None = None
        # time.monotonic() of the last refresh attempt (rate limit, not business time).
        self._tried_at = float("-inf")
        self._synced_at_ms: int | None = None
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def check(self, terminal_id: str, org_id: str | None) -> str:
        """The orgId ``terminal_id`` is bound to; 500100 unless it is registered (and not
        revoked) here and bound to ``org_id`` (None: to any institution). ``terminal_id``
        is the number of the caller's terminal certificate; empty (the caller holds
        none) is -4."""
        if not terminal_id:
            raise EcError(
                -4,
                "a terminal's call: call with the terminal's certificate from the national CA "
                "(ecnet://terminal/ORGID/TERMINALID); the ec-terminal-id metadata alone "
                "grants nothing",
            )
        if len(terminal_id) != TERMINAL_ID_LENGTH or not terminal_id.isdigit():
            raise EcError(
                500100, f"ec-terminal-id {terminal_id[:24]!r} is not a 20-digit terminal number"
            )
        org_of = self._org_of
        if org_of is None:
            org_of = await self._first_load()
        elif (
            self._synced_at_ms is not None
            and self.clock.now_ms() - self._synced_at_ms > self.refresh * 1000
        ):
            self._refresh_in_background()
        bound = org_of.get(terminal_id)
        if bound is not None and org_id in (None, bound):
            return bound
        if time.monotonic() - self._tried_at >= self.miss_refresh:
            org_of = await self._sync()
        bound = org_of.get(terminal_id)
        if bound is not None and org_id in (None, bound):
            return bound
        where = f"province {self.province} ({province_name(self.province)})"
        if bound is None:
            raise EcError(
                500100,
                f"terminal {terminal_id} is not registered for {where}, or its registration "
                "was revoked; register it with the management center first",
            )
        raise EcError(
            500100, f"terminal {terminal_id} is bound to institution {bound}, not to orgId {org_id}"
        )

    async def org_of(self, terminal_id: str) -> str | None:
        """The orgId a terminal of this province is bound to; None when it is not
        registered here (asking national again at most every ``terminal_miss_refresh``)."""
        if len(terminal_id) != TERMINAL_ID_LENGTH or not terminal_id.isdigit():
            return None
        org_of = self._org_of
        if org_of is None:
            org_of = await self._first_load()
        bound = org_of.get(terminal_id)
        if bound is None and time.monotonic() - self._tried_at >= self.miss_refresh:
            bound = (await self._sync()).get(terminal_id)
        return bound

    async def _first_load(self) -> dict[str, str]:
        async with self._lock:
            if self._org_of is not None:
                return self._org_of
            rows, synced = await self.store.db.read(q_load_terminals)
            if rows:
                self._org_of = {t.terminal_id: t.org_id for t in rows}
                self._synced_at_ms = synced
                return self._org_of
        return await self._sync()

    async def _sync(self) -> dict[str, str]:
        """Copy national's list now (or share a copy being made)."""
        started = time.monotonic()
        async with self._lock:
            if self._tried_at >= started and self._org_of is not None:
                return self._org_of  # a refresh finished while we waited for the lock
            self._tried_at = time.monotonic()
            try:
                rows = await self._fetch()
            except Exception as exc:
                if self._org_of is None:
                    raise EcError(
                        -3,
                        "cannot learn this province's registered terminals: the national node "
                        f"did not answer ({exc})",
                    ) from None
                log.warning(
                    "terminal refresh failed; using the copy we have",
                    extra={"fields": {"error": str(exc)}},
                )
                return self._org_of
            now_ms = self.clock.now_ms()
            await self.store.db.write(q_replace_terminals, rows, now_ms)
            self._org_of = {t.terminal_id: t.org_id for t in rows}
            self._synced_at_ms = now_ms
            log.info("terminals copied from national", extra={"fields": {"count": len(rows)}})
            return self._org_of

    def _refresh_in_background(self) -> None:
        if self._background is not None and not self._background.done():
            return
        if time.monotonic() - self._tried_at < self.miss_refresh:
            return

        async def run() -> None:
            try:
                await self._sync()
            except Exception:  # logged; the next scan tries again
                log.exception("background terminal refresh failed")

        self._background = asyncio.get_running_loop().create_task(run())

    async def close(self) -> None:
        if self._background is not None:
            self._background.cancel()
