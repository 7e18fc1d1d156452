"""Thin handlers of the notification endpoints, behind the `notifications` queue group."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from nats.aio.client import Client as NATS

from contracts import endpoints
from contracts.errors import ErrorCode, ServiceError
from contracts.inbox import (
    CountNotifications,
    CountReply,
    CountsReply,
    ListNotifications,
    MarkNotifications,
    NotificationPage,
)
from contracts.notifications import AppEvent, Notify, NotifyReply, PublishReply
from roomcast.platform.bus import Served, serve
from services.persistence.notifications.service import NotificationService
from services.persistence.ports import StoreUnavailable

T = TypeVar("T")


async def _stored(call: Awaitable[T]) -> T:
    try:
        return await call
    except StoreUnavailable as exc:
        raise ServiceError(ErrorCode.UNAVAILABLE, "the notification store is unreachable") from exc


class NotificationHandlers:
    """Serves `cmd.notifications.*` with a `NotificationService`."""

    def __init__(self, nc: NATS, service: NotificationService, workers: int) -> None:
        self._nc = nc
        self._service = service
        self._workers = workers
        self._served: list[Served] = []

    async def start(self) -> None:
        """Join the `notifications` queue group on every endpoint."""
        nc, n = self._nc, self._workers
        self._served = [
            await serve(nc, endpoints.NOTIFY, self.notify, n),
            await serve(nc, endpoints.PUBLISH, self.publish, n),
            await serve(nc, endpoints.NOTIFICATION_LIST, self.list, n),
            await serve(nc, endpoints.NOTIFICATION_MARK, self.mark, n),
            await serve(nc, endpoints.NOTIFICATION_COUNTS, self.counts, n),
        ]

    async def stop(self) -> None:
        """Stop taking requests and let those in flight finish."""
        for served in self._served:
            await served.stop()

    async def notify(self, command: Notify) -> NotifyReply:
        notification_id, ts = await _stored(self._service.notify(command))
        return NotifyReply(ok=True, id=notification_id, ts=ts)

    async def publish(self, event: AppEvent) -> PublishReply:
        return PublishReply(ok=True, ts=await self._service.publish(event))

    async def list(self, query: ListNotifications) -> NotificationPage:
        items, unread = await _stored(self._service.page(query))
        return NotificationPage(ok=True, notifications=items, unread=unread)

    async def mark(self, command: MarkNotifications) -> CountReply:
        return CountReply(ok=True, unread=await _stored(self._service.mark(command)))

    async def counts(self, query: CountNotifications) -> CountsReply:
        return CountsReply(ok=True, unread=await _stored(self._service.counts(query.viewers)))
