"""Redis stops and comes back empty: clear errors meanwhile, the right state after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest

from contracts import delivery
from contracts.rooms import Room
from roomcast.dev.embedded import EmbeddedRedis
from tests.clients import Client, unique
from tests.presence_support import (
    GAP,
    GRACE,
    LEASE_TTL,
    MARGIN,
    RECOVERY_HOLD,
    Stack,
    about,
    count,
    listed,
)
from tests.servers import ServiceProcess


@pytest.fixture
async def private_redis(embedded_redis: Callable[..., EmbeddedRedis]) -> EmbeddedRedis:
    return embedded_redis()


@pytest.fixture
async def stack(
    run_service: Callable[..., ServiceProcess], nats_url: str, private_redis: EmbeddedRedis
) -> AsyncIterator[Stack]:
    s = Stack(run_service, nats_url, private_redis.url)
    yield s
    await s.close()


async def until_code(client: Client, event: str, data: Any, code: str) -> dict[str, Any]:
    """Call `event` every 0.2 s until its ack carries `code` ('' = ok)."""
    async with asyncio.timeout(MARGIN):
        while True:
            ack: dict[str, Any] = await client.call(event, data)
            got = "" if ack["ok"] else ack["error"]["code"]
            if got == code:
                return ack
            await asyncio.sleep(0.2)


async def test_redis_outage_is_unavailable_then_presence_rebuilds_itself(
    stack: Stack, private_redis: EmbeddedRedis, nats_url: str
) -> None:
    (gw,) = stack.start(presences=1, gateways=1)
    t = unique("t")
    obs = await stack.connect(gw, "obs", t)
    alice = await stack.connect(gw, "alice", t)
    bob = await stack.connect(gw, "bob", t)
    assert await listed(bob) == {"obs", "alice", "bob"}
    await obs.wait_for("user:online", about("bob"), timeout=MARGIN)

    private_redis.stop()
    down = await until_code(alice, "presence:list", {}, "UNAVAILABLE")
    assert "unavailable" in down["error"]["message"]
    await until_code(alice, "presence:heartbeat", {}, "UNAVAILABLE")

    await bob.close()
    carol = await stack.connect(gw, "carol", t)
    nc = await nats.connect(nats_url)
    try:
        headers, body = delivery.encode("chat:message", {"body": "still here"})
        await nc.publish(Room.user(t, "alice").subject, body, headers=headers)
        await nc.flush()
        await alice.wait_for("chat:message", lambda d: d["body"] == "still here")
    finally:
        await nc.close()

    private_redis.start()
    await until_code(alice, "presence:heartbeat", {}, "")
    hold = GRACE + RECOVERY_HOLD + MARGIN
    await obs.wait_for("user:online", about("carol"), timeout=MARGIN)
    gone = await obs.wait_for("user:offline", about("bob"), timeout=hold)
    assert gone["reason"] == "disconnect"
    assert await listed(carol) == {"obs", "alice", "carol"}
    assert count(obs, "user:online", "alice") == 1, "restored without a second online"
    assert count(obs, "user:online", "obs") == 1


async def test_a_presence_outage_does_not_reap_gateways_that_kept_trying(stack: Stack) -> None:
    (gw,) = stack.start(presences=1, gateways=1)
    (replica,) = stack.replicas
    t = unique("t")
    obs = await stack.connect(gw, "obs", t)
    alice = await stack.connect(gw, "alice", t)
    assert await listed(alice) == {"obs", "alice"}

    replica.kill()
    carol = await stack.connect(gw, "carol", t)
    await until_code(carol, "presence:heartbeat", {}, "UNAVAILABLE")
    await asyncio.sleep(GAP + LEASE_TTL)  # the scenario: an outage longer than gap and lease
    replica.start(timeout=60)

    await obs.wait_for("user:online", about("carol"), timeout=MARGIN)
    dave = await stack.connect(gw, "dave", t)
    assert "dave" in await listed(dave)
    await dave.close()
    await obs.wait_for("user:offline", about("dave"), timeout=GRACE + LEASE_TTL + MARGIN)
    assert count(obs, "user:offline", "alice") == 0, "the gateway renewed during the hold"
    assert await listed(obs) == {"obs", "alice", "carol"}
