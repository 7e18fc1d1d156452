"""How the rooms service settles entity event deliveries, and what it revokes (fakes)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import subjects
from contracts.entities import AnyEntityEvent, EntityEvent
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import MemberRole, MemberView, RoomStatus, RoomView, Visibility
from contracts.messages import LeftReason
from services.rooms.domain.entity_state import (
    ABSENT,
    Decision,
    EntityState,
    MemberState,
)
from services.rooms.entities import EntityEvents, EntityLifecycle
from services.rooms.ports import Decide, Delivery

E = {"tenant": "acme", "type": "event", "id": "42"}
SUBJECT = subjects.entity_event("acme", "event", "42")


class FakeDelivery:
    def __init__(self, body: dict[str, Any] | bytes, deliveries: int = 1, subject: str = SUBJECT):
        self.subject = subject
        self.data = (
            body
            if isinstance(body, bytes)
            else EntityEvent.model_validate({**E, **body}).model_dump_json(by_alias=True).encode()
        )
        self.seq = 7
        self.deliveries = deliveries
        self.settled: list[Any] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float) -> None:
        self.settled.append(("nak", delay))


class FakeStore:
    """Registers in memory; `fail` makes the next apply raise it."""

    def __init__(self, visibility: Visibility = Visibility.PRIVATE) -> None:
        self.state = EntityState()
        self.members: dict[str, MemberState] = {}
        self.fail: Exception | None = None
        self.visibility = visibility

    async def apply(
        self, event: AnyEntityEvent, users: list[str], decide: Decide
    ) -> tuple[Decision, RoomView | None]:
        if self.fail is not None:
            raise self.fail
        decision = decide(self.state, {u: self.members.get(u, ABSENT) for u in users})
        self.state = decision.entity
        self.members.update(decision.members)
        room = None
        if self.state.created:
            room = RoomView(
                id=1,
                room=event.room,
                slug="event-42",
                name=self.state.name or "",
                status=RoomStatus.ACTIVE,
                visibility=self.visibility,
                tenant="acme",
                created_at="",
                updated_at="",
            )
        return decision, room


class FakeRevocations:
    def __init__(self) -> None:
        self.sent: list[tuple[str, LeftReason, list[tuple[str, str]]]] = []
        self.kept: list[list[tuple[str, str]] | None] = []

    async def room_left(
        self,
        tenant: str,
        room: str,
        reason: LeftReason,
        users: list[tuple[str, str]],
        keep: list[tuple[str, str]] | None = None,
    ) -> None:
        self.sent.append((room, reason, users))
        self.kept.append(keep)


class FakeRoomMembers:
    """The primary room's members, as `RoomStore.list_members` pages them."""

    def __init__(self, members: FakeStore) -> None:
        self.members = members

    async def list_members(
        self, tenant: str, room_id: int, after: str | None, limit: int
    ) -> list[MemberView]:
        users = sorted(u for u, m in self.members.members.items() if m.present)
        users = [u for u in users if after is None or u > after][:limit]
        return [MemberView(user_id=u, role=MemberRole.MEMBER, joined_at="") for u in users]


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[str] = []

    async def send(self, delivery: Delivery, reason: str) -> None:
        self.letters.append(reason)


def build(
    visibility: Visibility = Visibility.PRIVATE,
) -> tuple[EntityEvents, FakeStore, FakeRevocations, FakeDeadLetters]:
    store, revocations, dead = FakeStore(visibility), FakeRevocations(), FakeDeadLetters()
    lifecycle = EntityLifecycle(store, revocations, FakeRoomMembers(store))  # type: ignore[arg-type]
    events = EntityEvents(lifecycle, dead, max_deliveries=3)
    return events, store, revocations, dead


async def test_an_applied_event_is_acked() -> None:
    events, store, _, dead = build()
    delivery = FakeDelivery({"event": "created", "name": "Party", "occurredAt": 1})
    await events.handle(delivery)
    assert delivery.settled == ["ack"] and store.state.name == "Party" and not dead.letters


