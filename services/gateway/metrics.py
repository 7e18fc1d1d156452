"""The gateway's own metrics: client events, refusals, delivery and HTTP latency, and the
connections, sockets and rooms it hosts (read at scrape time).

Label values come from fixed sets: client event names from
`contracts.events.CLIENT_EVENTS` (anything else is `other`), outcomes `ok` or an
`ErrorCode`, Socket.IO namespaces from `sessions.NAMESPACES`, room kinds from
`contracts.subjects.delivery_kind`. `GatewaySignals` (`signals.py`) updates them.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contracts import subjects
from contracts.errors import ErrorCode
from contracts.events import CLIENT_EVENTS
from roomcast.platform.metrics import MetricSet

OTHER = "other"
EVENT_NAMES = (*(e.name for e in CLIENT_EVENTS), OTHER)
"""Values of the `event` label."""
OUTCOMES = ("ok", *(code.value for code in ErrorCode))
"""Values of the `outcome` label."""
STAGES = ("connect", "event", "http")
"""Values of the `stage` label of refusals (refused frames: `roomcast_gateway_frames_refused`)."""
_EVENT_SET = frozenset(EVENT_NAMES)
_OUTCOME_SET = frozenset(OUTCOMES)
ROOM_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000)
"""Upper bounds of the local room size distribution (sockets per hosted room)."""


class Hosting(Protocol):
    """What the room collector reads of the gateway at scrape time."""

    def sockets_by_namespace(self) -> Mapping[str, int]:
        """Connected Socket.IO sessions per namespace."""
        ...

    def connections(self) -> int:
        """Engine.IO connections (one per client, whatever its namespaces)."""
        ...

    def room_sizes(self) -> Iterable[tuple[str, int]]:
        """`(delivery subject, local sockets in it)` for every hosted room."""
        ...


class GatewayMetrics(MetricSet):
    """The gateway's own metrics (see docs/deploy.md, "Health and metrics")."""

    def __init__(self) -> None:
        super().__init__()
        self._events_counter = self.counter(
            "roomcast_gateway_events",
            "Client events answered, by event name and outcome (`ok` or the error code).",
            ["event", "outcome"],
        )
        self._duration = self.histogram(
            "roomcast_gateway_event_duration_seconds",
            "Time from a client event's dispatch to its ack, by event name.",
            ["event"],
        )
        self._refusals_counter = self.counter(
            "roomcast_gateway_refusals",
            "Refusals answered by the gateway, by stage (connect, event, http) and code.",
            ["stage", "code"],
        )
        # children by label values, made on first use (series appear once seen)
        self._events: dict[tuple[str, str], Any] = {}
        self._durations: dict[str, Any] = {}
        self._refusals: dict[tuple[str, str], Any] = {}
        self.delivery_latency = self.histogram(
            "roomcast_gateway_delivery_latency_seconds",
            "Time from a delivery's publication (its `Rc-Published` header) to its writes "
            "into the sockets' queues on this gateway.",
        )
        http = self.histogram(
            "roomcast_http_request_duration_seconds",
            "HTTP API requests, by route template, method and status class.",
            ["route", "method", "status"],
        )
        self.http = http

    def event(self, name: str, outcome: str, seconds: float) -> None:
        """Count one answered client event (an unknown name is `other`)."""
        counter = self._events.get((name, outcome))
        if counter is None:
            name = name if name in _EVENT_SET else OTHER
            outcome = outcome if outcome in _OUTCOME_SET else ErrorCode.INTERNAL.value
            counter = self._events.get((name, outcome))
            if counter is None:
                counter = self._events_counter.labels(event=name, outcome=outcome)
                self._events[(name, outcome)] = counter
        counter.inc()
        duration = self._durations.get(name)
        if duration is None:
            name = name if name in _EVENT_SET else OTHER
            duration = self._durations.setdefault(name, self._duration.labels(event=name))
        duration.observe(seconds)

    def refusal(self, stage: str, code: str) -> None:
        """Count one refusal (of a known stage and code)."""
        counter = self._refusals.get((stage, code))
        if counter is None:
            if stage not in STAGES or code not in _OUTCOME_SET or code == "ok":
                return
            counter = self._refusals_counter.labels(stage=stage, code=code)
            self._refusals[(stage, code)] = counter
        counter.inc()

    def watch(self, hosting: Hosting) -> None:
        """Serve the scrape-time gauges of `hosting` (connections, sockets, rooms)."""
        self.add(HostingCollector(hosting))


