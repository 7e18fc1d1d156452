"""Recovery: entitlement, position checks, caps, merging rooms; the gateway's side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from contracts import subjects
from contracts.errors import ErrorCode, ServiceError
from contracts.history import StoredMessage
from contracts.identity import Identity
from contracts.ids import message_id
from contracts.messages import ChatMessage, LoggedMessage, LoggedRoomMessage, RoomMessage
from contracts.recovery import (
    MAX_ROOMS,
    RecoverChunk,
    RecoverRequest,
    RecoverRoom,
    RecoveryReason,
)
from contracts.rooms import Room
from services.gateway.recovery import held_key, requested_since, split_request
from services.persistence.domain.conversations import Target
from services.persistence.domain.recovery import plan_room, position_problem
from services.persistence.handlers import chunks
from services.persistence.ports import Bounds, Raw, TooMany
from services.persistence.service import PersistenceService

BOB = Identity(tenant="acme", user_id="bob", role="member")
ANN = Identity(tenant="acme", user_id="ann", role="admin")
EPOCH = 7


def entry(seq: int, sender: str, to: str, *, tenant: str = "acme", supervised: bool = False) -> Raw:
    message = LoggedMessage(
        tenant=tenant,
        sender=Identity(tenant=tenant, user_id=sender, role="member"),
        to=to,
        body=f"m{seq}",
        ts=seq,
        supervised=supervised,
    )
    subject = subjects.log_dm(tenant, sender, to)
    return Raw(seq, subject, message.model_dump_json().encode())


@dataclass
class FakeLog:
    entries: list[Raw]
    first_seq: int = 1
    reads: list[tuple[tuple[str, ...], int, int]] = field(default_factory=list)

    async def bounds(self) -> Bounds:
        return Bounds(self.first_seq, max((e.seq for e in self.entries), default=0))

    async def read(self, filters: Sequence[str], start_seq: int, limit: int) -> list[Raw]:
        self.reads.append((tuple(filters), start_seq, limit))
        tenant, kind = filters[0].split(".")[3:5]
        found = []
        for e in self.entries:
            parts = e.subject.split(".")
            if e.seq < start_seq or parts[3] != tenant or parts[4] != kind:
                continue
            if len(filters) == 2 and filters[0].split(".")[5] not in (parts[5], parts[6]):
                continue
            found.append(e)
        if len(found) > limit:
            raise TooMany(str(len(found)))
        return found


class NoStore:
    async def insert(self, rows: Sequence[object]) -> int:
        raise AssertionError("not used")

    async def page(self, target: Target, before: str | None, limit: int) -> list[StoredMessage]:
        raise AssertionError("not used")


def service(log: FakeLog, cap: int = 100) -> PersistenceService:
    return PersistenceService(NoStore(), log, EPOCH, recover_max=cap, scan_factor=3)


def request(who: Identity, **rooms: int) -> RecoverRequest:
    return RecoverRequest(
        identity=who,
        rooms=[RecoverRoom(room=r.replace("__", ":"), after=a) for r, a in rooms.items()],
    )


async def test_replays_what_the_user_missed_in_order_with_room_and_seq() -> None:
    log = FakeLog(
        [
            entry(1, "alice", "bob"),
            entry(2, "bob", "alice"),
            entry(3, "alice", "carol"),
            entry(4, "alice", "bob"),
        ]
    )
    messages, outcomes = await service(log).recover(request(BOB, user__bob=1))
    assert [m.seq for m in messages] == [2, 4]
    assert all(m.room == "user:bob" for m in messages)
    assert messages[0].id == message_id(EPOCH, 2)
    assert messages[1].from_ == "alice" and messages[1].to == "bob"
    assert [o.model_dump(exclude_none=True) for o in outcomes] == [
        {"room": "user:bob", "recovered": True, "replayed": 2}
    ]


async def test_a_room_the_user_may_not_recover_is_unknown() -> None:
    log = FakeLog([entry(1, "alice", "bob")])
    _, outcomes = await service(log).recover(
        request(BOB, user__alice=0, tenant__acme__admins=0, tenant__acme=0)
    )
    assert [o.reason for o in outcomes] == [RecoveryReason.UNKNOWN_ROOM] * 3
    assert log.reads == []


async def test_too_many_missed_messages_are_refused_before_reading_them() -> None:
    log = FakeLog([entry(seq, "alice", "bob") for seq in range(1, 12)])
    messages, outcomes = await service(log, cap=10).recover(request(BOB, user__bob=0))
    assert messages == []
    assert outcomes[0].recovered is False and outcomes[0].reason == RecoveryReason.TOO_MANY


async def test_a_position_the_log_no_longer_covers_is_too_old() -> None:
    log = FakeLog([entry(seq, "alice", "bob") for seq in range(5, 8)], first_seq=5)
    _, outcomes = await service(log).recover(request(BOB, user__bob=2))
    assert outcomes[0].reason == RecoveryReason.TOO_OLD
    _, outcomes = await service(log).recover(request(BOB, user__bob=4))
    assert outcomes[0].recovered is True and outcomes[0].replayed == 3


def test_position_checks() -> None:
    assert position_problem(after=0, first_seq=1, last_seq=0) is None
    assert position_problem(after=9, first_seq=10, last_seq=20) is None
    assert position_problem(after=8, first_seq=10, last_seq=20) == RecoveryReason.TOO_OLD
    assert position_problem(after=21, first_seq=10, last_seq=20) == RecoveryReason.TOO_OLD


async def test_an_admin_gets_each_message_once_across_rooms() -> None:
    log = FakeLog(
        [
            entry(1, "bob", "ann", supervised=True),
            entry(2, "bob", "carol", supervised=True),
            entry(3, "carol", "dave"),
            entry(4, "bob", "carol", tenant="globex", supervised=True),
        ]
    )
    messages, outcomes = await service(log).recover(
        request(ANN, user__ann=0, tenant__acme__admins=0)
    )
    assert [(m.seq, m.room) for m in messages] == [(1, "user:ann"), (2, "tenant:acme:admins")]
    assert [(o.room, o.replayed) for o in outcomes] == [("user:ann", 1), ("tenant:acme:admins", 1)]


def test_only_admins_recover_the_admins_room_and_only_their_own() -> None:
    assert plan_room(ANN, "tenant:acme:admins") is not None
    assert plan_room(ANN, "tenant:globex:admins") is None
    assert plan_room(BOB, "tenant:acme:admins") is None
    plan = plan_room(BOB, "user:bob")
    assert plan is not None and set(plan.filters) == set(subjects.log_dm_of_user("acme", "bob"))


def test_chunks_stay_under_the_size_and_keep_order() -> None:
    msgs = [
        ChatMessage(
            id=str(i), tenant="t", from_="a", to="b", body="x" * 1000, ts=1, room="r", seq=i
        )
        for i in range(100)
    ]
    parts = list(chunks(msgs, 20_000))
    assert len(parts) > 1
    assert [m.seq for part in parts for m in part] == list(range(100))
    assert all(encoded(part) <= 20_000 for part in parts)


def encoded(part: Sequence[ChatMessage]) -> int:
    return len(RecoverChunk(messages=list(part)).model_dump_json(by_alias=True))


def test_chunks_bound_the_real_size_of_the_worst_messages() -> None:
    """Control characters escape to six bytes and ids may be 1 KiB of UTF-8 each."""
    worst = [
        ChatMessage(
            id=str(i),
            tenant="\U0001f3e2" * 128,
            from_="\U0001f600" * 255,
            to="\U0001f680" * 255,
            body="\x01" * 8192 if i % 2 else "x",
            ts=1,
            room="user:" + "\U0001f680" * 255,
            seq=i,
        )
        for i in range(400)
    ]
    parts = list(chunks(worst, 256 * 1024))
    assert [m.seq for part in parts for m in part] == list(range(400))
    assert all(encoded(part) <= 256 * 1024 for part in parts)


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"token": "x"}, None),
        (None, None),
        ({"token": "x", "since": "nope"}, {}),
        ({"token": "x", "since": {"user:bob": 3}}, {"user:bob": 3}),
    ],
)
def test_since_is_read_from_the_handshake(auth: object, expected: object) -> None:
    assert requested_since(auth) == expected


def test_the_gateway_refuses_rooms_the_socket_is_not_in_or_bad_positions() -> None:
    split = split_request(
        {"user:bob": 4, "user:alice": 1, "tenant:acme": -1, "x": True, "y": "3"},
        ["user:bob", "tenant:acme"],
        explicit=True,
    )
    assert [(r.room, r.after) for r in split.auto] == [("user:bob", 4)]
    assert split.explicit == []
    assert sorted(split.refused) == ["tenant:acme", "user:alice", "x", "y"]
    assert {o.reason for o in split.refused.values()} == {RecoveryReason.UNKNOWN_ROOM}


def test_explicit_rooms_are_left_to_the_rooms_service_within_the_room_bound() -> None:
    since = {"room:crew": 3, "event:42": 0, "room:bad name": 1, "manage:global": 0}
    split = split_request(since, ["user:bob"], explicit=True)
    assert [(r.room, r.after) for r in split.explicit] == [("room:crew", 3), ("event:42", 0)]
    assert sorted(split.refused) == ["manage:global", "room:bad name"]
    on_manage = split_request({"room:crew": 3}, ["user:bob"], explicit=False)
    assert on_manage.explicit == [] and list(on_manage.refused) == ["room:crew"]
    many = split_request(
        {"user:bob": 0, **{f"room:r{i}": 0 for i in range(MAX_ROOMS)}}, ["user:bob"], explicit=True
    )
    assert len(many.auto) + len(many.explicit) == MAX_ROOMS
    assert list(many.refused) == [f"room:r{MAX_ROOMS - 1}"]


def test_held_deliveries_are_matched_by_seq_and_room() -> None:
    assert held_key("chat:message", b'{"id": "a", "seq": 12}') == (12, None)
    crew = Room.explicit("acme", "room:crew").subject
    room_message = b'{"tenant": "acme", "room": "room:crew", "seq": 12}'
    assert held_key("room:message", room_message) == (12, crew)
    assert held_key("user:online", b'{"seq": 12}') is None
    assert held_key("chat:message", b"[]") is None


# explicit rooms ------------------------------------------------------------------


def room_entry(seq: int, sender: str, room: str, *, tenant: str = "acme") -> Raw:
    message = LoggedRoomMessage(
        tenant=tenant,
        sender=Identity(tenant=tenant, user_id=sender, role="member"),
        room=room,
        body=f"m{seq}",
        ts=seq,
    )
    return Raw(seq, subjects.log_room(tenant, room), message.model_dump_json().encode())


@dataclass
class FakeRoomLog(FakeLog):
    """Reads a room's exact subject; wildcard (direct message) filters as `FakeLog`."""

    async def read(self, filters: Sequence[str], start_seq: int, limit: int) -> list[Raw]:
        if any("*" in f for f in filters):
            return await super().read(filters, start_seq, limit)
        self.reads.append((tuple(filters), start_seq, limit))
        found = [e for e in self.entries if e.seq >= start_seq and e.subject in filters]
        if len(found) > limit:
            raise TooMany(str(len(found)))
        return found


