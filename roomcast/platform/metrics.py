"""Per-process Prometheus metrics, rendered in the text format for `/metrics`.

Each process has its own registry (not the library's global one), holding:

- `roomcast_ready` and `roomcast_dependency_up{dependency}`: the readiness checks,
  run afresh at every scrape;
- `roomcast_nats_*`: the NATS client's own counters (reconnects, messages and bytes
  in and out), read at scrape time;
- for the gateway, its delivery counters (`roomcast_gateway_*`), read at scrape
  time from `Gateway.stats()`;
- the library's `process_*` and `python_*` metrics.

No label carries a user, tenant or room: a label's values stay few and fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from roomcast.platform.checks import HasNatsClient

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

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
}


class NatsCollector(Collector):
    """The NATS client's counters (`Client.stats`), read at scrape time."""

    def __init__(self, holder: HasNatsClient) -> None:
        self._holder = holder

    def collect(self) -> Iterator[Metric]:
        client = self._holder.client
        stats: Mapping[str, int] = getattr(client, "stats", None) or {}
        for key, (name, doc) in NATS_COUNTERS.items():
            family = CounterMetricFamily(name, doc)
            family.add_metric([], float(stats.get(key, 0)))
            yield family


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
    """

    def __init__(self, nats: HasNatsClient, collectors: tuple[Collector, ...] = ()) -> None:
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

    def record(self, results: Mapping[str, bool]) -> None:
        """Store the outcome of one round of readiness checks."""
        for name, ok in results.items():
            self.dependency_up.labels(dependency=name).set(1 if ok else 0)
        self.ready.set(1 if all(results.values()) else 0)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def gateway_collector(stats: Callable[[], Mapping[str, int]]) -> StatsCollector:
    """The gateway's `/statz` counters as metrics."""
    return StatsCollector(stats, GATEWAY_STATS)
