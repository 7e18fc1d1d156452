"""Per-user and per-tenant rate limits that hold across gateways (Redis, GCRA)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from contracts.identity import Identity
from services.gateway.shared_limits import Limit, SharedLimits
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack


@pytest.fixture
async def limits_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def who(user: str, tenant: str) -> Identity:
    return Identity(tenant=tenant, user_id=user, role="member")


async def test_a_user_budget_and_a_tenant_budget_are_spent_together(
    limits_redis: aioredis.Redis,
) -> None:
    prefix = f"test:rl:{uuid.uuid4().hex[:8]}:"
    limits = SharedLimits(limits_redis, prefix, Limit(2.0, 3), Limit(2.0, 5))
    t = unique("acme")
    assert [await limits.wait(who("ann", t)) for _ in range(3)] == [0, 0, 0]
    assert await limits.wait(who("ann", t)) > 0, "ann's burst of 3 is spent"
    assert [await limits.wait(who("bob", t)) for _ in range(2)] == [0, 0]
    refused = await limits.wait(who("bob", t))
    assert 0 < refused <= 0.5, "the tenant's burst of 5 is spent, by ann and bob together"
    assert await limits.wait(who("ann", unique("other"))) == 0, "another tenant is not"
    await asyncio.sleep(0.6)
    assert await limits.wait(who("bob", t)) == 0, "half a second later one more goes"
    assert limits.refused == 2


async def test_redis_away_lets_events_through_and_counts_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = aioredis.Redis.from_url(
        f"redis://127.0.0.1:{port}/0", socket_timeout=0.2, socket_connect_timeout=0.2
    )
    limits = SharedLimits(client, "x:", Limit(1.0, 1), None)
    assert [await limits.wait(who("ann", "t")) for _ in range(3)] == [0, 0, 0]
    assert limits.errors == 3
    await client.aclose()


@pytest.fixture(scope="module")
def gateways(
    stack_factory: Stack, redis_url: str
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    env = {
        "ROOMCAST_REDIS_URL": redis_url,
        "ROOMCAST_USER_RATE_LIMIT_PER_SEC": "0.5",
        "ROOMCAST_USER_RATE_LIMIT_BURST": "4",
        "ROOMCAST_RATE_LIMIT_KEY_PREFIX": f"test:rl:{uuid.uuid4().hex[:8]}:",
    }
    stack_factory.start("rooms")
    gw1 = stack_factory.start("gateway", env, instance="limited-1")
    gw2 = stack_factory.start("gateway", env, instance="limited-2")
    yield gw1, gw2


async def test_one_users_tabs_on_two_gateways_share_one_budget(
    gateways: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, gw2 = gateways
    t = unique("acme")
    tab1 = await connect(gw1.url, token("ann", t))
    tab2 = await connect(gw2.url, token("ann", t))
    other = await connect(gw2.url, token("bob", t))
    clients += [tab1, tab2, other]
    codes = []
    for i in range(6):
        ack = await (tab1 if i % 2 else tab2).call("no:such-event", {})
        codes.append(ack["error"]["code"])
    # each tab sent 3 events, far below its own connection's limit; together they pass 4
    assert codes[:4] == ["INVALID"] * 4
    assert codes[4:] == ["RATE_LIMITED"] * 2
    assert (await other.call("no:such-event", {}))["error"]["code"] == "INVALID"