@dataclass
class FakeRooms:
    """The rooms service's authorization: who may read which canonical room."""

    readers: dict[str, set[str]]
    log: FakeLog
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, who: Identity, tenant: str, room: str) -> str:
        self.asked.append((room, len(self.log.reads)))
        if room not in self.readers:
            raise ServiceError(ErrorCode.NOT_FOUND, "no such room")
        if who.user_id not in self.readers[room]:
            raise ServiceError(ErrorCode.FORBIDDEN, "not a member")
        return room


def explicit(room: str, after: int, canonical: str | None = None) -> RecoverRoom:
    return RecoverRoom(room=room, after=after, canonical=canonical or room)


async def test_explicit_rooms_replay_room_messages_merged_with_direct_ones_in_log_order() -> None:
    log = FakeRoomLog(
        [
            room_entry(1, "ann", "room:crew"),
            entry(2, "alice", "bob"),
            room_entry(3, "ann", "room:crew"),
            room_entry(4, "ann", "room:other"),
            room_entry(5, "ann", "room:crew", tenant="globex"),
            entry(6, "alice", "bob"),
        ]
    )
    rooms = FakeRooms({"room:crew": {"bob"}, "room:other": set()}, log)
    svc = PersistenceService(NoStore(), log, EPOCH, 100, 3, rooms)
    ask = RecoverRequest(identity=BOB, rooms=[explicit("room:crew", 0)])
    messages, outcomes = await svc.recover(ask)
    assert [(type(m).__name__, m.seq) for m in messages] == [
        ("RoomMessage", 1),
        ("RoomMessage", 3),
    ]
    first = messages[0]
    assert isinstance(first, RoomMessage)
    assert first.model_dump(by_alias=True) == {
        "id": message_id(EPOCH, 1),
        "tenant": "acme",
        "room": "room:crew",
        "from": "ann",
        "body": "m1",
        "ts": 1,
        "seq": 1,
    }
    assert [o.model_dump(exclude_none=True) for o in outcomes] == [
        {"room": "room:crew", "recovered": True, "replayed": 2}
    ]
    assert rooms.asked == [("room:crew", 1)], "authorized once, after the read"


