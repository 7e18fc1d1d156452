"""Client events forwarded to backend services over JetStream (`ROOMCAST_FORWARD_EVENTS`).

A client event with no handler of its own whose name matches the allow-list (fnmatch
patterns, `contracts.client_events.forwardable`; protocol names never match) is
forwarded: its payload must be a JSON object of at most `ROOMCAST_FORWARD_MAX_BYTES`
(`INVALID`, `TOO_LARGE`), it is wrapped in a `ForwardedEvent` stamped with the
session's verified identity, and published to the stream `ROOMCAST_CLIENT_EVENTS`. The
ack `{ok: true}` comes after JetStream's acknowledgement; none within
`ROOMCAST_REQUEST_TIMEOUT` (or NATS down, or no stream) is `UNAVAILABLE`, the outcome
unknown. The per-connection rate limit applies before, as to every event.

The gateways create the stream at start when their allow-list is not empty: it is the
gateway that publishes to it, and no other service depends on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError

from contracts import subjects
from contracts.client_events import forwardable
from contracts.errors import ErrorCode, ServiceError
from roomcast.platform.streams import ensure_client_events_stream
from services.gateway.envelope import Ack, ok
from services.gateway.sessions import Session
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

ForwardHandler = Callable[[Any, Session, Any], Awaitable[Ack]]


class Forwarder:
    """Forwards allow-listed client events to the client event stream."""

    def __init__(self, settings: GatewaySettings, nc: NATS) -> None:
        self._patterns = tuple(settings.forward_events)
        self._max_bytes = settings.forward_max_bytes
        self._max_age = settings.forward_max_age
        self._replicas = settings.stream_replicas
        self._timeout = settings.request_timeout
        self._js = nc.jetstream(timeout=settings.request_timeout)
        self._handlers: dict[str, ForwardHandler | None] = {}
        self.forwarded = 0
        """Events JetStream acknowledged since start (for `/statz`)."""

    @property
    def enabled(self) -> bool:
        return bool(self._patterns)

    async def start(self) -> None:
        """Create or update the client event stream when anything is forwarded.

        Raises:
            StreamConfigError: the NATS server refused the stream's configuration.
        """
        if self.enabled:
            await ensure_client_events_stream(self._js, self._max_age, self._replicas)

    def handler(self, event: str) -> ForwardHandler | None:
        """The handler forwarding `event`, or None when the allow-list does not admit it."""
        if not self._patterns:
            return None
        if event not in self._handlers:
            if len(self._handlers) >= 4096:
                self._handlers.clear()
            self._handlers[event] = (
                self._make(event) if forwardable(event, self._patterns) else None
            )
        return self._handlers[event]

    def _make(self, event: str) -> ForwardHandler:
        async def forward(gw: Any, s: Session, data: Any) -> Ack:
            return await self.forward(s, event, data)

        return forward

    async def forward(self, s: Session, event: str, data: Any) -> Ack:
        """Publish one event for `s`; returns the ack once JetStream stored it.

        Raises:
            ServiceError: `INVALID` (not a JSON object), `TOO_LARGE`, `UNAVAILABLE`.
        """
        if not isinstance(data, dict):
            raise ServiceError(ErrorCode.INVALID, f"{event} takes one JSON object")
        try:
            encoded = orjson.dumps(data)
        except TypeError:
            raise ServiceError(ErrorCode.INVALID, f"{event} takes one JSON object") from None
        if len(encoded) > self._max_bytes:
            raise ServiceError(ErrorCode.TOO_LARGE, f"payload is over {self._max_bytes} bytes")
        who = s.identity
        body = b"".join(
            (
                orjson.dumps(
                    {
                        "tenant": who.tenant,
                        "userId": who.user_id,
                        "role": who.role,
                        "event": event,
                        "ts": int(time.time() * 1000),
                        "sid": s.sid,
                        "namespace": s.namespace,
                    }
                )[:-1],
                b',"data":',
                encoded,
                b"}",
            )
        )
        subject = subjects.client_event(who.tenant, event)
        try:
            await self._js.publish(subject, body, timeout=self._timeout)
        except (NatsError, TimeoutError):
            log.warning("client event %s not stored", event, exc_info=True)
            raise ServiceError(
                ErrorCode.UNAVAILABLE, "the event stream did not acknowledge in time; retry"
            ) from None
        self.forwarded += 1
        return ok()
