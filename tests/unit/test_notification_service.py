"""Notification use cases against fakes: refusals, delivery once, counts after a change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from contracts import subjects
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.inbox import ListFilter, MarkAction, MarkNotifications, Notification
from contracts.notifications import AppEvent, Notify, Target
from services.persistence.notifications.ports import (
    NewNotification,
    NotFound,
    RoomRef,
    Stored,
    Viewer,
)
from services.persistence.notifications.service import NotificationService

NOW = 1_800_000_000_000
BOB = Identity(tenant="acme", user_id="bob", role="member")


class FakeStore:
    """Keeps rows in a dict keyed by idempotency key; counts what it is asked."""

    def __init__(self) -> None:
        self.rows: list[NewNotification] = []
        self.keys: dict[tuple[str, str], Stored] = {}
        self.marked: list[tuple[MarkAction, list[str]]] = []
        self.read_all_by: list[Viewer] = []
        self.unread_count = 7

    async def insert(self, row: NewNotification) -> Stored:
        if row.idempotency_key and (row.key[0], row.idempotency_key) in self.keys:
            old = self.keys[(row.key[0], row.idempotency_key)]
            return Stored(old.id, old.ts, created=False)
        self.rows.append(row)
        stored = Stored(str(len(self.rows)), row.ts, created=True)
        if row.idempotency_key:
            self.keys[(row.key[0], row.idempotency_key)] = stored
        return stored

    async def page(
        self, viewer: Viewer, status: ListFilter, before: str | None, limit: int, now: int
    ) -> list[Notification]:
        return []

    async def unread(self, viewer: Viewer, now: int) -> int:
        return self.unread_count

    async def mark(self, viewer: Viewer, action: MarkAction, ids: Sequence[str], now: int) -> None:
        unknown = [i for i in ids if int(i) > len(self.rows)]
        if unknown:
            raise NotFound(unknown)
        self.marked.append((action, list(ids)))

    async def read_all(self, viewer: Viewer) -> None:
        self.read_all_by.append(viewer)

    async def has_room_notifications(self, tenant: str, now: int) -> bool:
        return any(row.key[1].startswith("room:") for row in self.rows)


class FakeRooms:
    """One room, `room:lobby` alias `course:42`, id 7, readable by bob."""

    async def resolve(self, tenant: str, name: str) -> RoomRef:
        if name not in ("room:lobby", "course:42"):
            raise ServiceError(ErrorCode.NOT_FOUND, "no such room")
        return RoomRef(7, "course:42")

    async def readable(self, who: Identity) -> list[int]:
        return [7] if who.user_id == "bob" else []


class FakeDeliveries:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Mapping[str, Any]]] = []

    async def send(self, subject: str, event: str, data: Mapping[str, Any]) -> None:
        self.sent.append((subject, event, data))


@pytest.fixture
def parts() -> tuple[NotificationService, FakeStore, FakeDeliveries]:
    store, deliveries = FakeStore(), FakeDeliveries()
    service = NotificationService(store, deliveries, FakeRooms(), clock=lambda: NOW)
    return service, store, deliveries


async def test_a_notification_is_delivered_once_per_idempotency_key(
    parts: tuple[NotificationService, FakeStore, FakeDeliveries],
) -> None:
    service, store, deliveries = parts
    command = Notify(target=Target.of_tenant("acme"), title="hi", idempotency_key="k")
    assert await service.notify(command) == ("1", NOW)
    assert await service.notify(command) == ("1", NOW)
    assert len(store.rows) == 1
    assert deliveries.sent == [
        (
            subjects.deliver_tenant("acme"),
            "notification:new",
            {
                "id": "1",
                "event": "notification",
                "title": "hi",
                "data": {},
                "priority": "normal",
                "ts": NOW,
                "status": "unread",
            },
        )
    ]


async def test_an_expiry_in_the_past_is_refused(
    parts: tuple[NotificationService, FakeStore, FakeDeliveries],
) -> None:
    service, store, _ = parts
    with pytest.raises(ServiceError) as refused:
        await service.notify(Notify(target=Target.of_tenant("a"), title="x", expires_at=NOW))
    assert refused.value.code is ErrorCode.INVALID and "future" in refused.value.message
    assert store.rows == []


async def test_marking_sends_the_new_count_to_every_socket_of_the_user(
    parts: tuple[NotificationService, FakeStore, FakeDeliveries],
) -> None:
    service, store, deliveries = parts
    await service.notify(Notify(target=Target.user("acme", "bob"), title="x"))
    deliveries.sent.clear()
    unread = await service.mark(MarkNotifications(viewer=BOB, action="read", ids=["1"]))
    assert unread == 7
    assert store.marked == [(MarkAction.READ, ["1"])]
    assert deliveries.sent == [
        (subjects.deliver_user("acme", "bob"), "notification:count", {"unread": 7})
    ]
    await service.mark(MarkNotifications(viewer=BOB, action="read", all=True))
    assert [v.user_id for v in store.read_all_by] == ["bob"]


async def test_an_id_the_user_does_not_see_is_not_found_and_nothing_is_sent(
    parts: tuple[NotificationService, FakeStore, FakeDeliveries],
) -> None:
    service, store, deliveries = parts
    with pytest.raises(ServiceError) as refused:
        await service.mark(MarkNotifications(viewer=BOB, action="dismiss", ids=["9"]))
    assert refused.value.code is ErrorCode.NOT_FOUND and "9" in refused.value.message
    assert store.marked == [] and deliveries.sent == []


async def test_app_events_go_to_the_target_under_their_own_name(
    parts: tuple[NotificationService, FakeStore, FakeDeliveries],
) -> None:
    service, store, deliveries = parts
    room = Target.of_room("acme", "room:lobby")
    assert await service.publish(AppEvent(target=room, event="course:updated", data={"a": 1}))
    assert deliveries.sent == [
        (subjects.deliver_room("acme", "course:42"), "course:updated", {"a": 1})
    ]
    assert store.rows == []


async def test_a_room_notification_is_stored_under_the_room_id_and_sent_to_its_name(
    parts: tuple[NotificationService, FakeStore, FakeDeliveries],
) -> None:
    service, store, deliveries = parts
    await service.notify(Notify(target=Target.of_room("acme", "room:lobby"), title="x"))
    assert store.rows[0].key == ("acme", "room:7")
    assert deliveries.sent[0][0] == subjects.deliver_room("acme", "course:42")
    with pytest.raises(ServiceError) as refused:
        await service.notify(Notify(target=Target.of_room("acme", "room:none"), title="x"))
    assert refused.value.code is ErrorCode.NOT_FOUND
