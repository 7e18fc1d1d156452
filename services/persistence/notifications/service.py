"""Notification use cases: publish, list, mark, count; against ports only.

Durability: `notify` answers after the store committed the row. Delivery to sockets
follows the commit and is best effort (a user whose socket missed `notification:new`
still finds the notification in `notification:list` and the count).

The unread count is never kept as a counter: it is computed from the same rows as the
list (notifications the user sees, not expired, above their read-all cursor, without a
read or dismissed state), so it cannot drift from them. Gateways ask for the counts of
the users they host after delivering `notification:new` (`counts`), which costs one
count per connected user of the target, not one per user of the tenant.

Which explicit rooms a user may read is the rooms service's answer; it is asked only
for tenants that have live room notifications, so inboxes of tenants that never notify
a room cost no call to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contracts import subjects
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.inbox import (
    ListNotifications,
    MarkNotifications,
    Notification,
    NotificationCount,
    Status,
)
from contracts.notifications import COUNT_EVENT, NEW_EVENT, AppEvent, Notify, Target, TargetKind
from services.persistence.notifications.audience import (
    delivery_subject,
    room_key,
    seen_by,
    stored_under,
)
from services.persistence.notifications.ports import (
    Deliveries,
    Key,
    NewNotification,
    NotFound,
    NotificationStore,
    RoomDirectory,
    RoomRef,
    Viewer,
)

log = logging.getLogger(__name__)

Clock = Callable[[], int]


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class NotificationService:
    """Publishes notifications and app events; serves users' inboxes."""

    def __init__(
        self,
        store: NotificationStore,
        deliveries: Deliveries,
        rooms: RoomDirectory,
        clock: Clock = now_ms,
    ) -> None:
        self._store = store
        self._deliveries = deliveries
        self._rooms = rooms
        self._clock = clock

    async def notify(self, command: Notify) -> tuple[str, int]:
        """Store a notification once and deliver it; returns `(id, ts)`.

        Raises:
            ServiceError: `INVALID` with the reason (expired already); `NOT_FOUND` for a
                room that does not exist.
        """
        now = self._clock()
        if command.expires_at is not None and command.expires_at <= now:
            raise ServiceError(ErrorCode.INVALID, "expiresAt is not in the future")
        key, target = await self._placed(command.target)
        stored = await self._store.insert(
            NewNotification(
                key=key,
                event=command.event,
                title=command.title,
                body=command.body,
                data=command.data,
                priority=str(command.priority),
                ts=now,
                expires_at=command.expires_at,
                idempotency_key=command.idempotency_key,
            )
        )
        if stored.created:
            new = Notification(
                id=stored.id,
                event=command.event,
                title=command.title,
                body=command.body,
                data=command.data,
                priority=command.priority,
                ts=stored.ts,
                status=Status.UNREAD,
                expires_at=command.expires_at,
            )
            await self._deliver(
                delivery_subject(target),
                NEW_EVENT,
                new.model_dump(mode="json", by_alias=True, exclude_none=True),
            )
        return stored.id, stored.ts

    async def publish(self, event: AppEvent) -> int:
        """Deliver an app event to its target's sockets; returns its `ts`.

        A room is named as clients name it (`room:{slug}` or `{entityType}:{entityId}`);
        the event goes to the sockets that joined it by any of its names.

        Raises:
            ServiceError: `NOT_FOUND` for a room that does not exist; `UNAVAILABLE`.
        """
        _, target = await self._placed(event.target)
        await self._deliver(delivery_subject(target), event.event, event.data, strict=True)
        return self._clock()

    async def page(self, query: ListNotifications) -> tuple[list[Notification], int]:
        """One page of a user's notifications and their unread count."""
        now = self._clock()
        who = await self._viewer(query.viewer, now)
        items = await self._store.page(who, query.status, query.before, query.limit, now)
        return items, await self._store.unread(who, now)

    async def mark(self, command: MarkNotifications) -> int:
        """Mark notifications of one user; tells every socket of the user the new count.

        Raises:
            ServiceError: `NOT_FOUND` naming ids the user does not see (nothing changed).
        """
        now = self._clock()
        who = await self._viewer(command.viewer, now)
        if command.all:
            await self._store.read_all(who)
        else:
            try:
                await self._store.mark(who, command.action, command.ids, now)
            except NotFound as exc:
                shown = ", ".join(exc.ids[:5])
                raise ServiceError(
                    ErrorCode.NOT_FOUND, f"no such notification for you: {shown}"
                ) from None
        unread = await self._store.unread(who, self._clock())
        count = NotificationCount(unread=unread).model_dump(mode="json", by_alias=True)
        await self._deliver(subjects.deliver_user(who.tenant, who.user_id), COUNT_EVENT, count)
        return unread

    async def counts(self, viewers: Sequence[Identity]) -> list[int]:
        """The unread count of each of `viewers`, in order."""
        now = self._clock()
        with_rooms: dict[str, bool] = {}
        out = []
        for who in viewers:
            if who.tenant not in with_rooms:
                with_rooms[who.tenant] = await self._store.has_room_notifications(who.tenant, now)
            inbox = await self._viewer(who, now, with_rooms[who.tenant])
            out.append(await self._store.unread(inbox, now))
        return out

    async def _placed(self, target: Target) -> tuple[Key, Target]:
        """Where a publication to `target` is stored, and its target with a room's
        canonical name."""
        if target.kind is not TargetKind.ROOM:
            return stored_under(target), target
        assert target.tenant is not None
        assert target.room is not None
        room: RoomRef = await self._rooms.resolve(target.tenant, target.room)
        return room_key(target.tenant, room.id), Target.of_room(target.tenant, room.name)

    async def _viewer(self, who: Identity, now: int, with_rooms: bool | None = None) -> Viewer:
        """The inbox of `who`: their keys, with the rooms they may read when any room of
        their tenant has live notifications."""
        if with_rooms is None:
            with_rooms = await self._store.has_room_notifications(who.tenant, now)
        rooms = await self._rooms.readable(who) if with_rooms else []
        return Viewer(who.tenant, who.user_id, seen_by(who, rooms))

    async def _deliver(
        self, subject: str, event: str, data: Mapping[str, Any], *, strict: bool = False
    ) -> None:
        try:
            await self._deliveries.send(subject, event, data)
        except Exception as exc:
            if strict:
                raise ServiceError(ErrorCode.UNAVAILABLE, "the message bus is unreachable") from exc
            log.warning("%s not delivered to %s", event, subject, exc_info=True)
