"""The gateway's metrics and security events, behind one object the edge calls.

`GatewaySignals` is what `server.Gateway`, the HTTP edge and `edge_watch` call when a
connection is refused, an event is answered, a delivery reached its sockets or a client
hits a limit. It updates `GatewayMetrics` and emits security events
(`roomcast.platform.security`). Label values come from fixed sets: client event names
from `contracts.events.CLIENT_EVENTS` (anything else is `other`), outcomes `ok` or an
`ErrorCode`, namespaces from `sessions.NAMESPACES`, room kinds from
`contracts.subjects.delivery_kind`.

Cost on the fan-out path: one clock read and one histogram observation per delivery,
whatever the number of sockets it reached.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contracts import delivery, subjects
from contracts.errors import ErrorCode
from contracts.events import CLIENT_EVENTS
from contracts.identity import Identity
from contracts.security import SecurityKind
from roomcast.platform.metrics import MetricSet, status_class
from roomcast.platform.security import SecurityEvents
from services.gateway.auth import AuthError

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


class GatewaySignals:
    """What the gateway calls to count and report; one per gateway process.

    Args:
        security: The process's security event emitter.
        metrics: The gateway's metrics.
        clock: Seconds since the epoch (`time.time`), for delivery latency.
    """

    def __init__(
        self,
        security: SecurityEvents,
        metrics: GatewayMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.security = security
        self.metrics = metrics or GatewayMetrics()
        self._clock = clock

    def metric_sets(self) -> tuple[MetricSet, ...]:
        """What the platform listener serves for the gateway."""
        return (self.metrics, self.security.metrics)

    # the fan-out path ------------------------------------------------------------

    def delivered(self, item: delivery.Delivery) -> None:
        """A delivery was written to its local sockets: observe its latency once."""
        if item.published is not None:
            self.metrics.delivery_latency.observe(max(0.0, self._clock() - item.published))

    # Socket.IO -----------------------------------------------------------------

    def connect_refused(self, namespace: str, exc: AuthError, environ: Mapping[str, Any]) -> None:
        """A connection refused by the token or namespace checks."""
        self.metrics.refusal("connect", exc.code.value)
        kind = (
            SecurityKind.AUTH_FAILED
            if exc.code is ErrorCode.UNAUTHENTICATED
            else SecurityKind.NAMESPACE_REFUSED
        )
        who: Identity | None = getattr(exc, "identity", None)
        self.security.emit(
            kind,
            code=exc.code,
            reason=exc.message,
            transport="socketio",
            namespace=namespace,
            remote=_remote(environ),
            **_who(who),
        )

    def connect_failed(self) -> None:
        """A connection the gateway could not set up (`UNAVAILABLE`)."""
        self.metrics.refusal("connect", ErrorCode.UNAVAILABLE.value)

    def unknown_namespace(self, namespace: str, environ: Mapping[str, Any]) -> None:
        """A connection to a namespace the gateway does not serve."""
        self.metrics.refusal("connect", ErrorCode.FORBIDDEN.value)
        self.security.emit(
            SecurityKind.NAMESPACE_REFUSED,
            code=ErrorCode.FORBIDDEN,
            reason="unknown namespace",
            transport="socketio",
            namespace=namespace,
            remote=_remote(environ),
        )

    def event(
        self,
        name: str,
        ack: Mapping[str, Any],
        started: float,
        who: Identity | None,
        on_manage: bool,
        payload: Any,
    ) -> None:
        """A client event was answered with `ack`, `started` by `time.perf_counter()`."""
        elapsed = time.perf_counter() - started
        if ack.get("ok"):
            self.metrics.event(name, "ok", elapsed)
            return
        code = str(ack.get("error", {}).get("code", ErrorCode.INTERNAL))
        self.metrics.event(name, code, elapsed)
        self.metrics.refusal("event", code)
        label = name if name in EVENT_NAMES else OTHER
        if code == ErrorCode.RATE_LIMITED:
            self.security.emit(
                SecurityKind.RATE_LIMITED,
                code=ErrorCode.RATE_LIMITED,
                reason="client events over the connection's rate limit",
                transport="socketio",
                event=label,
                **_who(who),
            )
        elif code == ErrorCode.FORBIDDEN and who is not None and not on_manage:
            named = _named_tenant(payload)
            if named is not None and named != who.tenant:
                self.security.emit(
                    SecurityKind.CROSS_TENANT,
                    code=ErrorCode.FORBIDDEN,
                    reason=str(ack["error"].get("message", "")),
                    transport="socketio",
                    event=label,
                    target_tenant=named,
                    **_who(who),
                )

    # the edge (HTTP API and Engine.IO requests) ----------------------------------

    def http_refused(
        self,
        kind: SecurityKind | None,
        code: ErrorCode,
        reason: str,
        scope: Mapping[str, Any],
        **fields: Any,
    ) -> None:
        """A request refused at the edge; `kind` None only counts it."""
        self.metrics.refusal("http", code.value)
        if kind is None:
            return
        self.security.emit(
            kind,
            code=code,
            reason=reason,
            transport="http" if scope.get("type") == "http" else "socketio",
            event=str(scope.get("path", ""))[:128] or None,
            remote=_scope_remote(scope),
            **fields,
        )

    def cross_tenant(self, who: Identity, named: str, reason: str, route: str | None) -> None:
        """An HTTP API request naming another tenant, refused `FORBIDDEN`."""
        self.security.emit(
            SecurityKind.CROSS_TENANT,
            code=ErrorCode.FORBIDDEN,
            reason=reason,
            transport="http",
            event=route,
            target_tenant=named,
            **_who(who),
        )

    def http_rate_limited(self, who: Identity, reason: str) -> None:
        """A user over one of the HTTP API's per-user change limits."""
        self.security.emit(
            SecurityKind.RATE_LIMITED,
            code=ErrorCode.RATE_LIMITED,
            reason=reason,
            transport="http",
            **_who(who),
        )

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP API request answered."""
        self.metrics.http.labels(route=route, method=method, status=status_class(status)).observe(
            seconds
        )


def _who(who: Identity | None) -> dict[str, Any]:
    if who is None:
        return {}
    return {"tenant": who.tenant, "user_id": who.user_id, "role": who.role}


def _named_tenant(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for key in ("tenantId", "tenant"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _remote(environ: Mapping[str, Any]) -> str | None:
    host = environ.get("REMOTE_ADDR")
    port = environ.get("REMOTE_PORT")
    if not host:
        return None
    return f"{host}:{port}" if port and str(port) != "0" else str(host)


def _scope_remote(scope: Mapping[str, Any]) -> str | None:
    client = scope.get("client")
    if not client:
        return None
    host, port = client[0], client[1] if len(client) > 1 else None
    return f"{host}:{port}" if port else str(host)
