"""The Socket.IO server of the edge: python-socketio, refusing hostile frames cheaply."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from socketio import packet

from contracts.errors import ErrorCode
from services.gateway.edge_watch import EdgeEngineIO
from services.gateway.envelope import fail
from services.gateway.frames import (
    EdgeWebSocket,
    Refusals,
    RefusedFrame,
    StrictPacket,
    library_logger,
)
from services.gateway.transports import Transports

UNNAMED_EVENT = ""
"""What an event named by a reserved name or a non-string is renamed to (`INVALID`)."""


CLOSE_GRACE = 5.0
"""Seconds a closed Engine.IO socket's client has to end its WebSocket before the
gateway resets the TCP connection (a client that stopped reading never does)."""


class StrictServer(socketio.AsyncServer):  # type: ignore[misc]
    """AsyncServer that refuses malformed frames and reserved event names cheaply.

    Frames are decoded by `StrictPacket`; a `RefusedFrame` is counted, acknowledged
    when its ack id was read, and a connection that sent `max_bad_frames` of them (or
    one with an ack id too large to answer) is closed. An event named `connect`,
    `disconnect` or `*`, or by a non-string, would reach python-socketio's own
    handlers (`*` with the arguments shifted, so that the payload is taken for a
    socket id); it is renamed to `""`, which the dispatcher answers `INVALID` after
    the sender's own rate limit.
    """

    def __init__(self, max_bad_frames: int, refusals: Refusals, **kwargs: Any) -> None:
        super().__init__(
            serializer=StrictPacket,
            logger=library_logger("socketio", refusals),
            engineio_logger=library_logger("engineio", refusals),
            **kwargs,
        )
        self.eio._async = {**self.eio._async, "websocket": EdgeWebSocket}
        self.max_bad_frames = max_bad_frames
        self.refusals = refusals
        self._reserved = frozenset((*self.reserved_events, "*"))
        self._bad_frames: dict[str, int] = {}
        self._closing: set[asyncio.Task[None]] = set()
        refusals.bad_session = self._bad_polling
        self.transports: Transports | None = None
        """Where a closed Engine.IO socket's TCP connection is cut if it lingers."""

    def _engineio_server_class(self) -> Any:
        return EdgeEngineIO  # reports refused origins (`edge_watch`)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            if not data:  # python-socketio would not decode it: an EVENT without data
                raise RefusedFrame("empty frame")
            await super()._handle_eio_message(eio_sid, data)
        except RefusedFrame as refused:
            await self._refuse(eio_sid, refused)

    async def _handle_event(self, eio_sid: str, namespace: str, id: Any, data: Any) -> None:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            raise RefusedFrame(
                "not connected to this namespace", namespace, id, ErrorCode.UNAUTHENTICATED
            )
        event = data[0]
        if type(event) is not str or event in self._reserved:
            data = [UNNAMED_EVENT, *data[1:]]
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any = None) -> None:
        self._bad_frames.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)
        if self.transports is not None:
            self.transports.abort_later(eio_sid, CLOSE_GRACE)

    async def _refuse(self, eio_sid: str, refused: RefusedFrame) -> None:
        sock = self.eio.sockets.get(eio_sid)
        if sock is None or sock.closed:
            return  # frames read after the close: nobody to answer, nothing to count
        self.refusals.frame(refused.reason)
        if refused.id is not None:
            ack = fail(refused.code, refused.reason)
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    packet.ACK, namespace=refused.namespace, data=[ack], id=refused.id
                ),
            )
        if self._count_bad(eio_sid) or refused.unanswerable:
            self.refusals.closed += 1
            await self._close_now(eio_sid)

    def _count_bad(self, eio_sid: str) -> bool:
        """Count one bad frame of `eio_sid`; True when that reaches `max_bad_frames`."""
        count = self._bad_frames.get(eio_sid, 0) + 1
        self._bad_frames[eio_sid] = count
        return count == self.max_bad_frames

    def _bad_polling(self, eio_sid: str) -> None:
        """A long-polling body python-engineio could not decode: a bad frame too."""
        sock = self.eio.sockets.get(eio_sid)
        if sock is None or sock.closed or not self._count_bad(eio_sid):
            return
        self.refusals.closed += 1
        task = asyncio.get_running_loop().create_task(self._close_polling(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_polling(self, eio_sid: str) -> None:
        """Close a long-polling session and forget it, so that its next request is a
        plain 400 for an unknown session (python-engineio fails on a closed one)."""
        await self._close_now(eio_sid)
        self.eio.sockets.pop(eio_sid, None)

    async def close_connection(self, eio_sid: str) -> None:
        """Close a whole Engine.IO connection at once (see `_close_now`)."""
        await self._close_now(eio_sid)

    async def _close_now(self, eio_sid: str) -> None:
        """Close an Engine.IO connection without waiting for its client to read.

        `eio.disconnect` waits for the queue to drain and leaves the WebSocket open
        until the client closes it; here the writer sends CLOSE, then ends the socket.
        """
        sock = self.eio.sockets.get(eio_sid)
        if sock is None or sock.closing:
            return
        await sock.close(wait=False)
        sock.queue.put_nowait(None)
