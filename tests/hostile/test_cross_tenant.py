"""The cross-tenant matrix: no client event on /tenant lets tenant A read or reach tenant B.

Two gateways; each tenant has a user on each, and both tenants have a user named
`carol`. Every client event is tried from A with B's ids (and with a `tenant` field,
which /tenant payloads do not have): each answer is a refusal, or an answer about A
only. B's sockets must receive nothing from A, and the gateways' HTTP endpoints name
no tenant at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest

from roomcast.sdk.publisher import Publisher
from tests.clients import Client, connect, http_get, token, unique
from tests.presence_support import presence_env
from tests.servers import ServiceProcess
from tests.stack import Stack

SHARED = "carol"


@dataclass
class World:
    gw1: ServiceProcess
    gw2: ServiceProcess
    tenant_a: str
    tenant_b: str
    alice: str
    bob: str
    nats_url: str


@pytest.fixture(scope="module")
def world(stack_factory: Stack, redis_url: str, nats_url: str) -> Iterator[World]:
    stack_factory.start("rooms", instance="rooms-xt")
    stack_factory.start("persistence", instance="persistence-xt")
    stack_factory.start(
        "presence", {"ROOMCAST_REDIS_URL": redis_url, **presence_env(unique("xt"))}, "presence-xt"
    )
    gw1 = stack_factory.start("gateway", instance="gw-xt-1")
    gw2 = stack_factory.start("gateway", instance="gw-xt-2")
    yield World(gw1, gw2, unique("ta"), unique("tb"), unique("alice"), unique("bob"), nats_url)


@dataclass
class Sockets:
    alice: Client
    carol_a: Client
    bob: Client
    carol_b: Client


@pytest.fixture
async def sockets(world: World, clients: list[Client]) -> Sockets:
    """A's alice on gateway 1 and carol on 2; B's bob on 2 and carol on 1; B talks first."""
    a, b = world.tenant_a, world.tenant_b
    s = Sockets(
        alice=await connect(world.gw1.url, token(world.alice, a)),
        carol_a=await connect(world.gw2.url, token(SHARED, a)),
        bob=await connect(world.gw2.url, token(world.bob, b)),
        carol_b=await connect(world.gw1.url, token(SHARED, b)),
    )
    clients += [s.alice, s.carol_a, s.bob, s.carol_b]
    ack = await s.bob.call("chat:send", {"to": SHARED, "body": "secret-of-B"})
    assert ack["ok"], ack
    await s.carol_b.wait_for("chat:message", lambda m: m["body"] == "secret-of-B")
    return s


def refusal(ack: Any) -> str:
    assert isinstance(ack, dict) and ack.get("ok") is False, ack
    return str(ack["error"]["code"])


ROWS: dict[str, tuple[str, dict[str, Any], set[str]]] = {
    "chat:send to B's user": ("chat:send", {"to": "<bob>", "body": "from-A"}, {"FORBIDDEN"}),
    "chat:send naming B": (
        "chat:send",
        {"tenant": "<B>", "to": "<bob>", "body": "from-A"},
        {"INVALID"},
    ),
    "chat:history naming B": ("chat:history", {"tenant": "<B>", "with": "<bob>"}, {"INVALID"}),
    "presence:list naming B": ("presence:list", {"tenant": "<B>"}, {"INVALID"}),
    "presence:heartbeat naming B": ("presence:heartbeat", {"tenant": "<B>"}, {"INVALID"}),
    "manage:watch B": ("manage:watch", {"tenant": "<B>"}, {"FORBIDDEN"}),
    "manage:unwatch B": ("manage:unwatch", {"tenant": "<B>"}, {"FORBIDDEN"}),
    "room:join B's tenant room": ("room:join", {"room": "tenant:<B>"}, {"FORBIDDEN"}),
    "room:join B's user room": ("room:join", {"room": "user:<bob>"}, {"FORBIDDEN"}),
    "room:leave B's tenant room": ("room:leave", {"room": "tenant:<B>"}, {"FORBIDDEN"}),
    "room:send to B": ("room:send", {"room": "tenant:<B>", "body": "from-A"}, {"FORBIDDEN"}),
    "room:join naming B": ("room:join", {"tenant": "<B>", "room": "room:lobby"}, {"INVALID"}),
    "room:send naming B": (
        "room:send",
        {"tenant": "<B>", "room": "room:lobby", "body": "from-A"},
        {"INVALID"},
    ),
    "notification:read of B": (
        "notification:read",
        {"tenantId": "<B>", "notificationId": "1", "userId": "<bob>", "status": "READ"},
        {"FORBIDDEN"},
    ),
    "notification:read of B's user": (
        "notification:read",
        {"notificationId": "1", "userId": "<bob>", "status": "READ"},
        {"FORBIDDEN"},
    ),
    "notification:list naming B": ("notification:list", {"tenant": "<B>"}, {"INVALID"}),
    "notification:dismiss naming B": (
        "notification:dismiss",
        {"tenant": "<B>", "id": "1"},
        {"INVALID"},
    ),
}
"""Event, payload (`<B>`, `<bob>`: B's tenant and user) and the accepted refusals."""


def filled(payload: dict[str, Any], w: World) -> dict[str, Any]:
    text = json.dumps(payload).replace("<B>", w.tenant_b).replace("<bob>", w.bob)
    return dict(json.loads(text))


@pytest.mark.parametrize("row", sorted(ROWS))
async def test_refused_rows(world: World, sockets: Sockets, row: str) -> None:
    event, payload, codes = ROWS[row]
    assert refusal(await sockets.alice.call(event, filled(payload, world))) in codes
    await nothing_reached_b(world, sockets)


async def test_a_dm_to_a_shared_user_id_stays_in_a(world: World, sockets: Sockets) -> None:
    assert (await sockets.alice.call("chat:send", {"to": SHARED, "body": "from-A"}))["ok"]
    await sockets.carol_a.wait_for("chat:message", lambda m: m["body"] == "from-A")
    await nothing_reached_b(world, sockets)


@pytest.mark.parametrize(
    "query",
    [{"with": "<bob>"}, {"with": SHARED}, {"room": "tenant:<B>"}, {"room": "user:<bob>"}],
    ids=["with B's user", "with the shared id", "B's tenant room", "B's user room"],
)
async def test_history_shows_nothing_of_b(
    world: World, sockets: Sockets, query: dict[str, Any]
) -> None:
    ack = await sockets.carol_a.call("chat:history", filled(query, world))
    if ack["ok"]:
        assert all(m["tenant"] == world.tenant_a for m in ack["messages"]), ack
    else:
        assert refusal(ack) in {"FORBIDDEN", "INVALID", "NOT_FOUND", "UNAVAILABLE"}
    assert "secret-of-B" not in json.dumps(ack)


async def test_notifications_of_b_are_neither_listed_nor_readable_by_id(
    world: World, sockets: Sockets
) -> None:
    nc = await nats.connect(world.nats_url)
    try:
        sent = await Publisher(nc).notify_tenant(world.tenant_b, title="secret-of-B")
    finally:
        await nc.close()
    await sockets.bob.wait_for("notification:new", lambda n: n["id"] == sent.id)
    ack = await sockets.carol_a.call("notification:list", {"status": "all"})
    assert ack["ok"] and "secret-of-B" not in json.dumps(ack), ack
    for event in ("notification:read", "notification:dismiss"):
        assert refusal(await sockets.carol_a.call(event, {"id": sent.id})) == "NOT_FOUND"
    bob = await sockets.bob.call("notification:list", {})
    assert [n["status"] for n in bob["notifications"]] == ["unread"], bob
    assert sockets.alice.received("notification:new") == []
    assert sockets.carol_a.received("notification:new") == []


async def test_presence_list_names_no_b_user(world: World, sockets: Sockets) -> None:
    ack = await sockets.carol_a.call("presence:list", {})
    if not ack["ok"]:
        assert refusal(ack) == "UNAVAILABLE"
    text = json.dumps(ack)
    assert world.bob not in text and world.tenant_b not in text, ack


async def test_refresh_with_the_same_user_of_another_tenant_is_forbidden(
    world: World, sockets: Sockets
) -> None:
    ack = await sockets.carol_a.call("auth:refresh", {"token": token(SHARED, world.tenant_b)})
    assert refusal(ack) == "FORBIDDEN"
    assert (await sockets.carol_a.call("chat:send", {"to": world.alice, "body": "from-A"}))["ok"]
    await sockets.alice.wait_for("chat:message", lambda m: m["body"] == "from-A")
    await nothing_reached_b(world, sockets)


async def nothing_reached_b(world: World, s: Sockets) -> None:
    """After a sentinel B sends itself through both gateways, B has seen nothing of A."""
    marker = unique("sentinel")
    assert (await s.carol_b.call("chat:send", {"to": world.bob, "body": marker}))["ok"]
    await s.bob.wait_for("chat:message", lambda m: m["body"] == marker)
    for client in (s.bob, s.carol_b):
        text = json.dumps(client.events)
        for leak in (world.tenant_a, world.alice, "from-A"):
            assert leak not in text, (leak, client.events)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/statz", "/statz?tenant=x", "/nope"])
async def test_http_endpoints_name_no_tenant(world: World, sockets: Sockets, path: str) -> None:
    for gw in (world.gw1, world.gw2):
        for base in (gw.url, gw.health_url):
            status, body = http_get(f"{base}{path}")
            text = json.dumps(body)
            for secret in (world.tenant_a, world.tenant_b, world.alice, world.bob, SHARED):
                assert secret not in text, (path, body)
            if path.startswith("/statz") and base == gw.health_url:
                assert all(isinstance(v, int) for v in body.values()), body
            if path.startswith("/statz") and base == gw.url:
                assert status == 404, "counters are not served on the public port"
            assert status in {200, 404, 503}
