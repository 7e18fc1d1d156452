"""The Grafana dashboard asks only for metrics the processes serve."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

from roomcast.platform.metrics import (
    GATEWAY_STATS,
    MetricSet,
    ServiceMetrics,
    StatsCollector,
    dead_letters,
)
from roomcast.platform.security import SecurityEvents
from services.gateway.signals import GatewaySignals
from services.persistence.metrics import PersistenceMetrics
from services.persistence.writer import Counters
from services.presence.metrics import PresenceMetrics
from services.rooms.metrics import RoomsMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "roomcast.json"
METRIC = re.compile(r"\b((?:roomcast|process)_[a-z_]+)\b")


class Hosting:
    def sockets_by_namespace(self) -> dict[str, int]:
        return {"/tenant": 1}

    def connections(self) -> int:
        return 1

    def room_sizes(self) -> list[tuple[str, int]]:
        return [("roomcast.v1.deliver.t.t.user.u", 1)]


def service_sets() -> list[MetricSet]:
    """The metric sets of every service (gateway, rooms, presence, persistence)."""
    gateway = GatewaySignals(SecurityEvents("gateway", "gw", None))
    gateway.metrics.watch(Hosting())
    gateway.http_request("/api/chat/rooms", "GET", 200, 0.01)
    gateway.event("chat:send", {"ok": True}, 0.0, None, False, {})
    gateway.metrics.refusal("connect", "UNAUTHENTICATED")
    persistence = PersistenceMetrics("persistence", "ROOMCAST_LOG")
    persistence.watch(SimpleNamespace(), Counters())  # type: ignore[arg-type]
    presence = PresenceMetrics()
    presence.watch(SimpleNamespace(announced=0, online_announced=0))  # type: ignore[arg-type]
    rooms = RoomsMetrics()
    rooms.command("rooms.authorize", "ok", 0.001)
    rooms.add(dead_letters("rooms-entities", lambda: 0))
    return [*gateway.metric_sets(), persistence, presence, rooms]


def served_names() -> set[str]:
    """Sample names the processes' `/metrics` hold, together."""
    holder = SimpleNamespace(client=SimpleNamespace(stats={}, pending_data_size=0))
    stats = StatsCollector(lambda: dict.fromkeys(GATEWAY_STATS, 1), GATEWAY_STATS)
    metrics = ServiceMetrics(holder, (stats,), service_sets())
    metrics.record({"nats": True})
    text = metrics.render().decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1].isalpha()}


def test_every_metric_of_the_dashboard_is_served() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in METRIC.findall(target["expr"])
    }
    assert asked, "the dashboard asks for no metric"
    assert asked - served_names() == set()


def test_panels_do_not_overlap() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, panel["title"]
        cells |= mine
