"""The metrics of one node, in Prometheus's text format (``/metrics`` on its HTTPS port).

Every node keeps its own registry (:class:`NodeMetrics`), never prometheus-client's
global one: a process may run many nodes (the tests do), and each scrape must show one
node only. Every series carries the node's name (``node``). What is measured where:

* ``ecnet_calls_total`` and ``ecnet_call_duration_seconds`` (method, C.4 code, door):
  every unary call, counted in ``node.interceptor.CallInterceptor.call``, the one path of
  gRPC and HTTPS calls alike. That is the hot path, so a call costs a dict lookup, a
  bisect and three integer additions here (:meth:`NodeMetrics.call`), on the event
  loop's thread; the families are built from those numbers at a scrape.
* ``ecnet_db_write_seconds``: each write transaction, ``BEGIN IMMEDIATE`` to ``COMMIT``
  (``node.storage.db.Database``, and the batcher's inline writes,
  ``node.storage.batch``): ``Database.observe_write``.
* ``ecnet_rate_limit_refusals_total`` (kind, key): each call a limit refused
  (``node.ratelimit.RateLimiter``); the key is the channel's appId, the terminal's
  number or the operator, never a person's id number or serial (their kinds,
  ``password`` and ``realperson``, are counted with an empty key).
* Read at a scrape, not on any call (:meth:`NodeMetrics.scrape`): the outbox backlog,
  the age of its oldest undelivered event and the parked events per receiving peer (one
  read of the database, ``node.storage.outbox.OutboxStore.backlog``), the link state
  per peer (national: each province's lease in its directory; a province: its
  registration with national), the seconds until the node's own certificate expires
  (its file, read again: a renewed certificate counts) and until the CRL's next update,
  and ``ecnet_build_info``.

No series names a person: labels are methods, codes, peers, channels, terminals and
operators.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

__all__ = ["CALL_BUCKETS", "Backlog", "NodeMetrics", "METRIC_NAMES"]

log = logging.getLogger("ecnet.metrics")

# Upper bounds (seconds) of the calls' latency buckets: a no-op answers in well under a
# millisecond, a routed settlement in tens of milliseconds, a deadline is seconds.
CALL_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# Of the database's write transactions (a commit synced to disk takes milliseconds).
WRITE_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
    5.0,
)

# Every metric a node exposes (as it appears in the text, counters with _total and
# histograms with _bucket/_sum/_count; docs/metrics.md lists them).
METRIC_NAMES = (
    "ecnet_build_info",
    "ecnet_calls_total",
    "ecnet_call_duration_seconds",
    "ecnet_db_write_seconds",
    "ecnet_rate_limit_refusals_total",
    "ecnet_outbox_backlog",
    "ecnet_outbox_oldest_age_seconds",
    "ecnet_outbox_parked",
    "ecnet_link_up",
    "ecnet_certificate_expiry_seconds",
    "ecnet_crl_next_update_seconds",
)


@dataclass(frozen=True, slots=True)
class Backlog:
    """One receiving peer's lane of the outbox, as read at a scrape."""

    peer: str
    pending: int
    oldest_created_ms: int  # 0: nothing pending
    parked: int


class _Calls:
    """The count, the sum of seconds and the per-bucket counts of one (method, code,
    door)."""

    __slots__ = ("count", "seconds", "buckets")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(CALL_BUCKETS) + 1)  # the last: above every bound


def peer_name(lane: str) -> str:
    """The node a lane of the outbox goes to: ``p44`` for province 44, ``national``."""
    return f"p{lane}" if lane.isdigit() else lane


