"""Frames the gateway refuses: counted, answered or closed, never a traceback.

A client may write anything on its socket. python-socketio and python-engineio raise
on what they cannot decode, and log a traceback per frame. Here:

- `EdgeWebSocket` passes on a text frame Engine.IO could not decode (empty, or not
  starting with a packet type a client sends) as an empty binary message, so that it
  reaches the Socket.IO layer and is refused there like any other bad frame, and ends
  the WebSocket when the client sends Engine.IO CLOSE;
- `StrictPacket` decodes the Socket.IO packets a client may send (CONNECT,
  DISCONNECT, EVENT with a non-empty array) and raises `RefusedFrame` for anything
  else, with the namespace and ack id when they were read, so that the server can
  still acknowledge the event with `INVALID`;
- `Refusals` counts refusals and logs at most one line per `LOG_EVERY` seconds;
- `library_logger` is the logger handed to python-socketio/engineio: a traceback they
  would still log becomes a counted one-line message, rate limited the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engineio.async_drivers.asgi import WebSocket
from socketio import packet

from contracts.errors import ErrorCode
from services.gateway.limits import TokenBucket
from services.gateway.transports import HTTP_SID

log = logging.getLogger(__name__)

LOG_EVERY = 10.0
"""Seconds between two log lines about refused frames (per gateway process)."""

MAX_ACK_ID = 2**53
"""Largest ack id answered (what a JavaScript client can number); a larger one closes."""

_ENGINEIO_CLOSE = "1"
_CLIENT_ENGINEIO_TYPES = frozenset("23456")
_CLIENT_SOCKETIO_TYPES = frozenset("012")


class RefusedFrame(Exception):
    """A frame the gateway does not accept.

    Args:
        reason: Why, for the ack and the log.
        namespace: The packet's namespace, if it was read.
        id: The packet's ack id, if it was read: the sender gets an ack, or, when the
            id is too large to answer, the connection is closed at once.
        code: The error code of the ack, when the frame gets one.
    """

    def __init__(
        self,
        reason: str,
        namespace: str | None = None,
        id: int | None = None,
        code: ErrorCode = ErrorCode.INVALID,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.namespace = namespace or "/"
        answerable = id is None or 0 <= id <= MAX_ACK_ID
        self.id = id if answerable else None
        self.unanswerable = not answerable
        self.code = code


class StrictPacket(packet.Packet):  # type: ignore[misc]
    """python-socketio's packet, refusing on decode what a client may not send.

    Clients never send ACK (the gateway asks them for none), CONNECT_ERROR or binary
    packets; an EVENT must carry a non-empty array. Payloads python-socketio's JSON
    decoding rejects (invalid JSON, nesting beyond 1,024 levels, integers over 4,300
    digits) are refused with the ack id already read. An ack id over `MAX_ACK_ID`
    (python-socketio reads up to 100 digits) is refused, and closes the connection.
    """

    def decode(self, encoded_packet: Any) -> int:
        if not isinstance(encoded_packet, str):
            raise RefusedFrame("binary frames are not accepted")
        if encoded_packet[:1] not in _CLIENT_SOCKETIO_TYPES:
            raise RefusedFrame("not a packet type a client may send")
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, RecursionError):
            raise RefusedFrame("the packet could not be decoded", self.namespace, self.id) from None
        if attachments:
            raise RefusedFrame("only binary packets have attachments", self.namespace, self.id)
        if self.id is not None and self.id > MAX_ACK_ID:
            raise RefusedFrame("the ack id is too large", self.namespace, self.id)
        if self.packet_type == packet.EVENT and not (isinstance(self.data, list) and self.data):
            raise RefusedFrame("an event is a non-empty array", self.namespace, self.id)
        return 0


class EdgeWebSocket(WebSocket):  # type: ignore[misc]
    """Engine.IO's ASGI WebSocket, screening what python-engineio mishandles.

    python-engineio decodes a frame outside any error handling: an empty frame or one
    not starting with a packet type digit would end the connection with a traceback
    in the ASGI server's log; it becomes `b""`, a binary message that `StrictPacket`
    refuses. An Engine.IO CLOSE from the client would mark the session closed but
    keep reading the WebSocket until the ping timeout, every event after it unanswered;
    it ends the WebSocket at once instead.
    """

    async def wait(self) -> Any:
        frame = await super().wait()
        if isinstance(frame, str):
            kind = frame[:1]
            if kind == _ENGINEIO_CLOSE:
                raise OSError("the client closed the Engine.IO session")
            if kind not in _CLIENT_ENGINEIO_TYPES:
                return b""
        return frame


@dataclass
class Refusals:
    """Counts of refused frames, closed connections and library errors."""

    frames: int = 0
    closed: int = 0
    library_errors: int = 0
    bad_session: Callable[[str], None] | None = None
    """Told the Engine.IO session of a long-polling request whose body python-engineio
    could not decode (it only logs the error), so that it counts as a bad frame."""
    _log_bucket: TokenBucket = field(default_factory=lambda: TokenBucket(1 / LOG_EVERY, 1))

    def frame(self, reason: str) -> None:
        """Count one refused frame; log it if no line was logged for a while."""
        self.frames += 1
        if self._log_bucket.take():
            log.warning("refused a frame (%s); %d refused since start", reason, self.frames)

    def library_error(self, record: logging.LogRecord) -> bool:
        """Count a traceback python-socketio/engineio logged; strip it; rate limit it."""
        self.library_errors += 1
        sid = HTTP_SID.get()
        if sid is not None and self.bad_session is not None:
            self.bad_session(sid)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {str(exc)[:200]}"
            record.args = None
        record.exc_info = None
        record.exc_text = None
        return self._log_bucket.take()


def library_logger(name: str, refusals: Refusals) -> logging.Logger:
    """A logger for python-socketio/engineio: errors only, tracebacks counted and cut.

    At INFO they would log every packet, tokens included; the level stays ERROR.
    """
    logger = logging.getLogger(f"{__name__}.{name}")
    logger.setLevel(logging.ERROR)

    def _filter(record: logging.LogRecord) -> bool:
        return not record.exc_info or refusals.library_error(record)

    for old in list(logger.filters):
        logger.removeFilter(old)
    logger.addFilter(_filter)
    return logger
