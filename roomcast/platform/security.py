"""The security event emitter: one log line, one NATS event, one count per occurrence.

    security = SecurityEvents("gateway", instance, nc)
    security.emit(SecurityKind.AUTH_FAILED, code=ErrorCode.UNAUTHENTICATED, reason=...)

`emit` never blocks and never raises: it writes a line on the `roomcast.security` logger
(WARNING for refusals, INFO for admin actions; the fields go into the JSON format's
`fields`), counts it in `roomcast_security_events_total{kind}`, and publishes a
`contracts.security.SecurityEvent` on `subjects.security_event(tenant, kind)` in a task
of its own. What is not published is counted in
`roomcast_security_events_dropped_total{reason}`:

- `nats`: the client is not connected (nats-py would otherwise buffer it);
- `backlog`: `max_inflight` publishes are already waiting;
- `flood`: more than `per_second` events of one kind (bursts of `burst`): a client
  that repeats a refused request many times a second is counted, not logged each time.

Text fields are cut to `contracts.security.MAX_TEXT` characters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Protocol

from contracts import subjects
from contracts.security import MAX_TEXT, REFUSALS, SecurityEvent, SecurityKind
from roomcast.platform.metrics import MetricSet

log = logging.getLogger("roomcast.security")

MAX_INFLIGHT = 1000
"""Publishes of security events in flight per process before new ones are dropped."""

PER_SECOND = 50.0
"""Security events of one kind logged and published per second and process (sustained)."""

BURST = 200.0
"""... and in one burst."""

DROP_REASONS = ("nats", "backlog", "flood")


class Publisher(Protocol):
    """What is used of the NATS client."""

    @property
    def is_connected(self) -> bool: ...

    async def publish(self, subject: str, payload: bytes = b"") -> None: ...


class _Bucket:
    """A token bucket (kept here: the platform does not import a service's limits)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class SecurityMetrics(MetricSet):
    """`roomcast_security_events_total{kind}`, `roomcast_security_events_dropped_total{reason}`."""

    def __init__(self) -> None:
        super().__init__()
        events = self.counter(
            "roomcast_security_events",
            "Security events seen by this process (refusals and admin actions), by kind.",
            ["kind"],
        )
        dropped = self.counter(
            "roomcast_security_events_dropped",
            "Security events counted but not published (nor, for `flood`, logged), by reason.",
            ["reason"],
        )
        self.events = {kind: events.labels(kind=kind.value) for kind in SecurityKind}
        self.dropped = {reason: dropped.labels(reason=reason) for reason in DROP_REASONS}


class SecurityEvents:
    """Emits security events for one process.

    Args:
        service: `gateway` or `rooms`.
        instance: The replica's name.
        nc: The process's NATS client (or None: log and count only).
        max_inflight: Publishes waiting before new events are dropped.
        per_second: Events of one kind published and logged per second (sustained).
        burst: ... in one burst.
    """

    def __init__(
        self,
        service: str,
        instance: str,
        nc: Publisher | None,
        *,
        max_inflight: int = MAX_INFLIGHT,
        per_second: float = PER_SECOND,
        burst: float = BURST,
    ) -> None:
        self.service = service
        self.instance = instance
        self.nc = nc
        self.metrics = SecurityMetrics()
        self._max_inflight = max_inflight
        self._buckets = {kind: _Bucket(per_second, burst) for kind in SecurityKind}
        self._inflight: set[asyncio.Task[None]] = set()
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def emit(self, kind: SecurityKind, **fields: Any) -> SecurityEvent | None:
        """Record one event; returns it, or None when it was only counted (a flood).

        Args:
            kind: What happened.
            fields: `SecurityEvent` fields (`tenant`, `user_id`, `reason`, ...); text is
                cut to `MAX_TEXT` characters, None values are left out.
        """
        self.metrics.events[kind].inc()
        if not self._buckets[kind].take():
            self.metrics.dropped["flood"].inc()
            return None
        clean = {k: _clip(v) for k, v in fields.items() if v is not None}
        try:
            event = SecurityEvent(
                kind=kind,
                ts=int(time.time() * 1000),
                service=self.service,
                instance=self.instance,
                **clean,
            )
        except ValueError:  # a caller's mistake must not fail the request it records
            log.exception("security event %s not built", kind)
            return None
        self._log(event)
        self._publish(event)
        return event

    async def settle(self) -> None:
        """Wait for the publishes in flight (shutdown and tests)."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def _log(self, event: SecurityEvent) -> None:
        fields = event.model_dump(mode="json", exclude_defaults=True, exclude={"ts", "service"})
        level = logging.WARNING if event.kind in REFUSALS else logging.INFO
        text = " ".join(f"{k}={_quoted(v)}" for k, v in fields.items() if k != "kind")
        log.log(level, "%s %s", event.kind.value, text, extra={"fields": fields})

    def _publish(self, event: SecurityEvent) -> None:
        nc = self.nc
        if nc is None or not nc.is_connected:
            self.metrics.dropped["nats"].inc()
            return
        if len(self._inflight) >= self._max_inflight:
            self.metrics.dropped["backlog"].inc()
            return
        subject = subjects.security_event(event.tenant, event.kind.value)
        body = event.model_dump_json(by_alias=True, exclude_none=True).encode()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread (FastAPI runs sync dependencies in one)
            if self._loop is None or self._loop.is_closed():
                self.metrics.dropped["nats"].inc()
                return
            self._loop.call_soon_threadsafe(self._spawn, nc, subject, body)
            return
        self._spawn(nc, subject, body)

    def _spawn(self, nc: Publisher, subject: str, body: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._send(nc, subject, body))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _send(self, nc: Publisher, subject: str, body: bytes) -> None:
        try:
            await nc.publish(subject, body)
        except Exception as exc:  # fire-and-forget: the event was logged and counted
            self.metrics.dropped["nats"].inc()
            log.debug("security event not published on %s: %r", subject, exc)


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT]
    return value


def _quoted(value: Any) -> str:
    text = str(value)
    plain = text.isprintable() and text and not any(c.isspace() or c in '"=\\' for c in text)
    return text if plain else json.dumps(text, ensure_ascii=False)
