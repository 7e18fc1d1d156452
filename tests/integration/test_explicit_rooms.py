"""Explicit rooms against a real rooms service process and PostgreSQL, through the bus."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.endpoints import Endpoint
from contracts.errors import ErrorCode, Reply
from contracts.identity import Identity
from roomcast.platform import bus
from tests.clients import unique
from tests.stack import Stack


@pytest.fixture(scope="module")
def rooms_service(stack_factory: Stack) -> None:
    stack_factory.start("rooms")


@pytest.fixture
async def nc(rooms_service: None, nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


class Tenant:
    """One fresh tenant with an admin, two plain users and helpers to call as them."""

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self.id = unique("t")
        self.admin = self.who("admin", "admin")
        self.ann = self.who("ann")
        self.bob = self.who("bob")

    def who(self, user: str, role: str = "member") -> Identity:
        return Identity(tenant=self.id, user_id=user, role=role)

    async def call(self, endpoint: Endpoint[Any, Any], who: Identity, **fields: Any) -> Any:
        fields.setdefault("tenant", self.id)
        return await bus.request(self.nc, endpoint, endpoint.request(identity=who, **fields))

    async def ok(self, endpoint: Endpoint[Any, Any], who: Identity, **fields: Any) -> Any:
        reply = await self.call(endpoint, who, **fields)
        assert reply.ok, reply.error
        return reply

    async def refused(
        self, code: ErrorCode, endpoint: Endpoint[Any, Any], who: Identity, **fields: Any
    ) -> str:
        reply: Reply = await self.call(endpoint, who, **fields)
        assert not reply.ok and reply.error is not None, reply
        assert reply.error.code == code, reply.error
        return reply.error.message

    async def room(self, slug: str, visibility: str = "private", **fields: Any) -> x.RoomView:
        reply = await self.ok(
            e.ROOM_CREATE, self.admin, name=slug.title(), slug=slug, visibility=visibility, **fields
        )
        room: x.RoomView = reply.room
        return room


@pytest.fixture
def t(nc: NATS) -> Tenant:
    return Tenant(nc)


async def count_rooms(database_url: str, tenant: str) -> int:
    engine = create_async_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT count(*) FROM rooms WHERE tenant_id = :t")
            return int((await conn.execute(query, {"t": tenant})).scalar_one())
    finally:
        await engine.dispose()


async def test_create_get_list_update_archive_delete(t: Tenant) -> None:
    room = await t.room("lobby", "public", description="hi", settings={"topic": "x"})
    assert (room.room, room.slug, room.tenant, room.status) == (
        "room:lobby",
        "lobby",
        t.id,
        "active",
    )
    assert room.created_by == "admin" and room.settings == {"topic": "x"}
    by_id = (await t.ok(e.ROOM_GET, t.ann, room=str(room.id))).room
    by_slug = (await t.ok(e.ROOM_GET, t.ann, room="lobby")).room
    assert by_id == by_slug == room

    derived = (await t.ok(e.ROOM_CREATE, t.admin, name="Grade 7 / Maths")).room
    assert derived.slug == "grade-7-maths" and derived.visibility == "private"

    listed = await t.ok(e.ROOM_LIST, t.admin, limit=1)
    assert [r.slug for r in listed.items] == ["lobby"] and listed.next
    page2 = await t.ok(e.ROOM_LIST, t.admin, limit=1, cursor=listed.next)
    assert [r.slug for r in page2.items] == ["grade-7-maths"] and page2.next is None
    assert [r.slug for r in (await t.ok(e.ROOM_LIST, t.admin, q="MATH")).items] == ["grade-7-maths"]
    assert [r.slug for r in (await t.ok(e.ROOM_LIST, t.ann)).items] == ["lobby"]

    updated = await t.ok(
        e.ROOM_UPDATE, t.admin, room="lobby", name="Main hall", settings={"topic": None, "a": 1}
    )
    assert updated.room.name == "Main hall" and updated.room.settings == {"a": 1}

    archived = (await t.ok(e.ROOM_DELETE, t.admin, room="lobby")).room
    assert archived.status == "archived"
    assert (await t.ok(e.ROOM_GET, t.ann, room="lobby")).room.status == "archived"
    assert [r.slug for r in (await t.ok(e.ROOM_LIST, t.admin, status="archived")).items] == [
        "lobby"
    ]
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_UPDATE, t.admin, room="lobby", name="No")
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_AUTHORIZE, t.admin, name="room:lobby", post=True)
    unarchived = await t.ok(e.ROOM_UPDATE, t.admin, room="lobby", status="active", name="Hall")
    assert (unarchived.room.status, unarchived.room.name) == ("active", "Hall")

    assert (
        await t.ok(e.ROOM_DELETE, t.admin, room="lobby", permanent=True)
    ).room.status == "deleted"
    for who in (t.admin, t.ann):
        await t.refused(ErrorCode.NOT_FOUND, e.ROOM_GET, who, room="lobby")
        await t.refused(ErrorCode.NOT_FOUND, e.ROOM_AUTHORIZE, who, name="room:lobby")
    assert [r.slug for r in (await t.ok(e.ROOM_LIST, t.admin)).items] == ["grade-7-maths"]


async def test_a_taken_slug_is_a_conflict(t: Tenant, database_url: str) -> None:
    await t.room("dup")
    message = await t.refused(ErrorCode.CONFLICT, e.ROOM_CREATE, t.admin, name="Other", slug="dup")
    assert message == "slug already taken"
    assert await count_rooms(database_url, t.id) == 1


async def test_the_role_table_through_the_endpoints(t: Tenant) -> None:
    await t.room("staff")  # private; the tenant admin who made it is its admin
    mod, radmin = t.who("mod"), t.who("radmin")
    outsider = t.who("zed")
    await t.ok(e.ROOM_MEMBER_ADD, t.admin, room="staff", user_id="radmin", role="admin")
    await t.ok(e.ROOM_MEMBER_ADD, radmin, room="staff", user_id="mod", role="moderator")

    # members read and post; an outsider does not even see a private room
    await t.ok(e.ROOM_MEMBER_ADD, mod, room="staff", user_id="ann")
    assert (await t.ok(e.ROOM_AUTHORIZE, t.ann, name="room:staff", post=True)).role == "member"
    for endpoint, fields in (
        (e.ROOM_GET, {"room": "staff"}),
        (e.ROOM_JOIN, {"room": "staff"}),
        (e.ROOM_MEMBERS, {"room": "staff"}),
        (e.ROOM_AUTHORIZE, {"name": "room:staff"}),
    ):
        await t.refused(ErrorCode.NOT_FOUND, endpoint, outsider, **fields)

    # a member may not update or manage members
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_UPDATE, t.ann, room="staff", name="x")
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_MEMBER_ADD, t.ann, room="staff", user_id="bob")
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_DELETE, t.ann, room="staff")

    # a moderator updates and manages plain members, not roles
    await t.ok(e.ROOM_UPDATE, mod, room="staff", description="d", visibility="public")
    await t.ok(e.ROOM_MEMBER_ADD, mod, room="staff", user_id="bob")
    await t.ok(e.ROOM_MEMBER_REMOVE, mod, room="staff", user_id="bob")
    await t.refused(
        ErrorCode.FORBIDDEN, e.ROOM_MEMBER_ADD, mod, room="staff", user_id="bob", role="moderator"
    )
    await t.refused(
        ErrorCode.FORBIDDEN, e.ROOM_MEMBER_ROLE, mod, room="staff", user_id="ann", role="moderator"
    )
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_MEMBER_REMOVE, mod, room="staff", user_id="radmin")
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_DELETE, mod, room="staff")
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_UPDATE, mod, room="staff", status="archived")

    # a room admin changes roles, removes moderators, archives; may not create or link
    changed = await t.ok(e.ROOM_MEMBER_ROLE, radmin, room="staff", user_id="ann", role="moderator")
    assert changed.member.role == "moderator"
    await t.ok(e.ROOM_MEMBER_REMOVE, radmin, room="staff", user_id="mod")
    await t.refused(
        ErrorCode.FORBIDDEN, e.ROOM_LINK, radmin, room="staff", entity_type="event", entity_id="1"
    )
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_CREATE, radmin, name="Mine")
    await t.ok(e.ROOM_UPDATE, radmin, room="staff", status="archived")
    await t.ok(e.ROOM_UPDATE, radmin, room="staff", status="active")

    members = await t.ok(e.ROOM_MEMBERS, t.ann, room="staff", limit=2)
    assert [m.user_id for m in members.items] == ["admin", "ann"] and members.next == "ann"
    rest = await t.ok(e.ROOM_MEMBERS, t.ann, room="staff", cursor=members.next)
    assert [(m.user_id, m.role) for m in rest.items] == [("radmin", "admin")]

    # a tenant admin does everything without being a member
    other_admin = t.who("boss", "admin")
    assert (await t.ok(e.ROOM_AUTHORIZE, other_admin, name="room:staff", post=True)).role == (
        "tenant_admin"
    )
    await t.ok(e.ROOM_MEMBER_REMOVE, other_admin, room="staff", user_id="radmin")


async def test_public_rooms_are_read_by_the_tenant_and_joined_to_post(t: Tenant) -> None:
    await t.room("town", "public")
    assert (await t.ok(e.ROOM_AUTHORIZE, t.bob, name="room:town")).role == "public"
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_AUTHORIZE, t.bob, name="room:town", post=True)
    joined = await t.ok(e.ROOM_JOIN, t.bob, room="town")
    assert (joined.member.user_id, joined.member.role) == ("bob", "member")
    assert (await t.ok(e.ROOM_AUTHORIZE, t.bob, name="room:town", post=True)).role == "member"
    assert [r.slug for r in (await t.ok(e.ROOM_LIST, t.bob, joined=True)).items] == ["town"]
    await t.ok(e.ROOM_LEAVE, t.bob, room="town")
    await t.refused(ErrorCode.NOT_FOUND, e.ROOM_LEAVE, t.bob, room="town")
    assert (await t.ok(e.ROOM_LIST, t.bob, joined=True)).items == []
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_AUTHORIZE, t.bob, name="user:bob")


async def test_entities_name_their_primary_room(t: Tenant) -> None:
    room = await t.room("launch", "public")
    other = await t.room("launch-staff")
    link = (
        await t.ok(
            e.ROOM_LINK,
            t.admin,
            room="launch",
            entity_type="event",
            entity_id="42",
            is_primary=True,
        )
    ).link
    await t.ok(e.ROOM_LINK, t.admin, room="launch-staff", entity_type="event", entity_id="42")
    message = await t.refused(
        ErrorCode.CONFLICT,
        e.ROOM_LINK,
        t.admin,
        room="launch-staff",
        entity_type="event",
        entity_id="42",
        is_primary=True,
    )
    assert "primary" in message
    assert (await t.ok(e.ROOM_GET, t.ann, room="launch")).room.room == "event:42"
    granted = await t.ok(e.ROOM_AUTHORIZE, t.ann, name="event:42")
    assert (granted.room_id, granted.room) == (room.id, "event:42")
    by_slug = await t.ok(e.ROOM_AUTHORIZE, t.ann, name="room:launch")
    assert (by_slug.room_id, by_slug.room) == (room.id, "event:42")
    rooms = await t.ok(e.ROOM_ENTITY_ROOMS, t.admin, entity_type="event", entity_id="42")
    assert [r.id for r in rooms.items] == [room.id, other.id]
    seen = await t.ok(e.ROOM_ENTITY_ROOMS, t.ann, entity_type="event", entity_id="42")
    assert [r.id for r in seen.items] == [room.id]
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_UNLINK, t.ann, link_id=link.link_id)
    await t.ok(e.ROOM_UNLINK, t.admin, link_id=link.link_id)
    await t.refused(ErrorCode.NOT_FOUND, e.ROOM_AUTHORIZE, t.ann, name="event:42")
    await t.refused(ErrorCode.NOT_FOUND, e.ROOM_UNLINK, t.admin, link_id=link.link_id)


async def test_tenants_never_see_each_others_rooms(nc: NATS) -> None:
    a, b = Tenant(nc), Tenant(nc)
    ra, rb = await a.room("same", "public"), await b.room("same", "public")
    assert ra.id != rb.id and (ra.tenant, rb.tenant) == (a.id, b.id)
    stranger = b.who("ann")  # "ann" of tenant b
    # in their own tenant they find their own room only
    assert (await b.ok(e.ROOM_GET, stranger, room="same")).room.id == rb.id
    await b.refused(ErrorCode.NOT_FOUND, e.ROOM_GET, stranger, room=str(ra.id))
    await b.refused(ErrorCode.NOT_FOUND, e.ROOM_JOIN, stranger, room=str(ra.id))
    # naming the other tenant is refused, whatever the role
    for who in (stranger, b.admin):
        for endpoint, fields in (
            (e.ROOM_GET, {"room": "same"}),
            (e.ROOM_LIST, {}),
            (e.ROOM_JOIN, {"room": "same"}),
            (e.ROOM_AUTHORIZE, {"name": "room:same"}),
            (e.ROOM_CREATE, {"name": "Intruder"}),
        ):
            await a.refused(ErrorCode.FORBIDDEN, endpoint, who, **fields)
        await a.refused(ErrorCode.FORBIDDEN, e.ROOM_GET, who, room="same", via_manage=True)
    listed = await b.ok(e.ROOM_LIST, b.admin)
    assert [r.id for r in listed.items] == [rb.id]
    assert (await a.ok(e.ROOM_MEMBERS, a.admin, room="same")).items[0].user_id == "admin"


async def test_a_super_admin_on_manage_names_the_tenant(t: Tenant) -> None:
    root = Identity(tenant=unique("ops"), user_id="root", role="super_admin")
    made = await t.ok(e.ROOM_CREATE, root, name="Ops", via_manage=True)
    assert made.room.tenant == t.id and made.room.created_by == "root"
    members = await t.ok(e.ROOM_MEMBERS, root, room="ops", via_manage=True)
    assert members.items == []  # a super_admin is no member of another tenant's room
    await t.ok(e.ROOM_MEMBER_ADD, root, room="ops", user_id="ann", role="admin", via_manage=True)
    assert (await t.ok(e.ROOM_AUTHORIZE, t.ann, name="room:ops", post=True)).role == "admin"
    await t.refused(ErrorCode.FORBIDDEN, e.ROOM_JOIN, root, room="ops", via_manage=True)


@pytest.mark.parametrize(
    ("endpoint", "fields"),
    [
        (e.ROOM_CREATE, {"name": ""}),
        (e.ROOM_CREATE, {"name": "ok", "slug": "Bad Slug"}),
        (e.ROOM_CREATE, {"name": "a\u0000b"}),
        (e.ROOM_CREATE, {"name": "x" * 300}),
        (e.ROOM_CREATE, {"name": "ok", "visibility": "secret"}),
        (e.ROOM_CREATE, {"name": "ok", "settings": {"k": "v" * 9000}}),
        (e.ROOM_CREATE, {"name": "!!!"}),
        (e.ROOM_LIST, {"limit": 0}),
        (e.ROOM_LIST, {"cursor": "abc"}),
        (e.ROOM_GET, {"room": "has space"}),
        (e.ROOM_LINK, {"room": "r", "entityType": "user", "entityId": "1"}),
        (e.ROOM_AUTHORIZE, {"name": "nokind"}),
    ],
)
async def test_bad_input_is_invalid_and_nothing_is_stored(
    t: Tenant, database_url: str, endpoint: Endpoint[Any, Any], fields: dict[str, Any]
) -> None:
    body = {"identity": t.admin.model_dump(), "tenant": t.id, **fields}
    msg = await t.nc.request(endpoint.subject, json.dumps(body).encode(), timeout=10)
    reply = endpoint.reply.model_validate_json(msg.data)
    assert not reply.ok and reply.error is not None
    assert reply.error.code == ErrorCode.INVALID, reply.error
    assert await count_rooms(database_url, t.id) == 0
