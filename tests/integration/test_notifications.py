"""Notifications and app events on real servers: publish over NATS, receive on sockets.

Rooms, persistence and two gateways run in their own processes on a private NATS
server; publications go through `roomcast.sdk.Publisher` as a backend service would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import endpoints
from contracts.errors import ServiceError
from contracts.explicit_rooms import AddMember, CreateRoom
from contracts.identity import Identity
from contracts.notifications import NotifyReply, Target
from roomcast.platform import bus
from roomcast.sdk.publisher import Publisher
from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, gateway_stack, roomcast


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    with gateway_stack(tmp_path_factory.mktemp("notifications"), database_url) as gateways:
        yield gateways


@pytest.fixture
async def pub(stack: Gateways) -> AsyncIterator[Publisher]:
    publisher = await Publisher.connect(stack.nats_url)
    yield publisher
    await publisher.close()


async def listed(client: Client, **query: Any) -> tuple[list[dict[str, Any]], int]:
    ack = await client.call("notification:list", query)
    assert ack["ok"] is True, ack
    return list(ack["notifications"]), int(ack["unread"])


async def count_is(client: Client, unread: int) -> None:
    await client.wait_for("notification:count", lambda c: c == {"unread": unread})


async def rows(database_url: str, tenant: str) -> int:
    engine = create_async_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                sa.text("SELECT count(*) FROM notifications WHERE tenant_id = :t"), {"t": tenant}
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


async def test_a_user_notification_reaches_every_tab_and_an_offline_user_on_connect(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    bob1 = await connect(stack.gw1.url, token("bob", t))
    bob2 = await connect(stack.gw2.url, token("bob", t))
    carol = await connect(stack.gw1.url, token("carol", t))
    clients += [bob1, bob2, carol]
    for tab in (bob1, bob2, carol):
        await count_is(tab, 0)

    sent = await pub.notify_user(
        t, "bob", title="New assignment", body="Due Friday", event="assignment.due"
    )
    for tab in (bob1, bob2):
        new = await tab.wait_for("notification:new", lambda n: n["id"] == sent.id)
        assert new == {
            "id": sent.id,
            "event": "assignment.due",
            "title": "New assignment",
            "body": "Due Friday",
            "data": {},
            "priority": "normal",
            "ts": sent.ts,
            "status": "unread",
        }
        await count_is(tab, 1)
    assert carol.received("notification:new") == []

    dave_sent = await pub.notify_user(t, "dave", body="while you were away")
    dave = await connect(stack.gw2.url, token("dave", t))
    clients.append(dave)
    await count_is(dave, 1)
    items, unread = await listed(dave)
    assert [n["id"] for n in items] == [dave_sent.id] and unread == 1
    assert items[0]["body"] == "while you were away" and items[0]["status"] == "unread"


async def test_a_tenant_notification_is_stored_once_and_read_state_is_per_user(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t, other = unique("lms"), unique("lms")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    stranger = await connect(stack.gw1.url, token("alice", other))
    clients += [alice, bob, stranger]
    sent = await pub.send_notification(
        {
            "tenantId": t,
            "title": "Maintenance",
            "message": "Tonight",
            "type": "SYSTEM_ALERT",
            "priority": "HIGH",
        }
    )
    for c in (alice, bob):
        new = await c.wait_for("notification:new", lambda n: n["id"] == sent.id)
        assert new["event"] == "SYSTEM_ALERT" and new["priority"] == "high"
        await count_is(c, 1)
    assert await rows(stack.database_url, t) == 1

    later = await connect(stack.gw1.url, token("zoe", t))
    clients.append(later)
    await count_is(later, 1)

    ack = await alice.call("notification:read", {"id": sent.id})
    assert ack == {"ok": True, "unread": 0}
    assert (await listed(alice))[0][0]["status"] == "read"
    items, unread = await listed(bob)
    assert items[0]["status"] == "unread" and unread == 1

    assert stranger.received("notification:new") == []
    assert await listed(stranger) == ([], 0)
    refused = await stranger.call("notification:read", {"id": sent.id})
    assert refused["ok"] is False and refused["error"]["code"] == "NOT_FOUND"
    refused = await stranger.call("notification:dismiss", {"ids": [sent.id]})
    assert refused["ok"] is False and refused["error"]["code"] == "NOT_FOUND"


async def test_read_in_one_tab_updates_the_count_in_the_other_mark_all_and_dismiss(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    tab1 = await connect(stack.gw1.url, token("bob", t))
    tab2 = await connect(stack.gw2.url, token("bob", t))
    clients += [tab1, tab2]
    ids = [(await pub.notify_user(t, "bob", title=f"n{i}")).id for i in range(3)]
    shared = (await pub.notify_tenant(t, title="everyone")).id
    await count_is(tab2, 4)

    assert (await tab1.call("notification:read", {"ids": ids[:2]}))["unread"] == 2
    await count_is(tab2, 2)
    assert (await tab1.call("notification:dismiss", {"id": shared}))["unread"] == 1
    await count_is(tab2, 1)
    items, _ = await listed(tab2)
    assert [n["id"] for n in items] == [ids[2], ids[1], ids[0]]
    assert [n["id"] for n in (await listed(tab2, status="dismissed"))[0]] == [shared]
    assert [n["id"] for n in (await listed(tab2, status="unread"))[0]] == [ids[2]]
    assert [n["id"] for n in (await listed(tab2, status="all"))[0]] == [shared, *reversed(ids)]

    assert await tab2.call("notification:read", {"all": True}) == {"ok": True, "unread": 0}
    await count_is(tab1, 0)
    assert [n["status"] for n in (await listed(tab1))[0]] == ["read"] * 3
    newer = await pub.notify_user(t, "bob", title="after")
    await count_is(tab1, 1)
    assert (await listed(tab1, status="unread"))[0][0]["id"] == newer.id

    page1, _ = await listed(tab1, status="all", limit=2)
    page2, _ = await listed(tab1, status="all", limit=2, before=page1[-1]["id"])
    assert [n["id"] for n in page1 + page2] == [newer.id, shared, ids[2], ids[1]]


async def test_seed_002_read_payload_is_accepted_for_oneself_only(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    bob = await connect(stack.gw1.url, token("bob", t))
    clients.append(bob)
    sent = await pub.notify_user(t, "bob", title="x")
    seed = {"tenantId": t, "notificationId": int(sent.id), "userId": "bob", "status": "READ"}
    assert await bob.call("notification:read", seed) == {"ok": True, "unread": 0}
    for who in ({"userId": "carol"}, {"tenantId": "elsewhere"}):
        refused = await bob.call("notification:read", {**seed, **who})
        assert refused["error"]["code"] == "FORBIDDEN", refused
    bad = await bob.call("notification:read", {"id": sent.id, "ids": [sent.id]})
    assert bad["error"]["code"] == "INVALID"
    bad = await bob.call("notification:read", {**seed, "status": "DISMISSED"})
    assert bad["error"]["code"] == "INVALID"
    dismissed = {**seed, "status": "DISMISSED"}
    assert await bob.call("notification:dismiss", dismissed) == {"ok": True, "unread": 0}
    assert (await listed(bob, status="dismissed"))[0][0]["id"] == sent.id


async def test_roles_admins_and_platform_roles_reach_exactly_their_users(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t, other = unique("lms"), unique("lms")
    teaching = unique("teacher")  # platform-wide notifications outlive the test's tenants
    teacher = await connect(stack.gw1.url, token("tia", t, role=teaching))
    admin = await connect(stack.gw2.url, token("ada", t, role="admin"))
    student = await connect(stack.gw1.url, token("sam", t))
    far_teacher = await connect(stack.gw2.url, token("tom", other, role=teaching))
    clients += [teacher, admin, student, far_teacher]
    for c in (teacher, admin, student, far_teacher):
        await count_is(c, 0)
    role = await pub.notify_role(t, teaching, title="grading")
    admins = await pub.notify_admins(t, title="billing")
    everywhere = await pub.notify_platform_role(teaching, title="release notes")

    async def got(c: Client, *expected: str) -> None:
        for nid in expected:
            await c.wait_for("notification:new", lambda n, nid=nid: n["id"] == nid)
        assert [n["id"] for n in (await listed(c))[0]] == sorted(expected, key=int, reverse=True)

    await got(teacher, role.id, everywhere.id)
    await got(admin, admins.id)
    await got(far_teacher, everywhere.id)
    await got(student)
    assert student.received("notification:new") == []
    await count_is(teacher, 2)


async def test_expired_notifications_leave_the_list_and_the_count(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    bob = await connect(stack.gw1.url, token("bob", t))
    clients.append(bob)
    expires = int(time.time() * 1000) + 1500
    soon = await pub.notify_user(t, "bob", title="flash sale", expires_at=expires)
    stays = await pub.notify_user(t, "bob", title="stays")
    items, unread = await listed(bob)
    assert [n["id"] for n in items] == [stays.id, soon.id] and unread == 2
    assert items[1]["expiresAt"] == expires
    await asyncio.sleep(max(0.0, expires / 1000 - time.time()) + 0.05)
    items, unread = await listed(bob, status="all")
    assert [n["id"] for n in items] == [stays.id] and unread == 1
    gone = await bob.call("notification:read", {"id": soon.id})
    assert gone["error"]["code"] == "NOT_FOUND"


async def test_an_idempotency_key_gives_one_notification_and_one_delivery(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    bob = await connect(stack.gw1.url, token("bob", t))
    clients.append(bob)
    first = await pub.notify_user(t, "bob", title="once", idempotency_key="grade-42")
    again = await pub.notify_user(t, "bob", title="once", idempotency_key="grade-42")
    assert again == first
    await bob.wait_for("notification:new", lambda n: n["id"] == first.id)
    await asyncio.sleep(0.3)
    assert len(bob.received("notification:new")) == 1
    assert await rows(stack.database_url, t) == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"target": {"kind": "user", "tenant": "t"}, "title": "x"}, "needs `userId`"),
        ({"target": {"kind": "tenant", "tenant": "t"}}, "needs a `title`, a `body` or `data`"),
        ({"tenantId": "t", "title": "x", "priority": "meh"}, "priority"),
        ({"tenantId": "t", "title": "x", "type": "chat:message"}, "protocol"),
        ({"tenantId": "t", "title": "x", "expiresAt": 1000}, "not in the future"),
        ({"target": {"kind": "room", "tenant": "t", "room": "user:x"}, "title": "x"}, "automatic"),
        ({"title": "x"}, "target"),
    ],
)
async def test_invalid_notifications_are_refused_with_a_reason(
    stack: Gateways, pub: Publisher, payload: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ServiceError) as local:
        await pub.send_notification(payload)
    assert local.value.code == "INVALID"
    # the service refuses the same payloads by itself, with the reason
    msg = await pub._nc.request(endpoints.NOTIFY.subject, orjson.dumps(payload), timeout=5)
    reply = NotifyReply.model_validate_json(msg.data)
    assert reply.ok is False and reply.error is not None
    assert reply.error.code == "INVALID" and reason in reply.error.message, reply.error


async def test_app_events_reach_the_target_and_protocol_names_are_refused(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    bob1 = await connect(stack.gw1.url, token("bob", t))
    bob2 = await connect(stack.gw2.url, token("bob", t, role="teacher"))
    carol = await connect(stack.gw2.url, token("carol", t))
    clients += [bob1, bob2, carol]
    await pub.publish(Target.of_tenant(t), "system:alert", {"text": "hello"})
    for c in (bob1, bob2, carol):
        assert await c.wait_for("system:alert") == {"text": "hello"}
    await pub.publish(Target.of_role(t, "teacher"), "course:updated", {"courseId": 42})
    assert await bob2.wait_for("course:updated") == {"courseId": 42}
    await pub.publish(Target.user(t, "carol"), "progress:changed", {"pct": 50})
    assert await carol.wait_for("progress:changed") == {"pct": 50}
    await asyncio.sleep(0.3)
    assert bob1.received("course:updated") == [] and bob1.received("progress:changed") == []
    assert await rows(stack.database_url, t) == 0

    for name in ("chat:message", "notification:new", "connect", "disconnect", "room:left"):
        with pytest.raises(ServiceError) as refused:
            await pub.publish(Target.of_tenant(t), name, {})
        assert refused.value.code == "INVALID" and "protocol" in refused.value.message


async def test_the_cli_notifies_and_publishes_and_exits_non_zero_with_the_reason(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("lms")
    bob = await connect(stack.gw1.url, token("bob", t))
    clients.append(bob)
    done = await asyncio.to_thread(
        roomcast, stack, "notify", "--tenant", t, "--user", "bob", "--title", "From the CLI",
        "--data", '{"courseId": 42}', "--priority", "urgent",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sent_id = done.stdout.strip()
    new = await bob.wait_for("notification:new", lambda n: n["id"] == sent_id)
    assert new["title"] == "From the CLI" and new["data"] == {"courseId": 42}
    assert new["priority"] == "urgent"

    done = await asyncio.to_thread(
        roomcast, stack, "publish", "--tenant", t, "--all", "--event", "course:updated",
        "--data", '{"id": 7}',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert await bob.wait_for("course:updated") == {"id": 7}

    refusals = [
        (("publish", "--tenant", t, "--all", "--event", "chat:message"), "protocol"),
        (("notify", "--tenant", t, "--room", "room:nowhere", "--title", "x"), "NOT_FOUND"),
        (("notify", "--tenant", t, "--all"), "needs a `title`"),
        (("notify", "--tenant", t, "--all", "--title", "x", "--data", "[1]"), "JSON object"),
        (("notify", "--user", "bob", "--title", "x"), "--tenant is required"),
        (("notify", "--tenant", t, "--all", "--title", "x", "--priority", "meh"), "priority"),
    ]
    for args, reason in refusals:
        done = await asyncio.to_thread(roomcast, stack, *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert reason in done.stderr and done.stdout == "", (args, done.stderr)


async def test_app_events_to_a_room_reach_its_joined_sockets_by_any_of_its_names(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    admin = Identity(tenant=t, user_id="ada", role="admin")
    create = CreateRoom(identity=admin, tenant=t, name="Lobby", slug="lobby", visibility="public")
    assert (await bus.request(pub._nc, endpoints.ROOM_CREATE, create)).ok
    joined = await connect(stack.gw1.url, token("bob", t))
    outside = await connect(stack.gw2.url, token("carol", t))
    clients += [joined, outside]
    assert (await joined.call("room:join", {"room": "room:lobby"}))["ok"]

    await pub.publish(Target.of_room(t, "room:lobby"), "lobby:poll", {"q": "lunch?"})
    assert await joined.wait_for("lobby:poll") == {"q": "lunch?"}
    with pytest.raises(ServiceError) as refused:
        await pub.publish(Target.of_room(t, "room:nowhere"), "lobby:poll", {})
    assert refused.value.code == "NOT_FOUND"
    await asyncio.sleep(0.3)
    assert outside.received("lobby:poll") == []


async def test_a_room_notification_is_seen_by_those_who_may_read_the_room(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t = unique("lms")
    ada = Identity(tenant=t, user_id="ada", role="admin")
    for slug, visibility in (("staff", "private"), ("lobby", "public")):
        create = CreateRoom(identity=ada, tenant=t, name=slug, slug=slug, visibility=visibility)
        assert (await bus.request(pub._nc, endpoints.ROOM_CREATE, create)).ok
    add = AddMember(identity=ada, tenant=t, room="staff", user_id="bob")
    assert (await bus.request(pub._nc, endpoints.ROOM_MEMBER_ADD, add)).ok
    bob = await connect(stack.gw1.url, token("bob", t))
    carol = await connect(stack.gw2.url, token("carol", t))
    clients += [bob, carol]
    await count_is(carol, 0)
    assert (await bob.call("room:join", {"room": "room:staff"}))["ok"]

    staff = await pub.notify(Target.of_room(t, "room:staff"), title="staff meeting")
    await bob.wait_for("notification:new", lambda n: n["id"] == staff.id)
    await count_is(bob, 1)
    assert [n["id"] for n in (await listed(bob))[0]] == [staff.id]
    assert await listed(carol) == ([], 0)
    refused = await carol.call("notification:read", {"id": staff.id})
    assert refused["error"]["code"] == "NOT_FOUND"

    lobby = await pub.notify(Target.of_room(t, "room:lobby"), title="open day")
    items, unread = await listed(carol)
    assert [n["id"] for n in items] == [lobby.id] and unread == 1
    assert (await carol.call("notification:count", {})) == {"ok": True, "unread": 1}
    assert (await bob.call("notification:read", {"all": True}))["unread"] == 0
    assert carol.received("notification:new") == []
