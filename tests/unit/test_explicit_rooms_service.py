"""Use cases of explicit rooms (services/rooms/explicit.py) against an in-memory store."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import explicit_rooms as x
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.messages import LeftReason
from services.rooms.explicit import ExplicitRooms
from services.rooms.ports import NewRoom, RoomAccess, RoomQuery

NOW = "2026-01-01T00:00:00+00:00"


class MemoryRooms:
    """Just enough of `ports.RoomStore` for the use cases, one tenant per key."""

    def __init__(self) -> None:
        self.rooms: dict[int, x.RoomView] = {}
        self.members: dict[tuple[int, str], x.MemberRole] = {}
        self.queries: list[RoomQuery] = []

    async def create_room(self, tenant: str, room: NewRoom, admin: str | None) -> x.RoomView:
        if any(r.tenant == tenant and r.slug == room.slug for r in self.rooms.values()):
            raise ServiceError(ErrorCode.CONFLICT, "slug already taken")
        view = x.RoomView(
            id=len(self.rooms) + 1,
            room=f"room:{room.slug}",
            slug=room.slug,
            name=room.name,
            status=x.RoomStatus.ACTIVE,
            visibility=room.visibility,
            tenant=tenant,
            created_by=room.created_by,
            created_at=NOW,
            updated_at=NOW,
            settings=room.settings,
        )
        self.rooms[view.id] = view
        if admin is not None:
            self.members[(view.id, admin)] = x.MemberRole.ADMIN
        return view

    async def find_room(
        self, tenant: str, *, room_id: int | None = None, slug: str | None = None
    ) -> x.RoomView | None:
        for r in self.rooms.values():
            if r.tenant == tenant and (r.id == room_id or r.slug == slug):
                return r
        return None

    async def list_rooms(self, tenant: str, query: RoomQuery) -> list[x.RoomView]:
        self.queries.append(query)
        rooms = [r for r in self.rooms.values() if r.tenant == tenant]
        return [r for r in rooms if query.after is None or r.id > query.after][: query.limit]

    async def update_room(
        self, tenant: str, room_id: int, changes: dict[str, Any], settings: dict[str, Any] | None
    ) -> x.RoomView:
        room = self.rooms[room_id].model_copy(update=changes)
        self.rooms[room_id] = room
        return room

    async def member_role(self, tenant: str, room_id: int, user_id: str) -> x.MemberRole | None:
        return self.members.get((room_id, user_id))

    async def put_member(
        self, tenant: str, room_id: int, user_id: str, role: x.MemberRole, *, replace: bool
    ) -> x.MemberView:
        if replace or (room_id, user_id) not in self.members:
            self.members[(room_id, user_id)] = role
        return x.MemberView(user_id=user_id, role=self.members[(room_id, user_id)], joined_at=NOW)

    async def remove_member(self, tenant: str, room_id: int, user_id: str) -> bool:
        return self.members.pop((room_id, user_id), None) is not None

    async def find_primary(self, tenant: str, entity_type: str, entity_id: str) -> None:
        return None

    async def access(self, tenant: str, kind: str, key: str, user_id: str) -> RoomAccess | None:
        room = await self.find_room(tenant, slug=key) if kind == x.ROOM_KIND else None
        if room is None:
            return None
        return RoomAccess(
            id=room.id,
            room=room.room,
            status=room.status,
            visibility=room.visibility,
            role=self.members.get((room.id, user_id)),
        )

    async def list_members(
        self, tenant: str, room_id: int, after: str | None, limit: int
    ) -> list[x.MemberView]:
        users = sorted(u for r, u in self.members if r == room_id and (after is None or u > after))
        return [
            x.MemberView(user_id=u, role=self.members[(room_id, u)], joined_at=NOW)
            for u in users[:limit]
        ]

    async def link(
        self, tenant: str, room_id: int, entity_type: str, entity_id: str, primary: bool
    ) -> x.EntityLink:
        raise NotImplementedError

    async def unlink(self, tenant: str, link_id: int) -> bool:
        raise NotImplementedError

    async def entity_rooms(self, tenant: str, entity_type: str, entity_id: str) -> list[x.RoomView]:
        raise NotImplementedError


ADMIN = Identity(tenant="acme", user_id="boss", role="admin")
ANN = Identity(tenant="acme", user_id="ann", role="member")
ROOT = Identity(tenant="ops", user_id="root", role="super_admin")


class RecordedRevocations:
    """Every `room:left` the use cases asked for."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, LeftReason, list[tuple[str, str]]]] = []
        self.kept: list[list[tuple[str, str]] | None] = []

    async def room_left(
        self,
        tenant: str,
        room: str,
        reason: LeftReason,
        users: list[tuple[str, str]],
        keep: list[tuple[str, str]] | None = None,
    ) -> None:
        self.sent.append((tenant, room, reason, users))
        self.kept.append(keep)