async def test_an_explicit_room_asked_by_its_slug_is_read_under_its_canonical_name() -> None:
    log = FakeRoomLog([room_entry(1, "ann", "event:42"), entry(2, "alice", "bob")])
    rooms = FakeRooms({"event:42": {"bob"}}, log)
    svc = PersistenceService(NoStore(), log, EPOCH, 100, 3, rooms)
    both = [RecoverRoom(room="user:bob", after=0), explicit("room:party", 0, "event:42")]
    messages, outcomes = await svc.recover(RecoverRequest(identity=BOB, rooms=both))
    assert [(m.seq, m.room) for m in messages] == [(1, "event:42"), (2, "user:bob")]
    assert [(o.room, o.replayed) for o in outcomes] == [("user:bob", 1), ("room:party", 1)]


async def test_an_explicit_room_the_user_may_no_longer_read_replays_nothing() -> None:
    log = FakeRoomLog([room_entry(seq, "ann", "room:crew") for seq in range(1, 4)])
    rooms = FakeRooms({"room:crew": {"ann"}}, log)
    svc = PersistenceService(NoStore(), log, EPOCH, 2, 3, rooms)
    ask = [explicit("room:crew", 0), explicit("room:gone", 0)]
    messages, outcomes = await svc.recover(RecoverRequest(identity=BOB, rooms=ask))
    assert messages == []
    assert [(o.room, o.recovered, o.reason) for o in outcomes] == [
        ("room:crew", False, RecoveryReason.FORBIDDEN),
        ("room:gone", False, RecoveryReason.NOT_FOUND),
    ], "a refusal wins over too_many: nothing about the room is told"


async def test_explicit_rooms_need_the_rooms_service_and_never_name_an_automatic_room() -> None:
    log = FakeRoomLog([room_entry(1, "ann", "room:crew")])
    ask = RecoverRequest(
        identity=BOB, rooms=[explicit("room:crew", 0), explicit("x", 0, "user:alice")]
    )
    messages, outcomes = await service(log).recover(ask)
    assert messages == [] and log.reads == []
    assert {o.reason for o in outcomes} == {RecoveryReason.UNKNOWN_ROOM}
