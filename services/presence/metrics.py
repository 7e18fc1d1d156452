"""The presence service's metrics: `roomcast_presence_transitions_total{transition}`."""

from __future__ import annotations

from roomcast.platform.metrics import MetricSet, ReadCollector
from services.presence.service import PresenceService


class PresenceMetrics(MetricSet):
    """Users announced online and offline by this replica, read at scrape time."""

    def watch(self, service: PresenceService) -> None:
        """Serve `service`'s counts from now on."""

        def read() -> dict[tuple[str, ...], float]:
            online = service.online_announced
            return {("online",): online, ("offline",): service.announced - online}

        self.add(
            ReadCollector(
                "roomcast_presence_transitions",
                "Presence changes announced: a user's first connection came online, or "
                "their last one went away (after the grace window).",
                ["transition"],
                read,
                counter=True,
            )
        )
