"""The TCP connection under each Engine.IO socket, so that a slow one can be cut.

A client that stops reading fills the kernel's buffers, then uvicorn's, then the
socket's Engine.IO queue. Closing it politely does not work: python-engineio queues
a CLOSE packet behind everything else and waits for the queue to drain, and uvicorn
closes a WebSocket with `transport.close()`, which also waits for its write buffer to
drain. Neither drains while the client does not read, so the connection stays open
with its buffers. `abort(sid)` resets the connection instead (SO_LINGER 0, then
`transport.abort()`), which frees the kernel's and asyncio's buffers at once.

`wrap` is an ASGI middleware that learns, for each WebSocket, its Engine.IO sid (the
`sid` query parameter of an upgrade, or the OPEN packet the server sends first on a
WebSocket-only connection) and its asyncio transport, which is that of the ASGI
server's `send` callable (uvicorn passes its protocol's bound `send`). Under a server
that does not, or for long-polling, `abort` finds nothing and returns False. A sid
already held is never replaced, so a second WebSocket naming someone else's sid cannot
take over that entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any, Protocol, cast
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Transport(Protocol):
    """What is used of a transport: asyncio's and uvloop's (not an asyncio subclass) both fit."""

    def abort(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


_RESET_ON_CLOSE = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close() discards unsent data and sends RST."""


HTTP_SID: ContextVar[str | None] = ContextVar("roomcast_http_sid", default=None)
"""The Engine.IO session a long-polling HTTP request names, while it is handled: a
decoding error python-engineio only logs is charged to that session."""


class Transports:
    """WebSocket transports by Engine.IO sid, while their connection lasts."""

    def __init__(self) -> None:
        self._by_sid: dict[str, Transport] = {}

    def __len__(self) -> int:
        return len(self._by_sid)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The ASGI app `app`, recording each WebSocket connection's transport."""

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            transport = _transport_of(send) if scope.get("type") == "websocket" else None
            if transport is None:
                named = HTTP_SID.set(_upgrade_sid(scope))
                try:
                    await app(scope, receive, send)
                finally:
                    HTTP_SID.reset(named)
                return
            sid = _upgrade_sid(scope)
            if sid is not None:
                self._by_sid.setdefault(sid, transport)
                try:
                    await app(scope, receive, send)
                finally:
                    self._forget(sid, transport)
                return
            learned: list[str] = []

            async def send_learning_sid(message: Message) -> None:
                if not learned and message.get("type") == "websocket.send":
                    opened = _open_packet_sid(message.get("text"))
                    if opened is not None:
                        learned.append(opened)
                        self._by_sid.setdefault(opened, transport)
                await send(message)

            try:
                await app(scope, receive, send_learning_sid)
            finally:
                for opened in learned:
                    self._forget(opened, transport)

        return middleware

    def abort(self, sid: str) -> bool:
        """Reset the TCP connection of Engine.IO socket `sid`, dropping unsent data.

        Returns:
            True when a connection was found and aborted.
        """
        transport = self._by_sid.pop(sid, None)
        if transport is None:
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        transport.abort()
        return True

    def abort_later(self, sid: str, grace: float) -> None:
        """Reset `sid`'s TCP connection in `grace` seconds if it is still open then.

        Called for every Engine.IO socket that closed: a client that reads gets the
        CLOSE packet and ends the WebSocket within the grace (its entry is gone by
        then); one that stopped reading (full buffers, a blocked writer) would keep the
        connection and its buffers forever, and is cut instead.
        """
        if sid in self._by_sid:
            asyncio.get_running_loop().call_later(grace, self.abort, sid)

    def _forget(self, sid: str, transport: Transport) -> None:
        if self._by_sid.get(sid) is transport:
            del self._by_sid[sid]


def _transport_of(send: Send) -> Transport | None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if callable(getattr(transport, "abort", None)) and callable(
        getattr(transport, "get_extra_info", None)
    ):
        return cast(Transport, transport)
    return None


def _upgrade_sid(scope: Scope) -> str | None:
    query = scope.get("query_string", b"")
    if not isinstance(query, bytes) or b"sid=" not in query:
        return None
    values = parse_qs(query.decode("latin-1")).get("sid")
    return values[0] if values else None


def _open_packet_sid(text: Any) -> str | None:
    if not isinstance(text, str) or not text.startswith("0{"):
        return None
    try:
        sid = json.loads(text[1:]).get("sid")
    except (ValueError, AttributeError):
        return None
    return sid if isinstance(sid, str) else None
