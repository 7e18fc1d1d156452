"""`notification:count` sent by the gateway: on connect, and after `notification:new`.

A count is per user, but a notification to a tenant or a role is one delivery for all
of them. Rather than the publisher computing a count for every user of a big tenant
(most of them offline), each gateway that delivered `notification:new` asks the
persistence service for the counts of the users it hosts in that room (in batches of
`BATCH`, a few at a time) and sends each of their sockets here its own. The cost is one
count per connected user of the target, spread over the gateways hosting them; the
counts are computed from stored state after the notification was committed, so they
include it.

Counts are hints for a badge: when one cannot be computed (persistence unavailable)
it is logged and skipped, and the next change or reconnect sends a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from nats.aio.client import Client as NATS

from contracts import delivery, endpoints
from contracts.errors import ServiceError
from contracts.identity import Identity
from contracts.inbox import MAX_COUNT_VIEWERS, CountNotifications
from contracts.notifications import COUNT_EVENT, NEW_EVENT
from roomcast.platform import bus
from services.gateway.sessions import Session

log = logging.getLogger(__name__)

BATCH = min(100, MAX_COUNT_VIEWERS)
"""Users per count request: small enough to answer well within the request timeout."""

PARALLEL_BATCHES = 4
"""Count requests in flight per delivery, spread over persistence replicas and workers."""

WARN_EVERY_S = 60.0
"""While counts cannot be computed (no persistence service), one warning per minute."""

Emit = Callable[[Session, int], Awaitable[None]]
"""Sends `{unread}` to one session."""


class NotificationCounts:
    """Sends `notification:count` to local sockets.

    Args:
        nc: the gateway's NATS connection.
        sessions: the gateway's live sessions by sid.
        emit: sends `{unread}` to one session.
        wait: seconds to wait for the persistence service.
        members: the sids of the local sockets in a delivery subject's room (by default,
            found by looking at every session).
    """

    def __init__(
        self,
        nc: NATS,
        sessions: dict[str, Session],
        emit: Emit,
        wait: float,
        members: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        self._nc = nc
        self._sessions = sessions
        self._members = members or self._scan
        self._emit = emit
        self._wait = wait
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned_at = -WARN_EVERY_S

    def connected(self, s: Session) -> None:
        """Send a newly connected socket its count (in the background)."""
        self._spawn([s])

    def delivered(self, subject: str, item: delivery.Delivery) -> None:
        """After a delivery: a `notification:new` changed the counts of its room's users."""
        if item.event != NEW_EVENT:
            return
        hosted = [s for sid in self._members(subject) if (s := self._sessions.get(sid))]
        if hosted:
            self._spawn(hosted)

    def _scan(self, subject: str) -> list[str]:
        return [s.sid for s in self._sessions.values() if subject in s.subjects]

    def _not_sent(self, users: int, why: str) -> None:
        """Log a failure as a warning at most once per `WARN_EVERY_S`, else at debug."""
        now = time.monotonic()
        level = logging.DEBUG
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at, level = now, logging.WARNING
        log.log(level, "%s not sent to %d users: %s", COUNT_EVENT, users, why)

    async def settle(self) -> None:
        """Wait for the counts being sent (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, sessions: Sequence[Session]) -> None:
        task = asyncio.get_running_loop().create_task(self._send(sessions))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, sessions: Sequence[Session]) -> None:
        by_user: dict[tuple[str, str, str], list[Session]] = {}
        people: dict[tuple[str, str, str], Identity] = {}
        for s in sessions:
            key = (s.identity.tenant, s.identity.user_id, s.identity.role)
            by_user.setdefault(key, []).append(s)
            people[key] = s.identity
        keys = list(by_user)
        slots = asyncio.Semaphore(PARALLEL_BATCHES)

        async def batch(users: list[tuple[str, str, str]]) -> None:
            query = CountNotifications(viewers=[people[k] for k in users])
            async with slots:
                try:
                    reply = await bus.request(
                        self._nc, endpoints.NOTIFICATION_COUNTS, query, wait=self._wait
                    )
                    counts = reply.checked().unread
                except ServiceError as exc:
                    self._not_sent(len(users), exc.message)
                    return
            for key, unread in zip(users, counts, strict=False):
                for s in by_user[key]:
                    if self._sessions.get(s.sid) is s:
                        await self._emit(s, unread)

        await asyncio.gather(*(batch(keys[i : i + BATCH]) for i in range(0, len(keys), BATCH)))