def use_cases() -> tuple[ExplicitRooms, MemoryRooms]:
    store = MemoryRooms()
    return ExplicitRooms(store, RecordedRevocations()), store


async def test_ending_a_membership_or_the_room_revokes_live_sockets() -> None:
    revoked = RecordedRevocations()
    rooms = ExplicitRooms(MemoryRooms(), revoked)
    for slug, visibility in (("secret", x.Visibility.PRIVATE), ("lobby", x.Visibility.PUBLIC)):
        await rooms.create(
            x.CreateRoom(identity=ADMIN, tenant="acme", name=slug, slug=slug, visibility=visibility)
        )
        await rooms.add_member(x.AddMember(identity=ADMIN, tenant="acme", room=slug, user_id="ann"))
        await rooms.remove_member(
            x.RemoveMember(identity=ADMIN, tenant="acme", room=slug, user_id="ann")
        )
    # a public room stays readable by the tenant: nobody is taken out of it
    assert revoked.sent == [("acme", "room:secret", LeftReason.REMOVED, [("acme", "ann")])]
    await rooms.add_member(x.AddMember(identity=ADMIN, tenant="acme", room="secret", user_id="ann"))
    await rooms.leave(x.LeaveRoom(identity=ANN, tenant="acme", room="secret"))
    assert revoked.sent[-1] == ("acme", "room:secret", LeftReason.REMOVED, [("acme", "ann")])
    await rooms.delete(x.DeleteRoom(identity=ADMIN, tenant="acme", room="lobby"))
    assert revoked.sent[-1] == ("acme", "room:lobby", LeftReason.ARCHIVED, [])
    await rooms.delete(x.DeleteRoom(identity=ADMIN, tenant="acme", room="lobby", permanent=True))
    assert revoked.sent[-1] == ("acme", "room:lobby", LeftReason.DELETED, [])
    before = len(revoked.sent)
    await rooms.update(
        x.UpdateRoom(identity=ADMIN, tenant="acme", room="secret", status=x.RoomStatus.ARCHIVED)
    )
    assert revoked.sent[before:] == [("acme", "room:secret", LeftReason.ARCHIVED, [])]


async def test_the_creator_is_the_rooms_admin_but_not_a_super_admin_elsewhere() -> None:
    rooms, store = use_cases()
    mine = await rooms.create(x.CreateRoom(identity=ADMIN, tenant="acme", name="Lobby"))
    theirs = await rooms.create(
        x.CreateRoom(identity=ROOT, tenant="acme", name="Ops room", via_manage=True)
    )
    assert (mine.slug, theirs.slug) == ("lobby", "ops-room")
    assert store.members == {(mine.id, "boss"): x.MemberRole.ADMIN}