class NodeMetrics:
    """The registry of one node and what fills it.

    After construction the node sets its scrape-time sources: ``outbox`` (the backlog
    per lane, :class:`Backlog`), ``links`` (peer -> up), ``certificate`` (the file of
    its own certificate), ``crl`` (the CRL in force) and ``now_ms`` (the business clock
    that stamped the outbox's rows). A source left None is simply not reported.
    """

    def __init__(self, node: str, role: str, version: str) -> None:
        self.node = node
        self.role = role
        self.version = version
        self.registry = CollectorRegistry(auto_describe=False)
        self._calls: dict[tuple[str, int, str], _Calls] = {}
        self._backlog: Sequence[Backlog] = ()
        self._links: dict[str, bool] = {}
        self.outbox: Callable[[], Awaitable[Sequence[Backlog]]] | None = None
        self.links: Callable[[], Awaitable[dict[str, bool]]] | None = None
        self.certificate: Path | None = None
        self.crl: Callable[[], x509.CertificateRevocationList | None] | None = None
        self.now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
        self._cert_cache: tuple[tuple[int, int], float] | None = None
        self._writes = Histogram(
            "ecnet_db_write_seconds",
            "Seconds of each write transaction of the node's database, BEGIN to COMMIT.",
            ["node"],
            buckets=WRITE_BUCKETS,
            registry=self.registry,
        ).labels(node)
        self._limits = Counter(
            "ecnet_rate_limit_refusals",
            "Calls refused by a rate limit, per bucket kind and key (channel appId, "
            "terminal number or operator; empty for a person's limits).",
            ["node", "kind", "key"],
            registry=self.registry,
        )
        self.registry.register(_Collector(self))

    # -- on the hot paths --------------------------------------------------------------
    def call(self, method: str, code: int, door: str, seconds: float) -> None:
        """One call of ``method`` answered ``code`` through ``door`` (grpc, https)."""
        key = (method, code, door)
        stats = self._calls.get(key)
        if stats is None:
            stats = self._calls[key] = _Calls()
        stats.count += 1
        stats.seconds += seconds
        stats.buckets[bisect.bisect_left(CALL_BUCKETS, seconds)] += 1

    def write(self, seconds: float) -> None:
        """One write transaction committed in ``seconds`` (any thread)."""
        self._writes.observe(seconds)

    def rate_limited(self, kind: str, key: str) -> None:
        """A call refused by the ``kind`` limit of ``key`` (empty for a person's)."""
        self._limits.labels(self.node, kind, key).inc()

    # -- at a scrape -------------------------------------------------------------------
    async def scrape(self) -> bytes:
        """The text of every metric, the database's figures read now."""
        if self.outbox is not None:
            try:
                self._backlog = await self.outbox()
            except Exception as exc:  # a database closing; the scrape still answers
                log.warning("outbox backlog not read", extra={"fields": {"why": str(exc)}})
                self._backlog = ()
        if self.links is not None:
            try:
                self._links = await self.links()
            except Exception as exc:
                log.warning("link state not read", extra={"fields": {"why": str(exc)}})
                self._links = {}
        return generate_latest(self.registry)

    def certificate_expiry(self, now: float) -> float | None:
        """Seconds until the node's own certificate expires (negative: expired)."""
        path = self.certificate
        if path is None:
            return None
        try:
            stat = path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
            cached = self._cert_cache
            if cached is None or cached[0] != seen:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                cached = self._cert_cache = (seen, cert.not_valid_after_utc.timestamp())
        except (OSError, ValueError) as exc:
            log.warning("certificate not read", extra={"fields": {"why": str(exc)}})
            return None
        return cached[1] - now


class _Collector(Collector):
    """The families built at a scrape from :class:`NodeMetrics`'s numbers."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m, node = self.m, self.m.node
        info = GaugeMetricFamily(
            "ecnet_build_info",
            "The node's name, role and version (always 1).",
            labels=["node", "role", "version"],
        )
        info.add_metric([node, m.role, m.version], 1)
        yield info

        calls = CounterMetricFamily(
            "ecnet_calls",
            "Unary calls answered, per method, C.4 code (0: success) and door "
            "(grpc: the gRPC port; https: the HTTPS doors).",
            labels=["node", "method", "code", "door"],
        )
        latency = HistogramMetricFamily(
            "ecnet_call_duration_seconds",
            "Seconds from a call's arrival at the interceptor to its answer, per method, "
            "C.4 code and door.",
            labels=["node", "method", "code", "door"],
        )
        bounds = [repr(b) for b in CALL_BUCKETS]
        for (method, code, door), stats in sorted(m._calls.items()):
            labels = [node, method, str(code), door]
            calls.add_metric(labels, stats.count)
            cumulative, running = [], 0
            for bound, n in zip(bounds, stats.buckets, strict=False):
                running += n
                cumulative.append((bound, running))
            cumulative.append(("+Inf", stats.count))
            latency.add_metric(labels, cumulative, stats.seconds)
        yield calls
        yield latency

        backlog = GaugeMetricFamily(
            "ecnet_outbox_backlog",
            "Events of the outbox not yet acknowledged by the receiving peer.",
            labels=["node", "peer"],
        )
        age = GaugeMetricFamily(
            "ecnet_outbox_oldest_age_seconds",
            "Age of the oldest event not yet acknowledged by the receiving peer (0: none).",
            labels=["node", "peer"],
        )
        parked = GaugeMetricFamily(
            "ecnet_outbox_parked",
            "Events the receiving peer refused, set aside until retried (RetryParked).",
            labels=["node", "peer"],
        )
        now_ms = m.now_ms()
        for lane in m._backlog:
            labels = [node, lane.peer]
            backlog.add_metric(labels, lane.pending)
            oldest = lane.oldest_created_ms
            age.add_metric(labels, max(0.0, (now_ms - oldest) / 1000) if oldest else 0.0)
            parked.add_metric(labels, lane.parked)
        yield backlog
        yield age
        yield parked

        links = GaugeMetricFamily(
            "ecnet_link_up",
            "Whether the peer node is in contact (1) or not (0): at national a province "
            "whose heartbeats keep its lease; at a province its registration with national.",
            labels=["node", "peer"],
        )
        for peer, up in sorted(m._links.items()):
            links.add_metric([node, peer], 1 if up else 0)
        yield links

        now = time.time()
        expiry = m.certificate_expiry(now)
        if expiry is not None:
            cert = GaugeMetricFamily(
                "ecnet_certificate_expiry_seconds",
                "Seconds until the node's own certificate expires (negative: expired).",
                labels=["node"],
            )
            cert.add_metric([node], expiry)
            yield cert
        crl = m.crl() if m.crl is not None else None
        if crl is not None and crl.next_update_utc is not None:
            update = GaugeMetricFamily(
                "ecnet_crl_next_update_seconds",
                "Seconds until the next update the CRL in force announces (negative: due).",
                labels=["node"],
            )
            update.add_metric([node], crl.next_update_utc.timestamp() - now)
            yield update
