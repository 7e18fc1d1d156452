"""`disconnect_user`: end every socket of one user that this gateway hosts.

Every gateway subscribes to `endpoints.DISCONNECT_USER` (a broadcast, no queue group:
each gateway must act on its own sockets). For each socket of the user, on every
namespace, the gateway emits `session:ended {reason}` and then disconnects it
server-side: the client sees Socket.IO's `io server disconnect`, which stock clients do
not retry. The disconnect handler then forgets the session as for any close, so
presence reports an ordinary close. A socket still in its connect handler is ended as
soon as its connect completes (within `ROOMCAST_REQUEST_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import socketio
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from contracts import endpoints
from contracts.sessions import ENDED_EVENT, DisconnectUser
from services.gateway.sessions import Session

log = logging.getLogger(__name__)

CONNECTING_POLL = 0.02
"""Seconds between looks at a socket still connecting when its user was disconnected."""


class UserDisconnects:
    """Acts on `DISCONNECT_USER` for the sockets in `sessions`.

    Args:
        sio: the Socket.IO server.
        nc: the gateway's NATS connection.
        sessions: live sessions by sid (the gateway's own dict).
        end: disconnects one session's namespace (and its connection when unused).
        connect_wait: seconds to wait for a socket still connecting.
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        nc: NATS,
        sessions: dict[str, Session],
        end: Callable[[Session], Awaitable[None]],
        connect_wait: float,
    ) -> None:
        self._sio = sio
        self._nc = nc
        self._sessions = sessions
        self._end = end
        self._connect_wait = connect_wait
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.ended = 0
        """Sockets ended by a `disconnect_user` since start (for `/statz`)."""

    async def start(self) -> None:
        """Subscribe to `DISCONNECT_USER`; returns once the NATS server knows it."""
        self._sub = await self._nc.subscribe(endpoints.DISCONNECT_USER.subject, cb=self._on_msg)
        await self._nc.flush()

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        try:
            order = DisconnectUser.model_validate_json(msg.data)
        except ValidationError:
            log.warning("ignored a malformed %s message", endpoints.DISCONNECT_USER.name)
            return
        targets = [
            s
            for s in self._sessions.values()
            if s.identity.tenant == order.tenant and s.identity.user_id == order.user_id
        ]
        if targets:
            log.info("ending %d socket(s) of a user (%s)", len(targets), order.reason)
        for s in targets:
            task = asyncio.get_running_loop().create_task(self._end_one(s, order.reason))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _end_one(self, s: Session, reason: str) -> None:
        manager = self._sio.manager
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._connect_wait
        while not manager.is_connected(s.sid, s.namespace):
            if self._sessions.get(s.sid) is not s or loop.time() > deadline:
                return
            await asyncio.sleep(CONNECTING_POLL)
        if self._sessions.get(s.sid) is not s:
            return
        try:
            await self._sio.emit(ENDED_EVENT, {"reason": reason}, to=s.sid, namespace=s.namespace)
            await self._end(s)
            self.ended += 1
        except Exception:
            log.exception("could not end a socket of a disconnected user")