class HostingCollector(Collector):
    """Connections, sockets per namespace, rooms hosted and their sizes, at scrape time."""

    def __init__(self, hosting: Hosting) -> None:
        self._hosting = hosting

    def collect(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "roomcast_gateway_connections", "Engine.IO connections (clients) open."
        )
        connections.add_metric([], float(self._hosting.connections()))
        yield connections
        sockets = GaugeMetricFamily(
            "roomcast_gateway_sockets",
            "Socket.IO sessions connected, by namespace.",
            labels=["socketio_namespace"],
        )
        for namespace, count in sorted(self._hosting.sockets_by_namespace().items()):
            sockets.add_metric([namespace], float(count))
        yield sockets
        yield from room_families(self._hosting.room_sizes())


def room_families(sizes: Iterable[tuple[str, int]]) -> Iterator[Metric]:
    """`roomcast_gateway_rooms{kind}` and the `roomcast_gateway_room_sockets{kind}` size
    distribution (a gauge histogram) of the hosted rooms."""
    counts: dict[str, list[int]] = {}
    for subject, size in sizes:
        counts.setdefault(subjects.delivery_kind(subject), []).append(size)
    rooms = GaugeMetricFamily(
        "roomcast_gateway_rooms", "Rooms with a local socket (hosted), by kind.", labels=["kind"]
    )
    dist = GaugeHistogramMetricFamily(
        "roomcast_gateway_room_sockets",
        "Local sockets per hosted room, by room kind (a distribution at scrape time).",
        labels=["kind"],
    )
    for kind in sorted(counts):
        found = counts[kind]
        rooms.add_metric([kind], float(len(found)))
        tally = Tally(found)
        buckets: list[tuple[str, float]] = []
        below = 0
        ordered = sorted(tally)
        i = 0
        for bound in ROOM_SIZE_BUCKETS:
            while i < len(ordered) and ordered[i] <= bound:
                below += tally[ordered[i]]
                i += 1
            buckets.append((str(bound), float(below)))
        buckets.append(("+Inf", float(len(found))))
        dist.add_metric([kind], buckets, gsum_value=float(sum(found)))
    yield rooms
    yield dist


class GatewayHosting:
    """`Hosting` read from the Socket.IO server, the sessions and the fan-out."""

    def __init__(
        self, sio: Any, sessions: Mapping[str, Any], fanout: Any, namespaces: Iterable[str]
    ) -> None:
        self._sio = sio
        self._sessions = sessions
        self._fanout = fanout
        self._namespaces = tuple(namespaces)

    def sockets_by_namespace(self) -> Mapping[str, int]:
        """Sessions per namespace (every served namespace, 0 included)."""
        counts = dict.fromkeys(self._namespaces, 0)
        for s in list(self._sessions.values()):
            counts[s.namespace] = counts.get(s.namespace, 0) + 1
        return counts

    def connections(self) -> int:
        """Engine.IO sockets open."""
        return len(self._sio.eio.sockets)

    def room_sizes(self) -> Iterable[tuple[str, int]]:
        """Local sockets of each hosted subject, over every namespace."""
        rooms = self._sio.manager.rooms
        spaces = [rooms.get(ns) or {} for ns in self._namespaces]
        for subject in self._fanout.hosted:
            yield subject, sum(len(space.get(subject) or ()) for space in spaces)
