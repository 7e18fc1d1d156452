"""Presence across tabs, gateways and dead gateways, with real processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.clients import unique
from tests.presence_support import (
    GRACE,
    LEASE_TTL,
    MARGIN,
    SWEEP,
    Stack,
    about,
    barrier,
    count,
    listed,
)
from tests.servers import ServiceProcess


@pytest.fixture
async def stack(
    run_service: Callable[..., ServiceProcess], nats_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    s = Stack(run_service, nats_url, redis_url)
    yield s
    await s.close()


async def test_two_tabs_on_two_gateways_are_one_online_and_one_offline(stack: Stack) -> None:
    g1, g2 = stack.start(presences=2, gateways=2)
    t = unique("t")
    obs = await stack.connect(g1, "obs", t)
    await obs.wait_for("user:online", about("obs", t), timeout=MARGIN)

    tab1 = await stack.connect(g1, "alice", t)
    online = await obs.wait_for("user:online", about("alice"), timeout=MARGIN)
    assert set(online) == {"userId", "tenant", "ts"} and online["tenant"] == t
    tab2 = await stack.connect(g2, "alice", t)
    assert await listed(tab2) == {"obs", "alice"}
    await barrier(stack, g2, obs, t)

    await tab1.close()
    await barrier(stack, g1, obs, t)
    assert "alice" in await listed(obs)

    await tab2.close()
    offline = await obs.wait_for("user:offline", about("alice"), timeout=GRACE + MARGIN)
    assert offline["reason"] == "disconnect" and offline["tenant"] == t
    assert count(obs, "user:online", "alice") == 1
    assert count(obs, "user:offline", "alice") == 1
    assert "alice" not in await listed(obs)


async def test_a_killed_gateway_takes_its_users_offline_within_the_lease(stack: Stack) -> None:
    doomed, survivor = stack.start(presences=1, gateways=2)
    t = unique("t")
    obs = await stack.connect(survivor, "obs", t)
    await stack.connect(doomed, "alice", t)
    await stack.connect(doomed, "bob", t)
    bob2 = await stack.connect(survivor, "bob", t)
    carol = await stack.connect(survivor, "carol", t)
    for user in ("alice", "bob", "carol"):
        await obs.wait_for("user:online", about(user), timeout=MARGIN)
    assert await listed(carol) == {"obs", "alice", "bob", "carol"}
    assert await listed(bob2) == {"obs", "alice", "bob", "carol"}

    killed_at = time.monotonic()
    doomed.kill()
    offline = await obs.wait_for("user:offline", about("alice"), timeout=LEASE_TTL + MARGIN)
    took = time.monotonic() - killed_at
    assert offline["reason"] == "gateway_lost"
    print(f"gateway_lost after {took:.2f}s (lease {LEASE_TTL}s, sweep {SWEEP}s)")
    await barrier(stack, survivor, obs, t)
    assert await listed(obs) == {"obs", "bob", "carol"}
    assert count(obs, "user:offline", "bob") == 0
    assert count(obs, "user:offline", "carol") == 0


async def test_a_stopping_gateway_says_goodbye_with_grace(stack: Stack) -> None:
    leaving, staying = stack.start(presences=1, gateways=2)
    t = unique("t")
    obs = await stack.connect(staying, "obs", t)
    dave = await stack.connect(leaving, "dave", t)
    assert "dave" in await listed(dave)
    leaving.terminate()
    offline = await obs.wait_for("user:offline", about("dave"), timeout=GRACE + MARGIN)
    assert offline["reason"] == "disconnect"
    assert leaving.wait(MARGIN) == 0


async def test_heartbeats_keep_a_connection_past_its_ttl_and_silence_expires_it(
    stack: Stack,
) -> None:
    ttl = 3.0
    (gw,) = stack.start(presences=1, gateways=1, ROOMCAST_PRESENCE_TTL=str(ttl))
    t = unique("t")
    watcher = await stack.connect(gw, "root", unique("ops"), role="super_admin", ns="/manage")
    assert (await watcher.call("manage:watch", {"tenant": t}))["ok"]
    beating = await stack.connect(gw, "alice", t)
    beating_since = time.monotonic()
    silent = await stack.connect(gw, "bob", t)
    assert await listed(silent) == {"alice", "bob"}

    async def heartbeat() -> None:
        while True:
            assert (await beating.call("presence:heartbeat", {}))["ok"]
            await asyncio.sleep(0.5)

    beats = asyncio.create_task(heartbeat())
    try:
        gone = await watcher.wait_for("user:offline", about("bob"), timeout=ttl + MARGIN)
        assert gone["reason"] == "timeout"
        assert time.monotonic() - beating_since > ttl
        assert await listed(beating) == {"alice"}, "heartbeats kept alice online"
        assert beating.sio.connected and silent.sio.connected

        assert (await silent.call("presence:heartbeat", {}))["ok"]
        after = gone["ts"]
        back = await watcher.wait_for(
            "user:online", lambda d: about("bob")(d) and d["ts"] >= after, timeout=MARGIN
        )
        assert back["tenant"] == t, "a heartbeat from an expired tab brings it back"
    finally:
        beats.cancel()
    gone = await watcher.wait_for("user:offline", about("alice"), timeout=ttl + MARGIN)
    assert gone["reason"] == "timeout"
