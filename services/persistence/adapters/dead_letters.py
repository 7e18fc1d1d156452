"""Dead letters to the `ROOMCAST_DLQ` JetStream stream."""

from __future__ import annotations

from nats.js import JetStreamContext

from contracts import deadletter, subjects
from services.persistence.ports import Delivered


class JetStreamDeadLetters:
    """Stores a dead letter; returns only once the stream has it."""

    def __init__(self, js: JetStreamContext, consumer: str, timeout: float = 5.0) -> None:
        self._js = js
        self._consumer = consumer
        self._subject = subjects.dead_letter(consumer)
        self._timeout = timeout

    async def send(self, item: Delivered, reason: str) -> None:
        """Publish `item` with its reason and wait for the stream's acknowledgement."""
        headers = deadletter.headers(
            self._consumer, subjects.LOG_STREAM, item.subject, item.seq, item.deliveries, reason
        )
        await self._js.publish(
            self._subject,
            item.data,
            timeout=self._timeout,
            stream=subjects.DLQ_STREAM,
            headers=headers,
        )
