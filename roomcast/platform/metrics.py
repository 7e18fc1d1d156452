"""Per-process Prometheus metrics, rendered in the text format for `/metrics`.

Each process has its own registry (not the library's global one), holding:

- `roomcast_ready` and `roomcast_dependency_up{dependency}`: the readiness checks,
  run afresh at every scrape;
- `roomcast_nats_*`: the NATS client's own counters (reconnects, messages and bytes
  in and out), read at scrape time;
- for the gateway, its delivery counters (`roomcast_gateway_*`), read at scrape
  time from `Gateway.stats()`;
- a service's own metrics (`MetricSet`s: counters and histograms its components
  update, collectors read at scrape time, and async reads such as a consumer's lag
  refreshed before each scrape);
- the library's `process_*` and `python_*` metrics.

No label carries a user, tenant or room: a label's values stay few and fixed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from roomcast.platform.checks import HasNatsClient

log = logging.getLogger(__name__)

C = TypeVar("C", bound=Collector)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds: the buckets of every latency histogram (sub-millisecond to the 5 s timeout)."""

REFRESH_TIMEOUT_S = 0.5
"""Longest a scrape-time read (`MetricSet.refresh`) may take; a slow one keeps its last value."""

NATS_COUNTERS = {
    "reconnects": ("roomcast_nats_reconnects", "Reconnections of this process's NATS client."),
    "in_msgs": ("roomcast_nats_messages_received", "Messages received from NATS."),
    "out_msgs": ("roomcast_nats_messages_sent", "Messages published to NATS."),
    "in_bytes": ("roomcast_nats_received_bytes", "Payload bytes received from NATS."),
    "out_bytes": ("roomcast_nats_sent_bytes", "Payload bytes published to NATS."),
}

GATEWAY_STATS: dict[str, tuple[str, str, bool]] = {
    # stats() key: (metric name, help, is a counter)
    "sessions": ("roomcast_gateway_sessions", "Socket.IO sessions connected.", False),
    "hosted_subjects": (
        "roomcast_gateway_hosted_subjects",
        "Delivery subjects this gateway subscribes to (rooms with a local socket).",
        False,
    ),
    "deliveries_received": (
        "roomcast_gateway_deliveries_received",
        "Deliveries received from NATS.",
        True,
    ),
    "packets_delivered": (
        "roomcast_gateway_packets_delivered",
        "Packets queued to sockets.",
        True,
    ),
    "slow_consumers_dropped": (
        "roomcast_gateway_slow_consumers_dropped",
        "Sockets closed because their send queue was full.",
        True,
    ),
    "frames_refused": (
        "roomcast_gateway_frames_refused",
        "Socket.IO frames refused as malformed.",
        True,
    ),
    "closed_for_bad_frames": (
        "roomcast_gateway_closed_for_bad_frames",
        "Connections closed after too many malformed frames.",
        True,
    ),
}


class NatsCollector(Collector):
    """The NATS client's counters (`Client.stats`) and the bytes it has not yet
    written (`pending_data_size`), read at scrape time."""

    def __init__(self, holder: HasNatsClient) -> None:
        self._holder = holder

    def collect(self) -> Iterator[Metric]:
        client = self._holder.client
        stats: Mapping[str, int] = getattr(client, "stats", None) or {}
        for key, (name, doc) in NATS_COUNTERS.items():
            family = CounterMetricFamily(name, doc)
            family.add_metric([], float(stats.get(key, 0)))
            yield family
        pending = GaugeMetricFamily(
            "roomcast_nats_pending_bytes",
            "Bytes published but not yet written to the NATS server (grows while it is away).",
        )
        pending.add_metric([], float(getattr(client, "pending_data_size", 0) or 0))
        yield pending


def status_class(status: int) -> str:
    """`2xx`, `4xx`, `5xx`, ...: the HTTP status label (five values at most)."""
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class ReadCollector(Collector):
    """One metric family read at scrape time: `read()` gives the value of each label set.

    Args:
        name: The metric's name (a counter's without `_total`).
        doc: Its help text.
        labels: Its label names.
        read: The values now, by label values (a tuple as long as `labels`).
        counter: A counter (else a gauge).
    """

    def __init__(
        self,
        name: str,
        doc: str,
        labels: Sequence[str],
        read: Callable[[], Mapping[tuple[str, ...], float]],
        *,
        counter: bool,
    ) -> None:
        self._name = name
        self._doc = doc
        self._labels = list(labels)
        self._read = read
        self._counter = counter

    def collect(self) -> Iterator[Metric]:
        family: Metric = (
            CounterMetricFamily(self._name, self._doc, labels=self._labels)
            if self._counter
            else GaugeMetricFamily(self._name, self._doc, labels=self._labels)
        )
        for values, value in self._read().items():
            family.add_metric(list(values), float(value))  # type: ignore[attr-defined]
        yield family


