"""room:send in the rooms service (services/rooms/room_send.py) and room-name validation."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from contracts import delivery, subjects
from contracts import explicit_rooms as x
from contracts.client import RoomIn, RoomSendIn
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.ids import message_id
from contracts.messages import LoggedRoomMessage, RoomSend
from contracts.rooms import Room
from services.rooms.explicit import ExplicitRooms
from services.rooms.ports import Appended
from services.rooms.room_send import RoomMessages
from tests.unit.test_explicit_rooms_service import MemoryRooms, RecordedRevocations

T = "acme"
ADMIN = Identity(tenant=T, user_id="boss", role="admin")
ANN = Identity(tenant=T, user_id="ann", role="member")
EVE = Identity(tenant=T, user_id="eve", role="member")


class RoomLogFake:
    def __init__(self) -> None:
        self.entries: list[tuple[str, LoggedRoomMessage]] = []
        self.keys: dict[str, int] = {}

    async def append(self, subject: str, message: BaseModel, dedup_key: str | None) -> Appended:
        if dedup_key and dedup_key in self.keys:
            return Appended(seq=self.keys[dedup_key], duplicate=True)
        assert isinstance(message, LoggedRoomMessage)
        self.entries.append((subject, message))
        if dedup_key:
            self.keys[dedup_key] = len(self.entries)
        return Appended(seq=len(self.entries), duplicate=False)

    async def read_room(self, seq: int) -> LoggedRoomMessage:
        return self.entries[seq - 1][1]


Published = list[tuple[str, dict[str, str], bytes]]


async def setup(
    visibility: x.Visibility,
) -> tuple[RoomMessages, RoomLogFake, Published, ExplicitRooms]:
    rooms = ExplicitRooms(MemoryRooms(), RecordedRevocations())
    await rooms.create(
        x.CreateRoom(identity=ADMIN, tenant=T, name="Crew", slug="crew", visibility=visibility)
    )
    await rooms.add_member(x.AddMember(identity=ADMIN, tenant=T, room="crew", user_id="ann"))
    log, published = RoomLogFake(), []

    async def publish(subject: str, body: bytes, headers: dict[str, str]) -> None:
        published.append((subject, headers, body))

    return RoomMessages(rooms, log, publish, epoch=7), log, published, rooms


def send(who: Identity, room: str = "room:crew", client_id: str | None = None) -> RoomSend:
    return RoomSend(sender=who, tenant=T, room=room, body="hi", client_id=client_id, sid="s1")


async def test_a_member_posts_once_to_the_rooms_subject_skipping_the_sender() -> None:
    messages, log, published, _ = await setup(x.Visibility.PRIVATE)
    ack = await messages.send(send(ANN, client_id="k"))
    assert (ack.ok, ack.id, ack.seq, ack.room) == (True, message_id(7, 1), 1, "room:crew")
    assert log.entries[0][0] == subjects.log_room(T, "room:crew")
    [(subject, headers, body)] = published
    assert subject == Room.explicit(T, "room:crew").subject
    item = delivery.decode(headers, body)
    assert (item.event, item.skip_sid) == ("room:message", "s1")
    assert orjson.loads(body) == {
        "id": ack.id,
        "tenant": T,
        "room": "room:crew",
        "from": "ann",
        "body": "hi",
        "ts": ack.ts,
        "seq": 1,
    }
    retry = await messages.send(send(ANN, client_id="k"))
    assert retry == ack and len(published) == 1


@pytest.mark.parametrize("visibility", list(x.Visibility))
async def test_a_non_member_may_not_post(visibility: x.Visibility) -> None:
    messages, log, published, _ = await setup(visibility)
    with pytest.raises(ServiceError) as caught:
        await messages.send(send(EVE))
    expected = ErrorCode.FORBIDDEN if visibility is x.Visibility.PUBLIC else ErrorCode.NOT_FOUND
    assert caught.value.code is expected
    assert log.entries == [] and published == []


async def test_archived_rooms_refuse_posts_and_automatic_rooms_are_forbidden() -> None:
    messages, log, _, rooms = await setup(x.Visibility.PRIVATE)
    with pytest.raises(ServiceError) as auto:
        await messages.send(send(ANN, room="user:bob"))
    assert auto.value.code is ErrorCode.FORBIDDEN
    await rooms.delete(x.DeleteRoom(identity=ADMIN, tenant=T, room="crew"))
    with pytest.raises(ServiceError) as archived:
        await messages.send(send(ANN))
    assert archived.value.code is ErrorCode.FORBIDDEN and log.entries == []


@pytest.mark.parametrize("name", ["room:lobby", "event:42", "course:a-b_c.d", "x:" + "y" * 128])
def test_room_names_accepted(name: str) -> None:
    assert RoomIn(room=name).room == name
    assert RoomSendIn(room=name, body="b").room == name


@pytest.mark.parametrize(
    "name", ["lobby", "room:", ":x", "Room:x", "1x:y", "room:a b", "room:a\x01", "x:" + "y" * 129]
)
def test_room_names_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        RoomIn(room=name)
    with pytest.raises(ValidationError):
        RoomSendIn(room=name, body="b")


def test_room_send_refuses_unknown_fields_and_nul_bodies() -> None:
    with pytest.raises(ValidationError):
        RoomSendIn.model_validate({"room": "room:x", "body": "b", "to": "bob"})
    with pytest.raises(ValidationError):
        RoomSendIn(room="room:x", body="a\x00b")
    assert (
        RoomSendIn.model_validate({"room": "room:x", "body": "b", "clientId": "k"}).client_id == "k"
    )


def test_a_revoking_delivery_round_trips_and_refuses_a_malformed_header() -> None:
    headers, body = delivery.encode("room:left", {"room": "room:x"}, revoke=[("t", "u,1")])
    item = delivery.decode(headers, body)
    assert item.revokes and not item.revoke_all
    assert item.revoke_users == frozenset({("t", "u,1")})
    everyone = delivery.decode(*delivery.encode("room:left", {}, revoke=[]))
    assert everyone.revokes and everyone.revoke_all
    assert not delivery.decode(*delivery.encode("room:message", {})).revokes
    for bad in ("not json", '[["only-one"]]', '{"t": "u"}'):
        with pytest.raises(ValueError, match="Rc-Revoke"):
            delivery.decode({delivery.EVENT: "room:left", delivery.REVOKE: bad}, b"{}")
