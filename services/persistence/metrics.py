"""The persistence service's metrics: what the writer did, and how far behind it is.

- `roomcast_persistence_messages_stored_total`, `roomcast_dead_letters_total{consumer}`:
  the writer's counters, read at scrape time;
- `roomcast_jetstream_consumer_pending_messages{consumer}` (not yet delivered to the
  durable consumer: its lag) and `roomcast_jetstream_consumer_ack_pending_messages
  {consumer}` (delivered, not yet acknowledged), read from the server before each scrape
  with a short timeout (a slow answer keeps the last values).
"""

from __future__ import annotations

from typing import Any, Protocol

from roomcast.platform.metrics import REFRESH_TIMEOUT_S, MetricSet, ReadCollector, dead_letters
from services.persistence.writer import Counters


class ConsumerInfoSource(Protocol):
    """What is used of nats-py's `JetStreamContext`."""

    async def consumer_info(
        self,
        stream: str,
        consumer: str,
        timeout: float | None = None,  # noqa: ASYNC109 (nats-py's signature)
    ) -> Any:
        """The consumer's state (`num_pending`, `num_ack_pending`)."""
        ...


class PersistenceMetrics(MetricSet):
    """Metrics of one persistence replica.

    Args:
        consumer: The durable consumer's name (`ROOMCAST_PERSISTENCE_CONSUMER`).
        stream: The stream it reads.
    """

    def __init__(self, consumer: str, stream: str) -> None:
        super().__init__()
        self.consumer = consumer
        self.stream = stream
        self.pending = self.gauge(
            "roomcast_jetstream_consumer_pending_messages",
            "Messages of the stream not yet delivered to the durable consumer (its lag).",
            ["consumer"],
        ).labels(consumer=consumer)
        self.ack_pending = self.gauge(
            "roomcast_jetstream_consumer_ack_pending_messages",
            "Messages delivered to the durable consumer and not yet acknowledged.",
            ["consumer"],
        ).labels(consumer=consumer)
        self._js: ConsumerInfoSource | None = None

    def watch(self, js: ConsumerInfoSource, counters: Counters) -> None:
        """Read the consumer's lag from `js` and the writer's `counters` from now on."""
        self._js = js
        self.add(
            ReadCollector(
                "roomcast_persistence_messages_stored",
                "Log messages written to PostgreSQL (duplicates not included).",
                [],
                lambda: {(): counters.stored},
                counter=True,
            )
        )
        self.add(dead_letters(self.consumer, lambda: counters.dead_lettered))

    async def refresh(self) -> None:
        """Ask the server for the consumer's state (within `REFRESH_TIMEOUT_S`)."""
        if self._js is None:
            return
        info = await self._js.consumer_info(self.stream, self.consumer, timeout=REFRESH_TIMEOUT_S)
        self.pending.set(info.num_pending or 0)
        self.ack_pending.set(info.num_ack_pending or 0)