@pytest.mark.parametrize(
    ("body", "subject", "reason"),
    [
        (b"not json", SUBJECT, "not an entity event"),
        (b'{"event": "exploded", "tenant": "acme"}', SUBJECT, "not an entity event: "),
        (b'{"event": "created", "tenant": "acme", "type": "event", "id": "42"}', SUBJECT,
         "not an entity event: created.name: Field required"),
        ({"event": "deleted"}, subjects.entity_event("other", "event", "42"), "published on "),
    ],
)  # fmt: skip
async def test_poison_is_dead_lettered_at_once(body: Any, subject: str, reason: str) -> None:
    events, store, _, dead = build()
    delivery = FakeDelivery(body, subject=subject)
    await events.handle(delivery)
    assert delivery.settled == ["ack"]
    assert len(dead.letters) == 1 and dead.letters[0].startswith(reason), dead.letters
    assert store.state == EntityState()


async def test_an_unavailable_store_is_retried_with_back_off_and_never_given_up() -> None:
    events, store, _, dead = build()
    store.fail = ServiceError(ErrorCode.UNAVAILABLE, "down")
    delays = []
    for n in range(1, 10):
        delivery = FakeDelivery({"event": "deleted"}, deliveries=n)
        await events.handle(delivery)
        [(kind, delay)] = delivery.settled
        assert kind == "nak"
        delays.append(delay)
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert dead.letters == []


async def test_a_failing_event_is_retried_then_dead_lettered() -> None:
    events, store, _, dead = build()
    store.fail = RuntimeError("bug")
    first, last = FakeDelivery({"event": "deleted"}, 1), FakeDelivery({"event": "deleted"}, 3)
    await events.handle(first)
    await events.handle(last)
    assert first.settled == [("nak", 0.5)] and last.settled == ["ack"]
    assert dead.letters == ["failed 3 times: RuntimeError: bug"]


async def test_removal_and_deletion_revoke_and_a_redelivery_revokes_again() -> None:
    events, _, revocations, _ = build()
    for body in (
        {"event": "created", "name": "Party", "occurredAt": 1},
        {"event": "member_added", "userId": "ann", "occurredAt": 2},
        {"event": "member_removed", "userId": "ann", "occurredAt": 3},
        {"event": "member_removed", "userId": "ann", "occurredAt": 3},
        {"event": "member_removed", "userId": "ann", "occurredAt": 1},
        {"event": "deleted", "occurredAt": 4},
    ):
        await events.handle(FakeDelivery(body))
    removed = ("event:42", LeftReason.REMOVED, [("acme", "ann")])
    assert revocations.sent == [removed, removed, ("event:42", LeftReason.ARCHIVED, [])]


async def test_a_public_room_keeps_removed_members_sockets_and_no_room_no_revocation() -> None:
    events, _, revocations, _ = build(Visibility.PUBLIC)
    await events.handle(FakeDelivery({"event": "member_removed", "userId": "ann"}))
    await events.handle(FakeDelivery({"event": "created", "name": "Party"}))
    await events.handle(FakeDelivery({"event": "member_removed", "userId": "bob"}))
    assert revocations.sent == []


async def test_a_room_left_that_cannot_be_sent_is_retried_not_dead_lettered() -> None:
    events, _, revocations, dead = build()

    async def broken(*args: Any) -> None:
        raise ConnectionError("nats is gone")

    await events.handle(FakeDelivery({"event": "created", "name": "Party", "occurredAt": 1}))
    revocations.room_left = broken  # type: ignore[method-assign]
    delivery = FakeDelivery({"event": "deleted", "occurredAt": 2}, deliveries=9)
    await events.handle(delivery)
    assert delivery.settled == [("nak", 30.0)] and dead.letters == []


async def test_an_entity_made_private_takes_out_everyone_but_its_members() -> None:
    events, store, revocations, _ = build(Visibility.PUBLIC)
    created = {"event": "created", "name": "Party", "visibility": "public", "createdBy": "ann"}
    await events.handle(FakeDelivery({**created, "occurredAt": 1}))
    await events.handle(FakeDelivery({"event": "member_added", "userId": "bob", "occurredAt": 2}))
    assert revocations.sent == []
    store.visibility = Visibility.PRIVATE
    await events.handle(
        FakeDelivery({"event": "updated", "visibility": "private", "occurredAt": 3})
    )
    assert revocations.sent == [("event:42", LeftReason.PRIVATE, [])]
    assert revocations.kept == [[("acme", "ann"), ("acme", "bob")]]
    await events.handle(FakeDelivery({"event": "updated", "name": "Renamed", "occurredAt": 4}))
    stale = {"event": "updated", "visibility": "private", "occurredAt": 3}
    await events.handle(FakeDelivery(stale))
    assert len(revocations.sent) == 1, "no change of visibility: nobody else to take out"
