"""`chat:history` through real gateways: paging, participants only, tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nats
import pytest

from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.identity import Identity
from roomcast.platform import bus
from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, eventually, gateway_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    with gateway_stack(tmp_path_factory.mktemp("history"), database_url) as gateways:
        yield gateways


async def send(client: Client, to: str, body: str) -> str:
    ack = await client.call("chat:send", {"to": to, "body": body})
    assert ack["ok"] is True, ack
    return str(ack["id"])


async def history(client: Client, **query: Any) -> list[dict[str, Any]]:
    ack = await client.call("chat:history", query)
    assert ack["ok"] is True, ack
    return list(ack["messages"])


async def error_code(client: Client, query: dict[str, Any]) -> str:
    ack = await client.call("chat:history", query)
    assert ack["ok"] is False, ack
    return str(ack["error"]["code"])


async def test_pages_are_newest_first_and_cover_the_conversation_once(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("hist")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    clients += [alice, bob]
    sent = []
    for i in range(23):
        sent.append(await send(alice if i % 3 else bob, "bob" if i % 3 else "alice", f"m{i}"))

    async def all_listed() -> bool:
        return len(await history(alice, **{"with": "bob", "limit": 200})) == len(sent)

    await eventually(all_listed, 10, "every message listed", stack.persistence.output)

    pages: list[list[dict[str, Any]]] = []
    before = None
    while True:
        query: dict[str, Any] = {"with": "bob", "limit": 10}
        if before:
            query["before"] = before
        page = await history(alice, **query)
        if not page:
            break
        pages.append(page)
        before = page[-1]["id"]
    assert [len(p) for p in pages] == [10, 10, 3]
    listed = [m["id"] for p in pages for m in p]
    assert listed == list(reversed(sent))
    first = pages[-1][-1]
    assert first["body"] == "m0" and first["from"] == "bob" and first["to"] == "alice"
    assert first["tenant"] == t and isinstance(first["ts"], int) and isinstance(first["seq"], int)
    assert [m["id"] for m in await history(bob, **{"with": "alice", "limit": 200})] == listed


async def test_an_acknowledged_message_is_listed_within_a_second(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("fresh")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    clients += [alice, bob]
    message_id = await send(alice, "bob", "right now")

    async def listed() -> bool:
        return [m["id"] for m in await history(bob, **{"with": "alice"})] == [message_id]

    took = await eventually(listed, 5, "the message listed", stack.persistence.output)
    assert took <= 1.0


async def test_only_participants_and_only_their_tenant(
    stack: Gateways, clients: list[Client]
) -> None:
    t, other = unique("iso"), unique("iso")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    carol = await connect(stack.gw1.url, token("carol", t))
    ann = await connect(stack.gw2.url, token("ann", t, role="admin"))
    twin = await connect(stack.gw1.url, token("alice", other))
    twin_bob = await connect(stack.gw1.url, token("bob", other))
    clients += [alice, bob, carol, ann, twin, twin_bob]
    to_bob = await send(alice, "bob", "secret")
    to_carol = await send(alice, "carol", "hi carol")
    from_carol = await send(carol, "alice", "hi alice")

    async def stored() -> bool:
        return len(await history(alice, room="user:alice")) == 3

    await eventually(stored, 10, "alice's messages listed", stack.persistence.output)

    assert [m["id"] for m in await history(alice, room="user:alice")] == [
        from_carol,
        to_carol,
        to_bob,
    ]
    assert [m["id"] for m in await history(bob, room="user:bob")] == [to_bob]
    assert [m["id"] for m in await history(carol, **{"with": "alice"})] == [from_carol, to_carol]
    assert await history(carol, **{"with": "bob"}) == []
    assert await history(twin, **{"with": "bob"}) == []
    assert await history(twin, room="user:alice") == []
    assert await history(twin_bob, **{"with": "alice"}) == []
    assert await history(ann, room=f"tenant:{t}:admins") == []

    assert await error_code(alice, {"room": "user:bob"}) == "FORBIDDEN"
    assert await error_code(alice, {"room": f"tenant:{t}:admins"}) == "FORBIDDEN"
    assert await error_code(twin, {"room": f"tenant:{t}:admins"}) == "FORBIDDEN"
    assert await error_code(alice, {"room": f"tenant:{t}"}) == "FORBIDDEN"


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"with": "bob", "room": "user:alice"},
        {"with": "bob", "limit": 0},
        {"with": "bob", "limit": 201},
        {"with": "bob", "before": "not-an-id"},
        {"with": "bob", "tenant": "other"},
    ],
)
async def test_malformed_queries_are_invalid(
    stack: Gateways, clients: list[Client], query: dict[str, Any]
) -> None:
    alice = await connect(stack.gw1.url, token("alice", unique("bad")))
    clients.append(alice)
    assert await error_code(alice, query) == "INVALID"


async def test_explicit_room_history_is_for_those_who_may_read_the_room(
    stack: Gateways, clients: list[Client]
) -> None:
    t, other = unique("rh"), unique("rh")
    nc = await nats.connect(stack.nats_url)
    try:
        admin = Identity(tenant=t, user_id="boss", role="admin")
        for slug, visibility in (("crew", "private"), ("hall", "public")):
            create = x.CreateRoom(
                identity=admin, tenant=t, name=slug, slug=slug, visibility=visibility
            )
            assert (await bus.request(nc, e.ROOM_CREATE, create)).ok
            add = x.AddMember(identity=admin, tenant=t, room=slug, user_id="ann")
            assert (await bus.request(nc, e.ROOM_MEMBER_ADD, add)).ok
    finally:
        await nc.close()
    ann = await connect(stack.gw1.url, token("ann", t))
    eve = await connect(stack.gw2.url, token("eve", t))
    twin = await connect(stack.gw2.url, token("ann", other))
    clients += [ann, eve, twin]
    posted = []
    for room, body in (("room:crew", "one"), ("room:crew", "two"), ("room:hall", "open")):
        ack = await ann.call("room:send", {"room": room, "body": body})
        assert ack["ok"] is True, ack
        posted.append(ack)
    dm = await send(ann, "eve", "direct")

    async def listed() -> bool:
        return len(await history(ann, room="room:crew")) == 2 and bool(
            await history(eve, room="room:hall")
        )

    await eventually(listed, 10, "room messages listed", stack.persistence.output)
    crew = await history(ann, room="room:crew")
    assert [m["id"] for m in crew] == [posted[1]["id"], posted[0]["id"]]
    assert crew[0]["room"] == "room:crew" and crew[0]["from"] == "ann" and "to" not in crew[0]
    assert crew[0]["seq"] == posted[1]["seq"] and crew[0]["ts"] == posted[1]["ts"]
    assert [m["body"] for m in await history(eve, room="room:hall")] == ["open"]
    assert [m["id"] for m in await history(ann, room="user:ann")] == [dm], "DMs only"

    assert await error_code(eve, {"room": "room:crew"}) == "NOT_FOUND"
    assert await error_code(twin, {"room": "room:crew"}) == "NOT_FOUND"
    assert await error_code(ann, {"room": "room:nowhere"}) == "NOT_FOUND"
