"""HTTP API latency by route template, method and status class.

The route is the template FastAPI matched (`/api/chat/rooms/{room}`), never the path
with its ids; a request refused before routing (by `edge.Edge`) or matching no route is
`unmatched`. Methods outside the API's own are `other`.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.signals import GatewaySignals

UNMATCHED = "unmatched"
METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"))


def timed(app: ASGIApp, signals: GatewaySignals) -> ASGIApp:
    """`app`, observing each HTTP request's duration once its response started and ended."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, recording_send)
        finally:
            method = scope.get("method", "")
            signals.http_request(
                route_template(scope),
                method if method in METHODS else "other",
                status[0],
                time.perf_counter() - started,
            )

    return middleware


def route_template(scope: Scope) -> str:
    """The matched route's path template, or `unmatched`."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
