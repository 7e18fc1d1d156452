"""The entity event stream on JetStream: its configuration, the rooms service's durable
pull consumer, and dead letters.

Entity events are few (a handful per entity change), so the consumer uses nats-py's
`fetch` and handles one message at a time, in stream order; the hot-path tricks of the
persistence consumer are not needed. Replicas share the durable consumer; two events
of one entity handled by two replicas at once are serialised by the store's row lock.
Deliveries are unlimited on the server: `EntityEvents` decides when an event is given
up and dead-letters it with its reason, instead of JetStream silently stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
)

from contracts import deadletter, subjects
from roomcast.platform.jetstream import Fetched
from services.rooms.ports import Delivery

log = logging.getLogger(__name__)

Handler = Callable[[Delivery], Awaitable[None]]


class JetStreamDeadLetters:
    """Dead letters of the entity consumer, on `dlq.<consumer>`."""

    def __init__(self, js: JetStreamContext, consumer: str, timeout: float = 5.0) -> None:
        self._js = js
        self._consumer = consumer
        self._timeout = timeout

    async def send(self, delivery: Delivery, reason: str) -> None:
        headers = deadletter.headers(
            self._consumer,
            subjects.ENTITY_STREAM,
            delivery.subject,
            delivery.seq,
            delivery.deliveries,
            reason,
        )
        await self._js.publish(
            subjects.dead_letter(self._consumer),
            delivery.data,
            timeout=self._timeout,
            stream=subjects.DLQ_STREAM,
            headers=headers,
        )


class EntityConsumer:
    """The durable pull consumer of the entity stream."""

    def __init__(
        self, js: JetStreamContext, name: str, ack_wait: float, fetch_wait: float = 1.0
    ) -> None:
        self._js = js
        self._name = name
        self._fetch_wait = fetch_wait
        self._config = ConsumerConfig(
            durable_name=name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_deliver=-1,
            max_ack_pending=256,
            filter_subject=subjects.entity_all(),
        )

    async def ensure(self) -> None:
        """Create the durable consumer, or update it to this configuration."""
        await self._js.add_consumer(subjects.ENTITY_STREAM, self._config)

    async def run(self, handler: Handler, stopping: asyncio.Event) -> None:
        """Fetch and handle events, one at a time, until `stopping` is set (noticed within
        `fetch_wait`; the event being handled is finished first)."""
        sub = await self._js.pull_subscribe_bind(durable=self._name, stream=subjects.ENTITY_STREAM)
        try:
            while not stopping.is_set():
                try:
                    msgs = await sub.fetch(batch=16, timeout=self._fetch_wait)
                except (NatsTimeout, TimeoutError):
                    continue
                except Exception:
                    log.exception("fetching entity events failed")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), 1.0)
                    continue
                for msg in msgs:
                    if stopping.is_set():
                        # handed back at once, not after ack_wait, for the next replica
                        with contextlib.suppress(Exception):
                            await msg.nak()
                        continue
                    try:
                        await handler(Fetched(msg))
                    except Exception:  # e.g. the ack was lost: redelivered after ack_wait
                        log.exception("settling entity event %s failed", msg.reply)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
