"""Recovery of explicit rooms after a reconnect, through real gateways and services.

A socket subscribed to `room:{slug}` disconnects, messages are posted, and it comes
back (to either gateway) with `auth.since`: it is re-subscribed and gets exactly what
it missed as `room:message`, then `session:recovered`, then live messages. A member
removed meanwhile gets a refusal reason and nothing of the room.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts import endpoints as e
from contracts.identity import Identity
from roomcast.platform import bus
from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, gateway_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    with gateway_stack(tmp_path_factory.mktemp("room-recovery"), database_url) as gateways:
        yield gateways


@pytest.fixture
async def nc(stack: Gateways) -> AsyncIterator[NATS]:
    client = await nats.connect(stack.nats_url)
    yield client
    await client.close()


async def call(nc: NATS, endpoint: Any, who: Identity, **fields: Any) -> Any:
    reply = await bus.request(nc, endpoint, endpoint.request(identity=who, **fields), wait=10)
    assert reply.ok, reply.error
    return reply


def admin(tenant: str) -> Identity:
    return Identity(tenant=tenant, user_id="admin", role="admin")


async def make_room(nc: NATS, tenant: str, slug: str, members: list[str]) -> None:
    await call(nc, e.ROOM_CREATE, admin(tenant), tenant=tenant, name=slug.title(), slug=slug)
    for user in members:
        await call(nc, e.ROOM_MEMBER_ADD, admin(tenant), tenant=tenant, room=slug, user_id=user)


async def post(client: Client, room: str, body: str) -> dict[str, Any]:
    ack = await client.call("room:send", {"room": room, "body": body})
    assert ack["ok"] is True, ack
    return dict(ack)


async def reconnect(url: str, tok: str, since: dict[str, int]) -> Client:
    return await Client().connect(url, auth={"token": tok, "since": since})


def timeline(client: Client) -> list[tuple[str, Any]]:
    """`(event, id or rooms)` in arrival order, presence events left out."""
    out: list[tuple[str, Any]] = []
    for event, data in client.events:
        if event in ("room:message", "chat:message"):
            out.append((event, data["id"]))
        elif event == "session:recovered":
            out.append((event, data["rooms"]))
    return out


@pytest.mark.parametrize("back_to", ["same gateway", "other gateway"])
async def test_missed_room_messages_then_recovered_then_live(
    stack: Gateways, clients: list[Client], nc: NATS, back_to: str
) -> None:
    t = unique("roomrec")
    await make_room(nc, t, "crew", ["ann", "bob"])
    ann = await connect(stack.gw1.url, token("ann", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    clients += [ann, bob]
    for c in (ann, bob):
        assert (await c.call("room:join", {"room": "room:crew"}))["ok"] is True
    first = await post(ann, "room:crew", "before")
    seen = (await bob.wait_for("room:message", lambda m: m["id"] == first["id"]))["seq"]
    await bob.close()

    missed = [await post(ann, "room:crew", f"missed {i}") for i in range(3)]
    once = {"room": "room:crew", "body": "retried", "clientId": "k-1"}
    missed.append(dict(await ann.call("room:send", once)))
    assert await ann.call("room:send", once) == missed[-1], "a retry gets the same message"
    gw = stack.gw1 if back_to == "same gateway" else stack.gw2
    back = await reconnect(gw.url, token("bob", t), {"room:crew": seen})
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    live = await post(ann, "room:crew", "live")
    await back.wait_for("room:message", lambda m: m["id"] == live["id"])

    # the retried clientId is in the log, and so in the replay, once
    assert recovered == {"rooms": [{"room": "room:crew", "recovered": True, "replayed": 4}]}
    assert timeline(back) == [
        *(("room:message", ack["id"]) for ack in missed),
        ("session:recovered", recovered["rooms"]),
        ("room:message", live["id"]),
    ]
    assert back.received("room:message")[0] == {
        "id": missed[0]["id"],
        "tenant": t,
        "room": "room:crew",
        "from": "ann",
        "body": "missed 0",
        "ts": missed[0]["ts"],
        "seq": missed[0]["seq"],
    }
    # re-subscribed as by room:join: room:leave takes it out again
    assert await back.call("room:leave", {"room": "room:crew"}) == {"ok": True, "room": "room:crew"}
    after = await post(ann, "room:crew", "after leaving")
    marker = await post(back, "room:crew", "marker")
    await ann.wait_for("room:message", lambda m: m["id"] == marker["id"])
    await asyncio.sleep(0.2)
    assert after["id"] not in [m["id"] for m in back.received("room:message")]


async def test_messages_posted_during_the_reconnect_arrive_once_and_in_order(
    stack: Gateways, clients: list[Client], nc: NATS
) -> None:
    t = unique("roomrace")
    await make_room(nc, t, "crew", ["ann", "bob"])
    ann = await connect(stack.gw1.url, token("ann", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    clients += [ann, bob]
    assert (await bob.call("room:join", {"room": "room:crew"}))["ok"] is True
    first = await post(ann, "room:crew", "first")
    seen = (await bob.wait_for("room:message", lambda m: m["id"] == first["id"]))["seq"]
    await bob.close()
    before = [(await post(ann, "room:crew", f"offline {i}"))["id"] for i in range(3)]
    dm = await ann.call("chat:send", {"to": "bob", "body": "a direct one"})
    assert dm["ok"] is True, dm

    async def keep_posting() -> list[str]:
        return [(await post(ann, "room:crew", f"racing {i}"))["id"] for i in range(15)]

    racing_task = asyncio.create_task(keep_posting())
    back = await reconnect(stack.gw1.url, token("bob", t), {"room:crew": seen, "user:bob": seen})
    clients.append(back)
    racing = await racing_task
    await back.wait_for("room:message", lambda m: m["id"] == racing[-1])
    recovered = await back.wait_for("session:recovered")

    events = timeline(back)
    room_ids = [value for event, value in events if event == "room:message"]
    assert room_ids == before + racing, "each message once, in order"
    assert [value for event, value in events if event == "chat:message"] == [dm["id"]]
    marker = next(i for i, (event, _) in enumerate(events) if event == "session:recovered")
    counts = {r["room"]: r["replayed"] for r in recovered["rooms"]}
    assert counts["user:bob"] == 1 and counts["room:crew"] >= len(before)
    assert marker == counts["room:crew"] + 1, "the replay comes before session:recovered"
    replay = [m for event, m in back.events if event in ("room:message", "chat:message")]
    seqs = [m["seq"] for m in replay]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "one log order across rooms"
    assert next(m["seq"] for m in replay if m["id"] == dm["id"]) > seen


async def test_an_entitys_primary_room_is_recovered_under_either_name(
    stack: Gateways, clients: list[Client], nc: NATS
) -> None:
    t = unique("roomentity")
    await make_room(nc, t, "launch", ["ann", "bob"])
    link = {"room": "launch", "entity_type": "event", "entity_id": "42", "is_primary": True}
    await call(nc, e.ROOM_LINK, admin(t), tenant=t, **link)
    ann = await connect(stack.gw1.url, token("ann", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    clients += [ann, bob]
    assert (await bob.call("room:join", {"room": "event:42"}))["ok"] is True
    first = await post(ann, "room:launch", "first")
    seen = (await bob.wait_for("room:message", lambda m: m["id"] == first["id"]))["seq"]
    await bob.close()
    missed = await post(ann, "event:42", "missed")

    back = await reconnect(stack.gw1.url, token("bob", t), {"room:launch": seen})
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    assert recovered["rooms"] == [{"room": "room:launch", "recovered": True, "replayed": 1}]
    replayed = back.received("room:message")
    assert [(m["id"], m["room"]) for m in replayed] == [(missed["id"], "event:42")]
    live = await post(ann, "room:launch", "live")
    await back.wait_for("room:message", lambda m: m["id"] == live["id"])
    # joined under both names, as room:join by the slug would: either name leaves it
    assert (await back.call("room:leave", {"room": "event:42"}))["ok"] is True
    after = await post(ann, "room:launch", "after leaving")
    marker = await post(ann, "room:launch", "marker")
    await asyncio.sleep(0.3)
    assert {after["id"], marker["id"]}.isdisjoint(m["id"] for m in back.received("room:message"))


async def test_a_member_removed_while_away_is_refused_and_gets_nothing(
    stack: Gateways, clients: list[Client], nc: NATS
) -> None:
    t = unique("roomgone")
    await make_room(nc, t, "crew", ["ann", "bob"])
    await make_room(nc, t, "open", ["ann", "bob"])
    ann = await connect(stack.gw1.url, token("ann", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    clients += [ann, bob]
    for room in ("room:crew", "room:open"):
        assert (await bob.call("room:join", {"room": room}))["ok"] is True
    first = await post(ann, "room:crew", "first")
    seen = (await bob.wait_for("room:message", lambda m: m["id"] == first["id"]))["seq"]
    await bob.close()
    await post(ann, "room:crew", "secret after bob left")
    await call(nc, e.ROOM_MEMBER_REMOVE, admin(t), tenant=t, room="crew", user_id="bob")
    await post(ann, "room:crew", "secret after bob was removed")
    kept = await post(ann, "room:open", "bob is still here")

    since = {"room:crew": seen, "room:open": seen, "room:nowhere": seen, "room:bad name": 0}
    back = await reconnect(stack.gw2.url, token("bob", t), since)
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    assert recovered["rooms"] == [
        {"room": "room:crew", "recovered": False, "replayed": 0, "reason": "not_found"},
        {"room": "room:open", "recovered": True, "replayed": 1},
        {"room": "room:nowhere", "recovered": False, "replayed": 0, "reason": "not_found"},
        {"room": "room:bad name", "recovered": False, "replayed": 0, "reason": "unknown_room"},
    ]
    assert [m["id"] for m in back.received("room:message")] == [kept["id"]]
    await post(ann, "room:crew", "later")
    live = await post(ann, "room:open", "live")
    await back.wait_for("room:message", lambda m: m["id"] == live["id"])
    await asyncio.sleep(0.2)
    assert all(m["room"] == "room:open" for m in back.received("room:message"))
