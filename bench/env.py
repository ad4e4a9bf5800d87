"""What a scenario's setup gets: nodes on demand, shared between scenarios.

``await env.national()`` starts (once) a national node seeded with the population of
the run, with ``--quiet``; ``await env.national(log_calls=True)`` a second one that
logs every call, as nodes do by default. ``await env.province("44")`` starts a
provincial node registered with the quiet national. The registry is seeded once into a
template database and copied into each national's data folder.

Every scenario is set up before the first measurement, so every measurement (the
no-op's too) runs with the same nodes up. ``env.shared(key, make)`` lets two setups
share what must exist once (the scan and settlement scenarios use the same holders: a
second sign-in would replace the first one's authorization codes). ``await
env.quiesce()`` waits, before each measurement, until the nodes are idle again (the
previous measurement's tail: outbox deliveries, a checkpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from bench.nodes import NodeProcess, copy_database
from cli.seed import seed_national
from node.pki import CertificateAuthority

__all__ = ["Env", "Params", "DEFAULT_PROVINCES", "SEED"]

T = TypeVar("T")

# quiesce(): the nodes together must use at most IDLE_CPU of a core over IDLE_WINDOW
# seconds (a province's heartbeat costs a few ms every 2 s), waiting at most QUIESCE_MAX.
IDLE_CPU = 0.10
IDLE_WINDOW = 0.1
QUIESCE_MAX = 5.0

DEFAULT_PROVINCES = ["11", "31", "44", "51"]
SEED = 2019


@dataclass(frozen=True)
class Params:
    seconds: float = 1.0  # a scenario's window; a no-op's is half (bench.runner.NOOP_SHARE)
    warmup: float = 0.15
    concurrency: int = 16
    population: int = 10_000
    seed_population: int = 200_000
    quick: bool = False
    only: str | None = None
    skip_nation: bool = False
    rounds: int = 10  # of every scenario


class Env:
    def __init__(self, root: Path, params: Params, provinces: list[str] | None = None) -> None:
        self.root = root
        self.params = params
        self.provinces = list(provinces or DEFAULT_PROVINCES)
        self.seed = SEED
        self.nodes: dict[str, NodeProcess] = {}
        self._template: Path | None = None
        self.seed_seconds = 0.0
        self._cleanups: list[Callable[[], Awaitable[None]]] = []
        # Figures beside the table (e.g. a delivery lag), by name: a dict with "text".
        self.figures: dict[str, dict[str, Any]] = {}
        self._shared: dict[str, object] = {}

    @property
    def population(self) -> int:
        return self.params.population

    def template_db(self) -> Path:
        """The seeded national database every national node starts from (seeded once)."""
        if self._template is None:
            path = self.root / "template" / "national.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            report = seed_national(path, self.population, self.seed, self.provinces)
            self.seed_seconds = report.seconds
            self._template = path
        return self._template

    async def national(self, log_calls: bool = False) -> NodeProcess:
        key = "national-log" if log_calls else "national"
        node = self.nodes.get(key)
        if node is None:
            if not (CertificateAuthority.folder_of(self.root) / "ca.key").exists():
                CertificateAuthority.create(self.root)  # the bench's nation's CA
            data = self.root / key
            copy_database(self.template_db(), data)
            node = NodeProcess(key, "national", data, nation=self.root, log_calls=log_calls)
            self.nodes[key] = node
            await node.start()
        return node

    async def province(self, province: str, log_calls: bool = False) -> NodeProcess:
        """A provincial node registered with the quiet national."""
        key = f"p{province}" + ("-log" if log_calls else "")
        node = self.nodes.get(key)
        if node is None:
            national = await self.national()
            node = NodeProcess(
                key,
                "provincial",
                self.root / key,
                province=province,
                national=national.address,
                nation=self.root,
                log_calls=log_calls,
            )
            self.nodes[key] = node
            await node.start()
        return node

    async def shared(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        """``await make()`` the first time ``key`` is asked for; its result after that."""
        if key not in self._shared:
            self._shared[key] = await make()
        return cast("T", self._shared[key])

    async def quiesce(self) -> float:
        """Wait until the nodes are idle (see the module docstring); the seconds waited."""
        t0 = time.monotonic()
        last = self._nodes_cpu()
        while last is not None and time.monotonic() - t0 < QUIESCE_MAX:
            await asyncio.sleep(IDLE_WINDOW)
            now = self._nodes_cpu()
            # <=: one clock tick (10 ms) in a 0.1 s window passes as idle
            if now is None or now - last <= IDLE_CPU * IDLE_WINDOW + 1e-9:
                break
            last = now
        return time.monotonic() - t0

    def cpu_seconds(self) -> float | None:
        """CPU seconds used so far by the bench process and every node it started;
        None when not readable."""
        nodes = self._nodes_cpu()
        return None if nodes is None else time.process_time() + nodes

    def _nodes_cpu(self) -> float | None:
        """CPU seconds used by every node so far; None when not readable."""
        total = 0.0
        for node in self.nodes.values():
            used = node.cpu_seconds()
            if used is None:
                return None
            total += used
        return total

    def on_close(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``await fn()`` when the bench ends (before the nodes stop)."""
        self._cleanups.append(fn)

    async def close(self) -> None:
        for fn in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                await fn()
        self._cleanups.clear()
        # Provinces before national, as an operator would.
        for node in sorted(self.nodes.values(), key=lambda n: n.role == "national"):
            try:
                await node.stop()
            except BaseException:
                node.kill()
                raise
        self.nodes.clear()

    def kill_all(self) -> None:
        """Synchronous last resort (after a second Ctrl-C): SIGKILL what still runs."""
        for node in self.nodes.values():
            node.kill()
