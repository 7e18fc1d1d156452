"""Entity lifecycle events, published to JetStream and applied by a real rooms service.

The rooms service and a gateway run in their own processes; events are published with
the SDK (`roomcast.sdk.entities`), raw JetStream publishes (for poison) and the CLI.
The consumer handles events one at a time in stream order, so once an event published
last is seen applied, every event before it has been handled (`settled`).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts import deadletter, subjects
from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.identity import Identity
from roomcast.platform import bus
from roomcast.sdk.entities import EntityEventRefused, publish_entity_event
from services.rooms.adapters.entities_sql import entity_slug
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack

FAST_RETRIES = {"ROOMCAST_ENTITY_MAX_DELIVERIES": "3", "ROOMCAST_ENTITY_RETRY_MAX": "0.3"}
"""A failing event is given up after 3 deliveries, at most 0.3 s apart."""


@pytest.fixture(scope="module")
def stack(stack_factory: Stack) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """The rooms service and one gateway, each in its own process."""
    rooms = stack_factory.start("rooms", env=FAST_RETRIES)
    gateway = stack_factory.start("gateway")
    yield rooms, gateway


@pytest.fixture
async def nc(stack: tuple[ServiceProcess, ServiceProcess], nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


class Entity:
    """One fresh entity of a fresh tenant, and ways to publish its events and read its room."""

    def __init__(self, nc: NATS, entity_type: str = "event", tenant: str | None = None) -> None:
        self.nc = nc
        self.tenant = tenant or unique("t")
        self.type = entity_type
        self.id = unique("e")
        self.admin = Identity(tenant=self.tenant, user_id="root", role="admin")

    @property
    def room_name(self) -> str:
        return f"{self.type}:{self.id}"

    async def publish(self, event: str, **fields: Any) -> int:
        body = {"event": event, "tenant": self.tenant, "type": self.type, "id": self.id}
        return await publish_entity_event(self.nc, {**body, **fields})

    async def room(self) -> x.RoomView | None:
        ask = x.EntityRooms(
            identity=self.admin, tenant=self.tenant, entity_type=self.type, entity_id=self.id
        )
        rooms = (await bus.request(self.nc, e.ROOM_ENTITY_ROOMS, ask)).checked().items
        return rooms[0] if rooms else None

    async def members(self) -> dict[str, str]:
        room = await self.room()
        assert room is not None
        ask = x.ListMembers(identity=self.admin, tenant=self.tenant, room=str(room.id))
        items = (await bus.request(self.nc, e.ROOM_MEMBERS, ask)).checked().items
        return {m.user_id: m.role.value for m in items}

    async def settled(self) -> None:
        """Wait until every event published so far was handled (see the module docstring)."""
        marker = Entity(self.nc, "marker", self.tenant)
        await marker.publish("created", name="marker")
        await eventually(marker.room)


async def eventually(check: Any, timeout: float = 15.0) -> Any:
    """Poll `check()` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {check}")
        await asyncio.sleep(0.05)


async def test_created_makes_the_primary_room_and_events_keep_it_in_step(nc: NATS) -> None:
    ent = Entity(nc)
    await ent.publish("created", name="Launch party", createdBy="boss", occurredAt=1000)
    room = await eventually(ent.room)
    assert (room.room, room.name, room.status, room.visibility) == (
        ent.room_name,
        "Launch party",
        "active",
        "private",
    )
    assert room.created_by == "boss" and room.slug.startswith("event-")
    assert [(link.entity_type, link.is_primary) for link in room.entities] == [("event", True)]
    await ent.publish("member_added", userId="ann", occurredAt=1001)
    await ent.publish("member_added", userId="bob", role="moderator", occurredAt=1002)
    await ent.publish("updated", name="Launch night", visibility="public", occurredAt=1003)
    await ent.settled()
    assert await ent.members() == {"boss": "admin", "ann": "member", "bob": "moderator"}
    room = await ent.room()
    assert room is not None and (room.name, room.visibility) == ("Launch night", "public")
    await ent.publish("member_removed", userId="ann", occurredAt=1004)
    await ent.publish("deleted", occurredAt=1005)
    await ent.settled()
    assert await ent.members() == {"boss": "admin", "bob": "moderator"}
    room = await ent.room()
    assert room is not None and room.status == "archived"


