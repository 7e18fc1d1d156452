"""Thin handlers of history pages and recovery, behind the `persistence` queue group.

Both are served by `roomcast.platform.bus` on plain nats-py (parsing, refusals and the
bounded pool live there); recovery answers with a stream of chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TypeVar

from nats.aio.client import Client as NATS
from pydantic import BaseModel

from contracts import endpoints
from contracts.history import HistoryQuery, HistoryReply
from contracts.messages import ChatMessage, RoomMessage
from contracts.recovery import RecoverChunk, RecoverRequest
from roomcast.platform.bus import Served, serve, serve_stream
from services.persistence.service import PersistenceService

M = TypeVar("M", bound=BaseModel)

REPLY_HEADROOM = 4096
"""Bytes kept free below the server's max_payload for a reply's envelope."""


class ReadHandlers:
    """Serves `persistence.history` and `persistence.recover`."""

    def __init__(
        self, nc: NATS, service: PersistenceService, workers: int, chunk_bytes: int
    ) -> None:
        self._nc = nc
        self._service = service
        self._workers = workers
        self._chunk_bytes = min(chunk_bytes, nc.max_payload - REPLY_HEADROOM)
        self._served: list[Served] = []

    async def start(self) -> None:
        """Join the queue group on both endpoints."""
        nc, workers = self._nc, self._workers
        self._served = [
            await serve(nc, endpoints.HISTORY, self.history, workers),
            await serve_stream(nc, endpoints.RECOVER, self.recover, workers),
        ]

    async def stop(self) -> None:
        """Stop taking requests and let those in flight finish."""
        for served in self._served:
            await served.stop()

    async def history(self, query: HistoryQuery) -> HistoryReply:
        """One page of a conversation, newest first, cut to fit one reply."""
        page = await self._service.history(query)
        return HistoryReply(ok=True, messages=next(chunks(page, self._chunk_bytes), []))

    async def recover(self, request: RecoverRequest) -> AsyncIterator[RecoverChunk]:
        """Missed messages of a reconnecting socket, in chunks; the last has `done`."""
        messages, outcomes = await self._service.recover(request)
        for part in chunks(messages, self._chunk_bytes):
            yield RecoverChunk(
                messages=[m for m in part if isinstance(m, ChatMessage)],
                room_messages=[m for m in part if isinstance(m, RoomMessage)],
            )
        yield RecoverChunk(done=True, rooms=outcomes)


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
