"""Security events for what the Socket.IO transports refuse before roomcast's code runs.

python-engineio and uvicorn refuse some requests themselves:

- a browser origin outside `ROOMCAST_CORS_ORIGINS` (400, or a closed WebSocket
  handshake): `EdgeEngineIO`, the Engine.IO server `sio_server.StrictServer` runs, tells
  its `on_bad_origin` callback when its own origin check refuses one;
- a long-polling body over `ROOMCAST_MAX_FRAME_BYTES` (413) and a WebSocket frame over
  it (uvicorn closes the connection with code 1009, "message too big"): `watch`, an ASGI
  middleware on the Socket.IO path, sees those go by. On a WebSocket it only reads what
  the client sends (`receive`); what the gateway writes to sockets does not pass through
  it.

Both report to `GatewaySignals`; neither changes what is answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import engineio

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
_REPORTED = "roomcast.origin_refused"


class EdgeEngineIO(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server, telling `on_bad_origin(origin, environ)` about each
    request whose origin its own check refuses (once per request)."""

    on_bad_origin: Callable[[str, MutableMapping[str, Any]], None] | None = None

    def _cors_allowed_origins(self, environ: MutableMapping[str, Any]) -> Any:
        allowed = super()._cors_allowed_origins(environ)
        origin = environ.get("HTTP_ORIGIN")
        if (
            origin
            and allowed is not None
            and origin not in allowed
            and self.on_bad_origin is not None
            and not environ.get(_REPORTED)
        ):
            environ[_REPORTED] = True
            self.on_bad_origin(origin, environ)
        return allowed


def watch(app: ASGIApp, signals: GatewaySignals, path: str = "/socket.io") -> ASGIApp:
    """`app`, reporting oversized frames and bodies on `path`."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if not str(scope.get("path", "")).startswith(path):
            await app(scope, receive, send)
        elif kind == "websocket":
            await app(scope, _watching_receive(receive, signals, scope), send)
        elif kind == "http":
            await app(scope, receive, _watching_send(send, signals, scope))
        else:
            await app(scope, receive, send)

    return middleware


def _watching_receive(receive: Receive, signals: GatewaySignals, scope: Scope) -> Receive:
    async def watching() -> Message:
        message = await receive()
        if message.get("type") == "websocket.disconnect" and message.get("code") == TOO_BIG:
            signals.http_refused(
                SecurityKind.FRAME_TOO_LARGE,
                ErrorCode.TOO_LARGE,
                "a WebSocket frame over the frame limit",
                scope,
            )
        return message

    return watching


def _watching_send(send: Send, signals: GatewaySignals, scope: Scope) -> Send:
    async def watching(message: Message) -> None:
        if message.get("type") == "http.response.start" and message.get("status") == 413:
            signals.http_refused(
                SecurityKind.FRAME_TOO_LARGE,
                ErrorCode.TOO_LARGE,
                "a long-polling body over the frame limit",
                scope,
            )
        await send(message)

    return watching