async def test_a_redelivered_event_changes_nothing(nc: NATS) -> None:
    ent = Entity(nc)
    for _ in range(2):
        await ent.publish("created", name="Twice", occurredAt=10)
        await ent.publish("member_added", userId="ann", occurredAt=11)
    await ent.publish("member_removed", userId="ann", occurredAt=12)
    await ent.publish("member_added", userId="ann", occurredAt=11)  # the add, once more
    await ent.settled()
    assert await ent.members() == {}
    room = await ent.room()
    assert room is not None and room.name == "Twice"


async def test_reordered_events_leave_the_state_of_the_newest(nc: NATS) -> None:
    ent = Entity(nc)
    # members before the entity exists, a removal overtaking its add
    await ent.publish("member_added", userId="ann", occurredAt=20)
    await ent.publish("member_removed", userId="bob", occurredAt=30)
    await ent.publish("member_added", userId="bob", occurredAt=21)
    await ent.settled()
    assert await ent.room() is None
    await ent.publish("created", name="Late", createdBy="boss", occurredAt=10)
    await eventually(ent.room)
    await ent.settled()
    assert await ent.members() == {"ann": "member", "boss": "admin"}
    # an update older than the deletion renames, and never brings the room back
    await ent.publish("deleted", occurredAt=50)
    await ent.publish("updated", name="Renamed", occurredAt=40)
    await ent.publish("created", name="Stale", occurredAt=15)
    await ent.settled()
    room = await ent.room()
    assert room is not None and (room.status, room.name) == ("archived", "Renamed")


