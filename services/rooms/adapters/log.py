"""The JetStream message log: append a message, read back a duplicate's original."""

from __future__ import annotations

from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import Error as JsError
from pydantic import BaseModel

from contracts import subjects
from contracts.errors import ErrorCode, ServiceError
from contracts.messages import LoggedMessage, LoggedRoomMessage
from services.rooms.ports import Appended

DEDUP_HEADER = "Nats-Msg-Id"


class MessageLog:
    """Appends messages to the log stream and reads them back by sequence."""

    def __init__(self, js: JetStreamContext, timeout: float = 5.0) -> None:
        self._js = js
        self._timeout = timeout

    async def append(self, subject: str, message: BaseModel, dedup_key: str | None) -> Appended:
        """Store `message`; returns once the server has it in the stream.

        Raises:
            ServiceError: `UNAVAILABLE` when the stream does not confirm the write.
        """
        headers = {DEDUP_HEADER: dedup_key} if dedup_key else None
        try:
            ack = await self._js.publish(
                subject,
                message.model_dump_json().encode(),
                timeout=self._timeout,
                stream=subjects.LOG_STREAM,
                headers=headers,
            )
        except (NatsTimeout, TimeoutError, JsError, NatsError) as exc:
            raise ServiceError(
                ErrorCode.UNAVAILABLE,
                f"the message log did not confirm the write ({type(exc).__name__})",
            ) from exc
        return Appended(seq=ack.seq, duplicate=bool(ack.duplicate))

    async def read(self, seq: int) -> LoggedMessage:
        """The message stored at `seq`."""
        return LoggedMessage.model_validate_json(await self._raw(seq))

    async def read_room(self, seq: int) -> LoggedRoomMessage:
        """The room message stored at `seq`."""
        return LoggedRoomMessage.model_validate_json(await self._raw(seq))

    async def _raw(self, seq: int) -> bytes:
        try:
            raw = await self._js.get_msg(subjects.LOG_STREAM, seq, direct=True)
        except (NatsTimeout, TimeoutError, JsError, NatsError) as exc:
            raise ServiceError(ErrorCode.UNAVAILABLE, "the message log is unavailable") from exc
        return raw.data or b"{}"
