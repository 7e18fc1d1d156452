"""Thin request handlers: history pages and recovery, behind the `persistence` queue group.

They run on plain nats-py queue subscriptions, one task per request and a bound on
how many run at once: FastStream's consume path costs about half a millisecond of
CPU per message (see `bench/rooms_cost.py`), a tenth of the 5 ms a history page may
take at p99.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError

from contracts import subjects
from contracts.errors import ErrorBody, ErrorCode, ServiceError
from contracts.history import HistoryQuery, HistoryReply
from contracts.recovery import RecoverChunk, RecoverRequest
from services.persistence.service import PersistenceService

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

REPLY_HEADROOM = 4096
"""Bytes kept free below the server's max_payload for a reply's envelope."""


class ReadHandlers:
    """Serves `cmd.persistence.history` and `cmd.persistence.recover`."""

    def __init__(
        self, nc: NATS, service: PersistenceService, workers: int, chunk_bytes: int
    ) -> None:
        self._nc = nc
        self._service = service
        self._chunk_bytes = min(chunk_bytes, nc.max_payload - REPLY_HEADROOM)
        self._slots = asyncio.Semaphore(workers)
        self._tasks: set[asyncio.Task[None]] = set()
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        """Join the queue group on both subjects."""
        for subject, handle in (
            (subjects.history(), self.history),
            (subjects.recover(), self.recover),
        ):
            sub = await self._nc.subscribe(
                subject, queue=subjects.PERSISTENCE_QUEUE, cb=self._spawner(handle)
            )
            self._subs.append(sub)

    async def stop(self) -> None:
        """Stop taking requests and let those in flight finish."""
        for sub in self._subs:
            await sub.unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    def _spawner(
        self, handle: Callable[[Msg], Coroutine[Any, Any, None]]
    ) -> Callable[[Msg], Coroutine[Any, Any, None]]:
        async def on_msg(msg: Msg) -> None:
            await self._slots.acquire()
            task = asyncio.create_task(handle(msg))
            self._tasks.add(task)
            task.add_done_callback(self._done)

        return on_msg

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def history(self, msg: Msg) -> None:
        """One page of a conversation, newest first."""
        try:
            query = HistoryQuery.model_validate_json(msg.data)
            page = await self._service.history(query)
            reply = HistoryReply(ok=True, messages=next(chunks(page, self._chunk_bytes), []))
        except ValidationError as exc:
            reply = HistoryReply(ok=False, error=_error(ErrorCode.INVALID, str(exc)))
        except ServiceError as exc:
            reply = HistoryReply(ok=False, error=exc.body())
        except Exception:
            log.exception("history failed")
            reply = HistoryReply(ok=False, error=_error(ErrorCode.INTERNAL, "internal error"))
        await self._reply(msg, reply.model_dump_json(by_alias=True).encode())

    async def recover(self, msg: Msg) -> None:
        """Missed messages of a reconnecting socket, as chunks on the reply subject."""
        try:
            request = RecoverRequest.model_validate_json(msg.data)
            messages, outcomes = await self._service.recover(request)
        except ValidationError as exc:
            await self._chunk(
                msg, RecoverChunk(done=True, error=_error(ErrorCode.INVALID, str(exc)))
            )
            return
        except Exception:
            log.exception("recovery failed")
            error = _error(ErrorCode.INTERNAL, "internal error")
            await self._chunk(msg, RecoverChunk(done=True, error=error))
            return
        for part in chunks(messages, self._chunk_bytes):
            await self._chunk(msg, RecoverChunk(messages=part))
        await self._chunk(msg, RecoverChunk(done=True, rooms=outcomes))

    async def _chunk(self, msg: Msg, chunk: RecoverChunk) -> None:
        await self._reply(msg, chunk.model_dump_json(by_alias=True).encode())

    async def _reply(self, msg: Msg, body: bytes) -> None:
        if not msg.reply:
            return
        try:
            await self._nc.publish(msg.reply, body)
        except Exception:
            log.warning("could not answer on %s", msg.subject, exc_info=True)


def chunks(messages: Sequence[M], max_bytes: int) -> Iterator[list[M]]:
    """Split `messages` into runs whose JSON stays under `max_bytes` (one reply each).

    A history page is the first run: a page of long messages holds fewer than `limit`
    (the client goes on with `before`), and no reply exceeds NATS's max_payload.
    """
    part: list[M] = []
    size = 0
    for message in messages:
        cost = len(message.model_dump_json(by_alias=True)) + 1
        if part and size + cost > max_bytes:
            yield part
            part, size = [], 0
        part.append(message)
        size += cost
    if part:
        yield part


def _error(code: ErrorCode, message: str) -> ErrorBody:
    return ErrorBody(code=code, message=message[:500])
