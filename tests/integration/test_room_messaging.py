"""Explicit-room messaging over sockets: room:join, room:leave, room:send, room:message.

Two gateway processes and the rooms service; rooms and members are made through the
bus as an SDK would.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts import endpoints as e
from contracts.identity import Identity
from roomcast.platform import bus
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack


@pytest.fixture(scope="module")
def stack(stack_factory: Stack) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """Rooms service and two gateways, each in its own process."""
    stack_factory.start("rooms")
    gw1 = stack_factory.start("gateway", instance="gateway-1")
    gw2 = stack_factory.start("gateway", instance="gateway-2")
    yield gw1, gw2


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


def stats(gw: ServiceProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{gw.health_url}/statz", timeout=5) as resp:  # noqa: S310
        return dict(json.load(resp))


async def call(nc: NATS, endpoint: Any, who: Identity, **fields: Any) -> Any:
    reply = await bus.request(nc, endpoint, endpoint.request(identity=who, **fields))
    assert reply.ok, reply.error
    return reply


async def make_room(
    nc: NATS, tenant: str, slug: str, members: list[str], visibility: str = "private"
) -> None:
    admin = Identity(tenant=tenant, user_id="admin", role="admin")
    name = slug.title()
    await call(nc, e.ROOM_CREATE, admin, tenant=tenant, name=name, slug=slug, visibility=visibility)
    for user in members:
        await call(nc, e.ROOM_MEMBER_ADD, admin, tenant=tenant, room=slug, user_id=user)


def refused(ack: Any, code: str) -> None:
    assert ack["ok"] is False and ack["error"]["code"] == code, ack


async def test_a_send_reaches_every_joined_socket_on_both_gateways_once(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    await make_room(nc, t, "crew", ["ann", "bob"])
    ann = await connect(gw1.url, token("ann", t))
    ann_tab2 = await connect(gw2.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    bob_idle = await connect(gw1.url, token("bob", t))
    clients += [ann, ann_tab2, bob, bob_idle]
    for c in (ann, ann_tab2, bob):
        assert await c.call("room:join", {"room": "room:crew"}) == {
            "ok": True,
            "room": "room:crew",
            "role": "member",
        }
    assert await bob.call("room:join", {"room": "room:crew"}) == {
        "ok": True,
        "room": "room:crew",
        "role": "member",
    }, "joining twice is harmless"

    ack = await ann.call("room:send", {"room": "room:crew", "body": "hello crew"})
    assert ack["ok"] is True, ack
    assert isinstance(ack["id"], str) and isinstance(ack["ts"], int)
    assert isinstance(ack["seq"], int)
    for c in (ann_tab2, bob):
        msg = await c.wait_for("room:message", lambda m: m["id"] == ack["id"])
        assert msg == {
            "id": ack["id"],
            "tenant": t,
            "room": "room:crew",
            "from": "ann",
            "body": "hello crew",
            "ts": ack["ts"],
            "seq": ack["seq"],
        }
    second = await bob.call("room:send", {"room": "room:crew", "body": "hi ann"})
    await ann.wait_for("room:message", lambda m: m["id"] == second["id"])
    await ann_tab2.wait_for("room:message", lambda m: m["id"] == second["id"])
    assert second["seq"] > ack["seq"] and second["id"] > ack["id"]

    await asyncio.sleep(0.3)
    assert [m["id"] for m in ann.received("room:message")] == [second["id"]]
    assert [m["id"] for m in ann_tab2.received("room:message")] == [ack["id"], second["id"]]
    assert [m["id"] for m in bob.received("room:message")] == [ack["id"]]
    assert bob_idle.received("room:message") == [], "a socket that did not join gets nothing"

    assert await ann_tab2.call("room:leave", {"room": "room:crew"}) == {
        "ok": True,
        "room": "room:crew",
    }
    third = await bob.call("room:send", {"room": "room:crew", "body": "still here?"})
    await ann.wait_for("room:message", lambda m: m["id"] == third["id"])
    await asyncio.sleep(0.3)
    assert third["id"] not in [m["id"] for m in ann_tab2.received("room:message")]
    # leaving kept the membership: the socket may post and join again
    again = await ann_tab2.call("room:send", {"room": "room:crew", "body": "yes"})
    assert again["ok"] is True
    assert (await ann_tab2.call("room:join", {"room": "room:crew"}))["ok"] is True


async def test_a_non_member_of_a_private_room_neither_joins_nor_posts(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    await make_room(nc, t, "secret", ["ann"])
    ann = await connect(gw1.url, token("ann", t))
    eve = await connect(gw2.url, token("eve", t))
    clients += [ann, eve]
    assert (await ann.call("room:join", {"room": "room:secret"}))["ok"] is True

    refused(await eve.call("room:join", {"room": "room:secret"}), "NOT_FOUND")
    ack = await eve.call("room:send", {"room": "room:secret", "body": "x", "clientId": "c1"})
    refused(ack, "NOT_FOUND")
    err = await eve.wait_for("chat:error")
    assert err["code"] == "NOT_FOUND" and err["clientId"] == "c1"
    refused(await eve.call("room:join", {"room": "room:nowhere"}), "NOT_FOUND")

    sent = await ann.call("room:send", {"room": "room:secret", "body": "members only"})
    assert sent["ok"] is True
    await asyncio.sleep(0.3)
    assert eve.received("room:message") == []


async def test_a_public_room_is_readable_by_the_tenant_and_writable_by_members(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    await make_room(nc, t, "lobby", ["ann"], visibility="public")
    ann = await connect(gw1.url, token("ann", t))
    carl = await connect(gw2.url, token("carl", t))
    clients += [ann, carl]
    assert await carl.call("room:join", {"room": "room:lobby"}) == {
        "ok": True,
        "room": "room:lobby",
        "role": "public",
    }
    sent = await ann.call("room:send", {"room": "room:lobby", "body": "welcome"})
    msg = await carl.wait_for("room:message", lambda m: m["id"] == sent["id"])
    assert msg["body"] == "welcome"

    refused(await carl.call("room:send", {"room": "room:lobby", "body": "me too"}), "FORBIDDEN")
    assert (await carl.wait_for("chat:error"))["code"] == "FORBIDDEN"

    admin = Identity(tenant=t, user_id="admin", role="admin")
    await call(nc, e.ROOM_JOIN, carl_identity(t), tenant=t, room="lobby")
    posted = await carl.call("room:send", {"room": "room:lobby", "body": "now a member"})
    assert posted["ok"] is True
    await ann.call("room:join", {"room": "room:lobby"})

    await call(nc, e.ROOM_DELETE, admin, tenant=t, room="lobby")
    refused(await ann.call("room:send", {"room": "room:lobby", "body": "late"}), "FORBIDDEN")
    assert (await ann.call("room:join", {"room": "room:lobby"}))["ok"] is True, "archived: read"
    await call(nc, e.ROOM_DELETE, admin, tenant=t, room="lobby", permanent=True)
    refused(await ann.call("room:send", {"room": "room:lobby", "body": "gone"}), "NOT_FOUND")
    refused(await carl.call("room:join", {"room": "room:lobby"}), "NOT_FOUND")


def carl_identity(tenant: str) -> Identity:
    return Identity(tenant=tenant, user_id="carl", role="member")


async def test_another_tenant_never_joins_nor_receives(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t1, t2 = unique("t1"), unique("t2")
    await make_room(nc, t1, "crew", ["ann"], visibility="public")
    await make_room(nc, t2, "crew", ["ann"])
    ann = await connect(gw1.url, token("ann", t1))
    other_ann = await connect(gw2.url, token("ann", t2))
    mallory = await connect(gw2.url, token("mallory", t2))
    clients += [ann, other_ann, mallory]
    assert (await ann.call("room:join", {"room": "room:crew"}))["ok"] is True
    assert (await other_ann.call("room:join", {"room": "room:crew"}))["ok"] is True
    refused(await mallory.call("room:join", {"room": "room:crew"}), "NOT_FOUND")

    sent = await ann.call("room:send", {"room": "room:crew", "body": "t1 only"})
    other = await other_ann.call("room:send", {"room": "room:crew", "body": "t2 only"})
    assert sent["ok"] and other["ok"]
    await asyncio.sleep(0.3)
    assert ann.received("room:message") == []
    assert other_ann.received("room:message") == []
    assert mallory.received("room:message") == []


async def test_a_client_id_retry_gets_the_same_id_and_one_delivery(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    await make_room(nc, t, "crew", ["ann", "bob"])
    ann = await connect(gw1.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    clients += [ann, bob]
    assert (await bob.call("room:join", {"room": "room:crew"}))["ok"] is True

    payload = {"room": "room:crew", "body": "once", "clientId": "k-1"}
    first = await ann.call("room:send", payload)
    retry = await ann.call("room:send", payload)
    assert first["ok"] is True and retry == first
    other = await ann.call("room:send", {**payload, "body": "twice"})
    assert other["ok"] is True and other["id"] == first["id"], "same clientId, same message"
    await bob.wait_for("room:message", lambda m: m["id"] == first["id"])
    marker = await ann.call("room:send", {"room": "room:crew", "body": "marker"})
    await bob.wait_for("room:message", lambda m: m["id"] == marker["id"])
    assert [m["id"] for m in bob.received("room:message")] == [first["id"], marker["id"]]


async def test_a_gateway_subscribes_to_a_room_only_while_it_hosts_a_joined_socket(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    await make_room(nc, t, "crew", ["ann", "bob"])
    ann = await connect(gw1.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    clients += [ann, bob]
    hosted1, hosted2 = stats(gw1)["hosted_subjects"], stats(gw2)["hosted_subjects"]
    received2 = stats(gw2)["deliveries_received"]

    assert (await ann.call("room:join", {"room": "room:crew"}))["ok"] is True
    assert stats(gw1)["hosted_subjects"] == hosted1 + 1
    sent = await bob.call("room:send", {"room": "room:crew", "body": "to gateway 1 only"})
    await ann.wait_for("room:message", lambda m: m["id"] == sent["id"])
    assert stats(gw2)["hosted_subjects"] == hosted2
    assert stats(gw2)["deliveries_received"] == received2, "gateway 2 hosts no joined socket"

    assert (await ann.call("room:leave", {"room": "room:crew"}))["ok"] is True
    assert stats(gw1)["hosted_subjects"] == hosted1, "the last joined socket left"

    assert (await ann.call("room:join", {"room": "room:crew"}))["ok"] is True
    assert stats(gw1)["hosted_subjects"] == hosted1 + 1
    await ann.close()
    for _ in range(100):
        if stats(gw1)["hosted_subjects"] < hosted1:
            break
        await asyncio.sleep(0.05)
    assert stats(gw1)["hosted_subjects"] < hosted1, "closing drops the room and the auto rooms"


async def test_automatic_rooms_and_malformed_names_are_refused(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, _ = stack
    t = unique("acme")
    ann = await connect(gw1.url, token("ann", t))
    clients.append(ann)
    for name in ("user:ann", f"tenant:{t}", "role:member", "manage:global"):
        refused(await ann.call("room:join", {"room": name}), "FORBIDDEN")
        refused(await ann.call("room:leave", {"room": name}), "FORBIDDEN")
        refused(await ann.call("room:send", {"room": name, "body": "x"}), "FORBIDDEN")
    for bad in ("lobby", "room:", "room:a b", ":x", "Room:x", "room:" + "x" * 129):
        refused(await ann.call("room:join", {"room": bad}), "INVALID")
        refused(await ann.call("room:send", {"room": bad, "body": "x"}), "INVALID")
    refused(await ann.call("room:join", {"room": "room:x", "extra": 1}), "INVALID")
    big = "x" * (8 * 1024 + 1)
    refused(await ann.call("room:send", {"room": "room:x", "body": big}), "TOO_LARGE")


async def test_an_entitys_primary_room_is_one_room_under_both_names(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    await make_room(nc, t, "launch", ["ann", "bob"])
    admin = Identity(tenant=t, user_id="admin", role="admin")
    link = {"room": "launch", "entity_type": "event", "entity_id": "42", "is_primary": True}
    await call(nc, e.ROOM_LINK, admin, tenant=t, **link)
    ann = await connect(gw1.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    clients += [ann, bob]
    joined = await bob.call("room:join", {"room": "room:launch"})
    assert joined == {"ok": True, "room": "event:42", "role": "member"}
    sent = await ann.call("room:send", {"room": "room:launch", "body": "by slug"})
    msg = await bob.wait_for("room:message", lambda m: m["id"] == sent["id"])
    assert msg["room"] == "event:42"
    by_entity = await ann.call("room:send", {"room": "event:42", "body": "by entity"})
    await bob.wait_for("room:message", lambda m: m["id"] == by_entity["id"])
    assert by_entity["seq"] > sent["seq"]

    assert await bob.call("room:leave", {"room": "room:launch"}) == {
        "ok": True,
        "room": "room:launch",
    }
    after = await ann.call("room:send", {"room": "event:42", "body": "after leaving"})
    assert after["ok"] is True
    await asyncio.sleep(0.3)
    assert after["id"] not in [m["id"] for m in bob.received("room:message")], "left by slug"


async def test_a_removed_member_leaves_the_room_on_every_gateway_and_gets_nothing_more(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("revoke")
    await make_room(nc, t, "crew", ["ann", "bob"])
    ann = await connect(gw1.url, token("ann", t))
    bob1 = await connect(gw1.url, token("bob", t))
    bob2 = await connect(gw2.url, token("bob", t))
    clients += [ann, bob1, bob2]
    for c in (ann, bob1, bob2):
        assert (await c.call("room:join", {"room": "room:crew"}))["ok"]
    admin = Identity(tenant=t, user_id="admin", role="admin")
    await call(nc, e.ROOM_MEMBER_REMOVE, admin, tenant=t, room="crew", user_id="bob")
    # the call returned: every later message is routed after the revocation
    ack = await ann.call("room:send", {"room": "room:crew", "body": "after bob"})
    assert ack["ok"], ack
    for tab in (bob1, bob2):
        left = await tab.wait_for("room:left", lambda m: m["room"] == "room:crew")
        assert left == {"room": "room:crew", "reason": "removed"}
    await ann.call("room:send", {"room": "room:crew", "body": "still after bob"})
    await asyncio.sleep(0.5)
    for tab in (bob1, bob2):
        assert tab.received("room:message") == [], tab.received("room:message")
    assert ann.received("room:left") == []
    refused(await bob1.call("room:join", {"room": "room:crew"}), "NOT_FOUND")


async def test_archiving_or_deleting_a_room_takes_every_socket_out(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("archive")
    await make_room(nc, t, "old", ["ann", "bob"])
    await make_room(nc, t, "gone", ["ann", "bob"])
    ann = await connect(gw1.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    clients += [ann, bob]
    before = [stats(gw)["hosted_subjects"] for gw in (gw1, gw2)]
    for c in (ann, bob):
        for room in ("room:old", "room:gone"):
            assert (await c.call("room:join", {"room": room}))["ok"]
    assert [stats(gw)["hosted_subjects"] for gw in (gw1, gw2)] == [n + 2 for n in before]
    admin = Identity(tenant=t, user_id="admin", role="admin")
    await call(nc, e.ROOM_DELETE, admin, tenant=t, room="old")
    await call(nc, e.ROOM_DELETE, admin, tenant=t, room="gone", permanent=True)
    for c in (ann, bob):
        old = await c.wait_for("room:left", lambda m: m["room"] == "room:old")
        gone = await c.wait_for("room:left", lambda m: m["room"] == "room:gone")
        assert (old["reason"], gone["reason"]) == ("archived", "deleted")
    # the gateways no longer host the rooms' subjects
    assert [stats(gw)["hosted_subjects"] for gw in (gw1, gw2)] == before


async def test_a_room_turned_private_keeps_its_members_and_takes_everyone_else_out(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("private")
    await make_room(nc, t, "lobby", ["ann", "bob"], visibility="public")
    ann = await connect(gw1.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    eve1 = await connect(gw1.url, token("eve", t))
    eve2 = await connect(gw2.url, token("eve", t))
    clients += [ann, bob, eve1, eve2]
    for c in (ann, bob, eve1, eve2):
        assert (await c.call("room:join", {"room": "room:lobby"}))["ok"]
    admin = Identity(tenant=t, user_id="admin", role="admin")
    await call(nc, e.ROOM_UPDATE, admin, tenant=t, room="lobby", visibility="private")
    # the call returned: every later message is routed after the revocation
    ack = await ann.call("room:send", {"room": "room:lobby", "body": "members only"})
    assert ack["ok"], ack
    for tab in (eve1, eve2):
        left = await tab.wait_for("room:left", lambda m: m["room"] == "room:lobby")
        assert left == {"room": "room:lobby", "reason": "private"}
    await bob.wait_for("room:message", lambda m: m["id"] == ack["id"])
    await asyncio.sleep(0.5)
    for tab in (eve1, eve2):
        assert tab.received("room:message") == [], tab.received("room:message")
    assert ann.received("room:left") == [] and bob.received("room:left") == []
    refused(await eve1.call("room:join", {"room": "room:lobby"}), "NOT_FOUND")
