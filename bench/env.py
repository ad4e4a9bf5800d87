"""What a scenario's setup gets: nodes on demand, shared between scenarios.

``await env.national()`` starts (once) a national node seeded with the population of
the run, with ``--quiet``; ``await env.national(log_calls=True)`` a second one that
logs every call, as nodes do by default. ``await env.province("44")`` starts a
provincial node registered with the quiet national. The registry is seeded once into a
template database and copied into each national's data folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.nodes import NodeProcess, copy_database
from cli.seed import seed_national

__all__ = ["Env", "Params", "DEFAULT_PROVINCES", "SEED"]

DEFAULT_PROVINCES = ["11", "31", "44", "51"]
SEED = 2019


@dataclass(frozen=True)
class Params:
    seconds: float = 3.0
    warmup: float = 0.5
    concurrency: int = 16
    population: int = 10_000
    seed_population: int = 200_000
    quick: bool = False
    only: str | None = None
    skip_nation: bool = False


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
        self.figures: dict[str, dict] = {}

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
            data = self.root / key
            copy_database(self.template_db(), data)
            node = NodeProcess(key, "national", data, log_calls=log_calls)
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
                log_calls=log_calls,
            )
            self.nodes[key] = node
            await node.start()
        return node

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
