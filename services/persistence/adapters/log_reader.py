"""Filtered reads of the JetStream message log, for recovery.

Each read is a short-lived ephemeral pull consumer (in memory, no acks) with the
room's filter subjects, starting at the first sequence the client missed. Creating it
returns how many messages match (`num_pending`), so a read larger than its limit is
refused before a single message is transferred. Consumers are created by the stream
leader, so a read sees every message acknowledged before it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from services.persistence.ports import Bounds, Raw, TooMany

log = logging.getLogger(__name__)

CONSUMER_IDLE_S = 10.0
"""An abandoned read consumer is removed by the server after this long."""


class LogReader:
    """Reads ranges of the log through filter subjects."""

    def __init__(self, js: JetStreamContext, timeout: float = 5.0) -> None:
        self._js = js
        self._timeout = timeout
        self._cleanup: set[asyncio.Task[None]] = set()

    async def bounds(self) -> Bounds:
        """The log's first and last sequence now."""
        info = await self._js.stream_info(subjects.LOG_STREAM)
        state = info.state
        return Bounds(first_seq=state.first_seq, last_seq=state.last_seq)

    async def read(self, filters: Sequence[str], start_seq: int, limit: int) -> list[Raw]:
        """Every message matching `filters` from `start_seq` on, in log order.

        Raises:
            TooMany: more than `limit` messages match.
        """
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(start_seq, 1),
            ack_policy=AckPolicy.NONE,
            inactive_threshold=CONSUMER_IDLE_S,
            mem_storage=True,
            num_replicas=1,
            max_deliver=1,
            filter_subject=filters[0] if len(filters) == 1 else None,
            filter_subjects=list(filters) if len(filters) > 1 else None,
        )
        info = await self._js.add_consumer(subjects.LOG_STREAM, config, timeout=self._timeout)
        name = info.name
        try:
            pending = info.num_pending or 0
            if pending > limit:
                raise TooMany(f"{pending} messages match, more than {limit}")
            if pending == 0:
                return []
            return await self._fetch(name, pending)
        finally:
            self._delete_later(name)

    async def _fetch(self, consumer: str, count: int) -> list[Raw]:
        psub = await self._js.pull_subscribe_bind(
            consumer=consumer, stream=subjects.LOG_STREAM, pending_msgs_limit=count + 16
        )
        got: list[Msg] = []
        try:
            async with asyncio.timeout(self._timeout):
                while len(got) < count:
                    got += await psub.fetch(count - len(got), timeout=self._timeout)
        finally:
            await psub.unsubscribe()
        return [Raw(m.metadata.sequence.stream, m.subject, m.data) for m in got]

    def _delete_later(self, consumer: str) -> None:
        task = asyncio.get_running_loop().create_task(self._delete(consumer))
        self._cleanup.add(task)
        task.add_done_callback(self._cleanup.discard)

    async def _delete(self, consumer: str) -> None:
        try:
            await self._js.delete_consumer(subjects.LOG_STREAM, consumer)
        except Exception:
            log.debug("read consumer %s left to expire", consumer, exc_info=True)
