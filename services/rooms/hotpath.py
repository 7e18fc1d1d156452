"""The `chat_send` subscriber on plain nats-py, for the per-message hot path.

It also drops cached tenant settings when another replica broadcasts a change. That
subscription shares the connection and is a plain callback without awaits, so a
change that reached this replica before a later `chat_send` is applied before that
send is handled: NATS delivers both over one connection in order, and nats-py wakes
the two subscriptions' tasks in that order. `roomcast tenant set` replies only after
the broadcast left, so every send issued after it sees the new value.

FastStream's consume path (task group, middlewares, logging context, reply
publisher) cost about 40 % of the rooms service's CPU per direct message in
`bench/rooms_cost.py`. This subscriber keeps the same contract (queue group,
`ChatSend` in, `ChatAck` out) with one task per message and a bound on how many
are in flight; the other, colder commands stay on FastStream.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from contracts import subjects
from contracts.messages import ChatAck, ChatSend
from contracts.tenants import TenantSettingsChanged
from services.rooms.handlers import answer
from services.rooms.service import RoomsService

log = logging.getLogger(__name__)


class ChatSendSubscriber:
    """Serves `cmd.rooms.chat_send` in the `rooms` queue group."""

    def __init__(self, nc: NATS, service: RoomsService, workers: int) -> None:
        self._nc = nc
        self._service = service
        self._slots = asyncio.Semaphore(workers)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sub: Subscription | None = None
        self._settings_sub: Subscription | None = None

    async def start(self) -> None:
        self._settings_sub = await self._nc.subscribe(
            subjects.tenant_settings_changed(), cb=self._on_settings_changed
        )
        self._sub = await self._nc.subscribe(
            subjects.chat_send(), queue=subjects.ROOMS_QUEUE, cb=self._on_msg
        )

    async def stop(self) -> None:
        """Stop taking messages and let those in flight finish."""
        for sub in (self._sub, self._settings_sub):
            if sub is not None:
                await sub.unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    async def _on_settings_changed(self, msg: Msg) -> None:
        try:
            tenant = TenantSettingsChanged.model_validate_json(msg.data).tenant
        except ValidationError:
            log.warning("ignored a malformed settings_changed event")
            return
        self._service.forget_settings(tenant)

    async def _on_msg(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _handle(self, msg: Msg) -> None:
        ack = await answer(msg.data, ChatSend, ChatAck, self._service.send_dm)
        if msg.reply:
            try:
                await self._nc.publish(msg.reply, ack.model_dump_json().encode())
            except Exception:
                log.warning("could not answer a chat_send", exc_info=True)