async def test_removed_members_and_a_deleted_entity_leave_the_room_live(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    _, gateway = stack
    ent = Entity(nc)
    await ent.publish("created", name="Crew", occurredAt=1)
    await ent.publish("member_added", userId="ann", occurredAt=2)
    await ent.publish("member_added", userId="bob", occurredAt=3)
    await ent.settled()
    ann = await connect(gateway.url, token("ann", ent.tenant))
    bob = await connect(gateway.url, token("bob", ent.tenant))
    clients += [ann, bob]
    for c in (ann, bob):
        joined = await c.call("room:join", {"room": ent.room_name})
        assert joined == {"ok": True, "room": ent.room_name, "role": "member"}, joined
    await ent.publish("member_removed", userId="bob", occurredAt=4)
    left = await bob.wait_for("room:left", lambda m: m["room"] == ent.room_name)
    assert left == {"room": ent.room_name, "reason": "removed"}
    sent = await ann.call("room:send", {"room": ent.room_name, "body": "bob is gone"})
    assert sent["ok"], sent
    await ent.publish("deleted", occurredAt=5)
    left = await ann.wait_for("room:left", lambda m: m["room"] == ent.room_name)
    assert left == {"room": ent.room_name, "reason": "archived"}
    assert bob.received("room:message") == []
    refused = await ann.call("room:send", {"room": ent.room_name, "body": "archived"})
    assert refused["ok"] is False and refused["error"]["code"] == "FORBIDDEN", refused


async def test_events_published_while_rooms_is_down_are_applied_when_it_is_back(
    stack: tuple[ServiceProcess, ServiceProcess], nc: NATS
) -> None:
    rooms, _ = stack
    ent = Entity(nc)
    rooms.stop()
    try:
        seqs = [
            await ent.publish("created", name="Offline", createdBy="boss", occurredAt=1),
            await ent.publish("member_added", userId="ann", occurredAt=2),
        ]
        assert seqs[1] > seqs[0] > 0
    finally:
        rooms.start()
    room = await eventually(ent.room)
    assert room.name == "Offline"
    await ent.settled()
    assert await ent.members() == {"boss": "admin", "ann": "member"}


async def test_a_poison_event_is_dead_lettered_and_the_next_one_applied(nc: NATS) -> None:
    ent = Entity(nc)
    js = nc.jetstream()
    subject = subjects.entity_event(ent.tenant, ent.type, ent.id)
    await js.publish(subject, b'{"event": "created", "tenant": 1}', stream=subjects.ENTITY_STREAM)
    other = subjects.entity_event(ent.tenant, ent.type, "elsewhere")
    mismatched = b'{"event":"created","tenant":"%s","type":"event","id":"%s","name":"x"}' % (
        ent.tenant.encode(),
        ent.id.encode(),
    )
    await js.publish(other, mismatched, stream=subjects.ENTITY_STREAM)
    await ent.publish("created", name="Healthy", occurredAt=5)
    room = await eventually(ent.room)
    assert room.name == "Healthy"
    reasons = {source: found[0] for source, found in (await dead_letters(nc)).items()}
    assert reasons[subject].startswith("not an entity event"), reasons
    assert reasons[other].startswith("published on "), reasons


async def dead_letters(nc: NATS) -> dict[str, list[str]]:
    """Reasons of the entity consumer's dead letters so far, by source subject."""
    js = nc.jetstream()
    sub = await js.subscribe(
        subjects.dead_letter(e.ENTITY_CONSUMER),
        stream=subjects.DLQ_STREAM,
        ordered_consumer=True,
    )
    found: dict[str, list[str]] = {}
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                return found
            headers = msg.headers or {}
            found.setdefault(headers[deadletter.SOURCE_SUBJECT], []).append(
                headers[deadletter.REASON]
            )
    finally:
        await sub.unsubscribe()


async def test_an_event_that_keeps_failing_is_retried_then_dead_lettered(nc: NATS) -> None:
    ent = Entity(nc)
    for hashed in (False, True):  # take both slugs the entity's room could have
        slug = entity_slug(ent.type, ent.id, hashed=hashed)
        create = x.CreateRoom(identity=ent.admin, tenant=ent.tenant, name=slug, slug=slug)
        (await bus.request(nc, e.ROOM_CREATE, create)).checked()
    await ent.publish("created", name="Nowhere", occurredAt=1)
    subject = subjects.entity_event(ent.tenant, ent.type, ent.id)

    async def given_up() -> list[str]:
        return (await dead_letters(nc)).get(subject, [])

    [reason] = await eventually(given_up)
    assert reason.startswith("failed 3 times: INVALID: no free slug"), reason
    assert await ent.room() is None


async def test_invalid_events_are_refused_before_they_are_published(nc: NATS) -> None:
    ent = Entity(nc)
    with pytest.raises(EntityEventRefused, match="reserved room kind"):
        await publish_entity_event(
            nc, {"event": "created", "tenant": "t", "type": "user", "id": "1", "name": "x"}
        )
    with pytest.raises(EntityEventRefused, match="name"):
        await ent.publish("created")
    with pytest.raises(EntityEventRefused, match="userId"):
        await ent.publish("member_added")


async def test_a_dm_to_a_user_added_before_they_ever_connected_is_accepted(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    _, gateway = stack
    ent = Entity(nc)
    admin = Identity(tenant=ent.tenant, user_id="root", role="admin")
    create = x.CreateRoom(identity=admin, tenant=ent.tenant, name="Desk", slug="desk")
    (await bus.request(nc, e.ROOM_CREATE, create)).checked()
    add = x.AddMember(identity=admin, tenant=ent.tenant, room="desk", user_id="newbie")
    (await bus.request(nc, e.ROOM_MEMBER_ADD, add)).checked()
    await ent.publish("created", name="Club", createdBy="founder", occurredAt=1)
    await ent.publish("member_added", userId="joiner", occurredAt=2)
    await ent.settled()
    alice = await connect(gateway.url, token("alice", ent.tenant))
    clients.append(alice)
    for user in ("newbie", "founder", "joiner", "root"):
        ack = await alice.call("chat:send", {"to": user, "body": f"hi {user}"})
        assert ack["ok"], (user, ack)
    ack = await alice.call("chat:send", {"to": "stranger", "body": "hi"})
    assert ack["ok"] is False and ack["error"]["code"] == "FORBIDDEN", ack


def roomcast(*args: str, nats_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMCAST_")}
    env |= {"ROOMCAST_NATS_URL": nats_url, "ROOMCAST_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "roomcast.cli", "entity", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_cli_publishes_and_says_why_it_refuses(
    nc: NATS, nats_url: str, tmp_path: Path, embedded_nats: Any
) -> None:
    ent = Entity(nc)
    who = ("--tenant", ent.tenant, "--type", ent.type, "--id", ent.id)
    run = (*who, "--name", "From the shell", "--created-by", "boss", "--occurred-at", "7")
    done = await asyncio.to_thread(roomcast, "created", *run, nats_url=nats_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 0
    added = ("member-added", *who, "--user", "ann", "--role", "moderator")
    done = await asyncio.to_thread(roomcast, *added, nats_url=nats_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    await ent.settled()
    room = await ent.room()
    assert room is not None and room.name == "From the shell"
    assert await ent.members() == {"boss": "admin", "ann": "moderator"}

    bad = ("member-added", *who, "--user", "ann", "--role", "owner")
    done = await asyncio.to_thread(roomcast, *bad, nats_url=nats_url, tmp_path=tmp_path)
    assert done.returncode == 1 and "invalid entity event" in done.stderr and "role" in done.stderr
    assert done.stdout == ""
    extra = ("deleted", *who, "--user", "ann")
    done = await asyncio.to_thread(roomcast, *extra, nats_url=nats_url, tmp_path=tmp_path)
    assert done.returncode == 1 and "--user does not apply" in done.stderr
    bare = embedded_nats()  # JetStream, but no entity stream: nothing would store the event
    gone = ("deleted", *who)
    done = await asyncio.to_thread(roomcast, *gone, nats_url=bare.url, tmp_path=tmp_path)
    assert done.returncode == 1 and "no JetStream stream ROOMCAST_ENTITIES" in done.stderr


async def test_the_same_entity_in_two_tenants_is_two_rooms(nc: NATS) -> None:
    a, b = Entity(nc), Entity(nc)
    b.id = a.id
    await a.publish("created", name="A", createdBy="ann")
    await b.publish("created", name="B", createdBy="bob")
    await b.publish("deleted")
    await b.settled()
    room_a, room_b = await a.room(), await b.room()
    assert room_a is not None and room_b is not None and room_a.id != room_b.id
    assert (room_a.name, room_a.status, room_b.name) == ("A", "active", "B")
    assert await a.members() == {"ann": "admin"} and await b.members() == {"bob": "admin"}


async def test_a_primary_room_linked_by_hand_is_adopted(nc: NATS) -> None:
    ent = Entity(nc)
    create = x.CreateRoom(identity=ent.admin, tenant=ent.tenant, name="Hand made", slug="hand")
    made = (await bus.request(nc, e.ROOM_CREATE, create)).checked().room
    assert made is not None
    link = x.LinkEntity(
        identity=ent.admin,
        tenant=ent.tenant,
        room="hand",
        entity_type=ent.type,
        entity_id=ent.id,
        is_primary=True,
    )
    (await bus.request(nc, e.ROOM_LINK, link)).checked()
    await ent.publish("member_added", userId="ann", occurredAt=1)
    await ent.settled()
    assert await ent.members() == {"root": "admin", "ann": "member"}
    await ent.publish("created", name="Adopted", createdBy="boss", occurredAt=2)
    await ent.settled()
    room = await ent.room()
    assert room is not None and (room.id, room.name, room.slug) == (made.id, "Adopted", "hand")
    assert await ent.members() == {"root": "admin", "ann": "member", "boss": "admin"}


async def test_two_replicas_applying_shuffled_events_agree_with_the_newest(
    stack_factory: Stack, nc: NATS
) -> None:
    second = stack_factory.start("rooms", env=FAST_RETRIES, instance="rooms-2")
    try:
        ent = Entity(nc)
        rnd = random.Random(7)
        events: list[tuple[str, dict[str, Any]]] = [("created", {"name": "Busy", "occurredAt": 1})]
        newest: dict[str, tuple[int, str]] = {}
        for at in range(2, 82):
            user = f"u{rnd.randrange(8)}"
            kind = rnd.choice(["member_added", "member_removed"])
            events.append((kind, {"userId": user, "occurredAt": at}))
            newest[user] = (at, kind)
        rnd.shuffle(events)
        await asyncio.gather(*(ent.publish(kind, **fields) for kind, fields in events))
        expected = {u: "member" for u, (_, kind) in newest.items() if kind == "member_added"}

        async def converged() -> bool:
            return await ent.room() is not None and await ent.members() == expected

        await eventually(converged, timeout=30)
    finally:
        second.stop()