def dead_letters(consumer: str, read: Callable[[], int]) -> ReadCollector:
    """`roomcast_dead_letters_total{consumer}`: messages `consumer` gave up (dead-lettered)."""
    return ReadCollector(
        "roomcast_dead_letters",
        "Messages a consumer could never process, sent to the dead-letter stream.",
        ["consumer"],
        lambda: {(consumer,): read()},
        counter=True,
    )


class MetricSet:
    """The metrics one component owns, created unregistered and served by `ServiceMetrics`.

    A service builds its set before it starts, hands it to its components (they update
    the counters and histograms) and to the platform listener (which registers them).
    Two processes' sets never share a registry, and tests build as many as they like.
    """

    def __init__(self) -> None:
        self._collectors: list[Collector] = []

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        """A counter of this set (`name` without `_total`)."""
        return self.add(Counter(name, doc, labels, registry=None))

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge of this set."""
        return self.add(Gauge(name, doc, labels, registry=None))

    def histogram(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        """A histogram of this set (seconds, `LATENCY_BUCKETS` unless told)."""
        return self.add(Histogram(name, doc, labels, buckets=buckets, registry=None))

    def add(self, collector: C) -> C:
        """Serve `collector` with this set (a scrape-time collector, or a metric)."""
        self._collectors.append(collector)
        return collector

    def collectors(self) -> tuple[Collector, ...]:
        """Everything this set serves."""
        return tuple(self._collectors)

    async def refresh(self) -> None:
        """Read what must be read asynchronously before a scrape (none by default)."""


async def refresh_all(sets: Sequence[MetricSet], limit_s: float = REFRESH_TIMEOUT_S) -> None:
    """Run every set's `refresh` concurrently, each bounded by `limit_s`; a failure or a
    timeout leaves that set's last values (and is logged at debug level)."""

    async def one(metric_set: MetricSet) -> None:
        try:
            async with asyncio.timeout(limit_s):
                await metric_set.refresh()
        except Exception as exc:  # a scrape never fails for one slow or failing read
            log.debug("metrics: %s refresh failed: %r", type(metric_set).__name__, exc)

    if sets:
        await asyncio.gather(*(one(s) for s in sets))


class StatsCollector(Collector):
    """A component's counters, read at scrape time from its `stats()` mapping."""

    def __init__(
        self, stats: Callable[[], Mapping[str, int]], spec: Mapping[str, tuple[str, str, bool]]
    ) -> None:
        self._stats = stats
        self._spec = spec

    def collect(self) -> Iterator[Metric]:
        values = self._stats()
        for key, (name, doc, counter) in self._spec.items():
            if key not in values:
                continue
            family: Metric = (
                CounterMetricFamily(name, doc) if counter else GaugeMetricFamily(name, doc)
            )
            family.add_metric([], float(values[key]))  # type: ignore[attr-defined]
            yield family


class ServiceMetrics:
    """The registry of one service process.

    Args:
        nats: Holder of the process's NATS client (`NatsGuard`).
        collectors: Further collectors, e.g. a gateway's `StatsCollector`.
        sets: The service's own `MetricSet`s, refreshed before each scrape.
    """

    def __init__(
        self,
        nats: HasNatsClient,
        collectors: tuple[Collector, ...] = (),
        sets: Sequence[MetricSet] = (),
    ) -> None:
        self.sets = tuple(sets)
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.ready = Gauge(
            "roomcast_ready",
            "1 when every dependency answered at the last check (each scrape checks).",
            registry=self.registry,
        )
        self.dependency_up = Gauge(
            "roomcast_dependency_up",
            "1 when the dependency answered at the last check.",
            ["dependency"],
            registry=self.registry,
        )
        self.registry.register(NatsCollector(nats))
        for collector in collectors:
            self.registry.register(collector)
        for metric_set in self.sets:
            for collector in metric_set.collectors():
                self.registry.register(collector)

    def record(self, results: Mapping[str, bool]) -> None:
        """Store the outcome of one round of readiness checks."""
        for name, ok in results.items():
            self.dependency_up.labels(dependency=name).set(1 if ok else 0)
        self.ready.set(1 if all(results.values()) else 0)

    async def refresh(self) -> None:
        """Refresh the sets' scrape-time reads (each bounded by `REFRESH_TIMEOUT_S`)."""
        await refresh_all(self.sets)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def gateway_collector(stats: Callable[[], Mapping[str, int]]) -> StatsCollector:
    """The gateway's `/statz` counters as metrics."""
    return StatsCollector(stats, GATEWAY_STATS)
