"""Security events for what the Socket.IO transports refuse before roomcast's code runs.

python-engineio and uvicorn refuse some requests themselves: a browser origin outside
`ROOMCAST_CORS_ORIGINS` (400, or a closed WebSocket handshake, "... is not an accepted
origin"), a long-polling body over `ROOMCAST_MAX_FRAME_BYTES` (413), a WebSocket frame
over it (uvicorn closes the connection with code 1009, "message too big"). `watch` is an
ASGI middleware on the Socket.IO path that sees those answers go by and reports them to
`GatewaySignals`; it changes nothing of what is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from contracts.errors import ErrorCode
from contracts.security import SecurityKind
from services.gateway.signals import GatewaySignals

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOO_BIG = 1009
"""WebSocket close code of a message over the size limit."""
_ORIGIN_REFUSED = "not an accepted origin"


def watch(app: ASGIApp, signals: GatewaySignals, path: str = "/socket.io") -> ASGIApp:
    """`app`, reporting refused origins and oversized frames on `path`."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if not str(scope.get("path", "")).startswith(path):
            await app(scope, receive, send)
            return
        status: list[int] = []
        reported: list[bool] = []

        def report(kind: SecurityKind, code: ErrorCode, reason: str, **fields: Any) -> None:
            if not reported:
                reported.append(True)
                signals.http_refused(kind, code, reason, scope, **fields)

        def refused_origin() -> None:
            report(
                SecurityKind.ORIGIN_REFUSED,
                ErrorCode.FORBIDDEN,
                "the origin is not allowed",
                origin=_origin(scope),
            )

        async def watching_send(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                status.append(int(message.get("status", 0)))
                if status[0] == 413:
                    report(
                        SecurityKind.FRAME_TOO_LARGE,
                        ErrorCode.TOO_LARGE,
                        "a long-polling body over the frame limit",
                    )
            elif kind == "http.response.body" and status and status[0] == 400:
                if _ORIGIN_REFUSED.encode() in bytes(message.get("body", b""))[:512]:
                    refused_origin()
            elif kind == "websocket.close" and _ORIGIN_REFUSED in str(message.get("reason", "")):
                refused_origin()
            await send(message)

        async def watching_receive() -> Message:
            message = await receive()
            if message.get("type") == "websocket.disconnect" and message.get("code") == TOO_BIG:
                report(
                    SecurityKind.FRAME_TOO_LARGE,
                    ErrorCode.TOO_LARGE,
                    "a WebSocket frame over the frame limit",
                )
            return message

        await app(scope, watching_receive, watching_send)

    return middleware


def _origin(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"origin":
            return bytes(value).decode("latin-1")
    return None
