"""The gateway's metrics and security events, behind one object the edge calls.

`GatewaySignals` is what `server.Gateway`, the HTTP edge and `edge_watch` call when a
connection is refused, an event is answered, a delivery reached its sockets or a client
hits a limit. It updates `metrics.GatewayMetrics` and emits security events
(`roomcast.platform.security`).

Cost on the fan-out path: one clock read and one histogram observation per delivery,
whatever the number of sockets it reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from contracts import delivery
from contracts.errors import ErrorCode
from contracts.identity import Identity
from contracts.security import SecurityKind
from roomcast.platform.metrics import MetricSet, status_class
from roomcast.platform.security import SecurityEvents
from services.gateway.auth import AuthError
from services.gateway.metrics import EVENT_NAMES, OTHER, GatewayMetrics


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

    def origin_refused(self, origin: str, environ: Mapping[str, Any]) -> None:
        """A Socket.IO request (handshake or long-polling) from a refused browser origin."""
        self.metrics.refusal("http", ErrorCode.FORBIDDEN.value)
        self.security.emit(
            SecurityKind.ORIGIN_REFUSED,
            code=ErrorCode.FORBIDDEN,
            reason="the origin is not allowed",
            transport="socketio",
            origin=origin,
            remote=_remote(environ),
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