async def test_unarchive_and_rename_in_one_update_but_not_rename_while_archived() -> None:
    rooms, store = use_cases()
    room = await rooms.create(x.CreateRoom(identity=ADMIN, tenant="acme", name="Lobby"))
    store.rooms[room.id] = room.model_copy(update={"status": x.RoomStatus.ARCHIVED})
    base: dict[str, Any] = {"identity": ADMIN, "tenant": "acme", "room": "lobby"}
    with pytest.raises(ServiceError) as err:
        await rooms.update(x.UpdateRoom(**base, name="Hall"))
    assert err.value.code == ErrorCode.FORBIDDEN
    done = await rooms.update(x.UpdateRoom(**base, name="Hall", status=x.RoomStatus.ACTIVE))
    assert (done.name, done.status) == ("Hall", x.RoomStatus.ACTIVE)
    with pytest.raises(ServiceError) as err:
        await rooms.update(x.UpdateRoom(**base, status=x.RoomStatus.DELETED))
    assert err.value.code == ErrorCode.INVALID


async def test_lists_page_with_a_cursor_and_admins_see_every_room() -> None:
    rooms, store = use_cases()
    for name in ("a", "b", "c"):
        await rooms.create(x.CreateRoom(identity=ADMIN, tenant="acme", name=name))
    first, after = await rooms.list_rooms(x.ListRooms(identity=ADMIN, tenant="acme", limit=2))
    assert [r.slug for r in first] == ["a", "b"] and after == "2"
    rest, end = await rooms.list_rooms(
        x.ListRooms(identity=ADMIN, tenant="acme", limit=2, cursor=after)
    )
    assert [r.slug for r in rest] == ["c"] and end is None
    await rooms.list_rooms(x.ListRooms(identity=ANN, tenant="acme"))
    assert [q.viewer for q in store.queries] == [None, None, "ann"]
    with pytest.raises(ServiceError) as err:
        await rooms.list_rooms(x.ListRooms(identity=ADMIN, tenant="acme", cursor="-1"))
    assert err.value.code == ErrorCode.INVALID


@pytest.mark.parametrize("key", ["99", "9" * 40, "no-such", "Not_A_Slug"])
async def test_unknown_rooms_are_not_found(key: str) -> None:
    rooms, _ = use_cases()
    with pytest.raises(ServiceError) as err:
        await rooms.get(x.GetRoom(identity=ANN, tenant="acme", room=key))
    assert err.value.code == ErrorCode.NOT_FOUND


async def test_joining_twice_keeps_the_first_role() -> None:
    rooms, store = use_cases()
    room = await rooms.create(
        x.CreateRoom(identity=ADMIN, tenant="acme", name="Town", visibility=x.Visibility.PUBLIC)
    )
    store.members[(room.id, "ann")] = x.MemberRole.MODERATOR
    joined = await rooms.join(x.JoinRoom(identity=ANN, tenant="acme", room="town"))
    assert joined.role == x.MemberRole.MODERATOR


async def test_turning_a_room_private_takes_out_everyone_but_its_members() -> None:
    revoked = RecordedRevocations()
    rooms = ExplicitRooms(MemoryRooms(), revoked)
    public = x.Visibility.PUBLIC
    await rooms.create(
        x.CreateRoom(identity=ADMIN, tenant="acme", name="Lobby", slug="lobby", visibility=public)
    )
    await rooms.add_member(x.AddMember(identity=ADMIN, tenant="acme", room="lobby", user_id="ann"))
    await rooms.update(x.UpdateRoom(identity=ADMIN, tenant="acme", room="lobby", name="Hall"))
    assert revoked.sent == [], "a rename takes nobody out"
    private = x.Visibility.PRIVATE
    await rooms.update(
        x.UpdateRoom(identity=ADMIN, tenant="acme", room="lobby", visibility=private)
    )
    assert revoked.sent == [("acme", "room:lobby", LeftReason.PRIVATE, [])]
    assert revoked.kept == [[("acme", "ann"), ("acme", "boss")]]
    await rooms.update(
        x.UpdateRoom(identity=ADMIN, tenant="acme", room="lobby", visibility=private)
    )
    assert len(revoked.sent) == 1, "already private: nobody else to take out"
