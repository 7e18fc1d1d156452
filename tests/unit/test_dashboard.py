"""The Grafana dashboard asks only for metrics the processes serve."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

from roomcast.platform.metrics import GATEWAY_STATS, ServiceMetrics, StatsCollector

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "roomcast.json"
METRIC = re.compile(r"\b((?:roomcast|process)_[a-z_]+)\b")


def served_names() -> set[str]:
    """Sample names a gateway's `/metrics` holds (the services' are a subset)."""
    holder = SimpleNamespace(client=SimpleNamespace(stats={}))
    stats = StatsCollector(lambda: dict.fromkeys(GATEWAY_STATS, 1), GATEWAY_STATS)
    metrics = ServiceMetrics(holder, (stats,))
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
