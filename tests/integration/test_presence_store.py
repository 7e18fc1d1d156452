"""The Redis presence store (its Lua scripts) against a real Redis.

Replicas are simulated by separate clients calling the same scripts concurrently.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from contracts.presence import ClosedConnection, GatewayReport, OfflineReason, OpenedConnection
from services.presence.adapters.store import RedisPresenceStore, Timing
from services.presence.domain.changes import Change

TIMING = Timing(ttl_ms=600, grace_ms=200, recovery_hold_ms=300, gap_ms=60_000)
LEASE_MS = 400
DISCONNECT, TIMEOUT, LOST = (
    OfflineReason.DISCONNECT,
    OfflineReason.TIMEOUT,
    OfflineReason.GATEWAY_LOST,
)

StoreFactory = Callable[..., RedisPresenceStore]


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[StoreFactory]:
    """Factory of stores sharing one key prefix, each with its own client (a replica)."""
    prefix = f"test:presence:{uuid.uuid4().hex[:8]}:"
    clients: list[aioredis.Redis] = []

    def make(timing: Timing = TIMING) -> RedisPresenceStore:
        client = aioredis.Redis.from_url(redis_url)
        clients.append(client)
        return RedisPresenceStore(client, prefix, timing)

    yield make
    keys = [k async for k in clients[0].scan_iter(f"{prefix}*")] if clients else []
    if keys:
        await clients[0].delete(*keys)
    for client in clients:
        await client.aclose()


def opened(sid: str, user: str, tenant: str = "t1", acked: bool = False) -> OpenedConnection:
    return OpenedConnection(
        sid=sid, tenant=tenant, user_id=user, name=user.title(), age_ms=0, idle_ms=0, acked=acked
    )


def closed(sid: str, user: str, tenant: str = "t1") -> ClosedConnection:
    return ClosedConnection(sid=sid, tenant=tenant, user_id=user)


class Gateway:
    """Drives one gateway's reports the way `PresenceReporter` does."""

    def __init__(self, store: RedisPresenceStore, name: str, lease_ms: int = LEASE_MS) -> None:
        self.store, self.name, self.lease_ms, self.epoch = store, name, lease_ms, ""

    async def join(self) -> list[Change]:
        return await self.send(resync=True)

    async def send(self, *, resync: bool = False, **items: object) -> list[Change]:
        report = GatewayReport(
            gateway=self.name, epoch=self.epoch, lease_ttl_ms=self.lease_ms, resync=resync, **items
        )
        outcome = await self.store.report(report)
        assert not outcome.resync, "unexpected resync"
        self.epoch = outcome.epoch
        self.unknown = outcome.unknown
        return outcome.changes


async def sweep_until(
    store: RedisPresenceStore, done: Callable[[list[Change]], bool], within: float = 10.0
) -> list[Change]:
    """Sweep every 50 ms, collecting changes, until `done(changes)`."""
    seen: list[Change] = []
    async with asyncio.timeout(within):
        while not done(seen):
            seen += (await store.sweep(1000)).changes
            if not done(seen):
                await asyncio.sleep(0.05)
    return seen


async def users(store: RedisPresenceStore, tenant: str = "t1") -> set[str]:
    return {u.user_id for u in await store.online(tenant)}


async def test_one_online_per_user_and_offline_after_the_last_tab_and_grace(
    stores: StoreFactory,
) -> None:
    store = stores()
    a, b = Gateway(store, "a"), Gateway(store, "b")
    await a.join()
    await b.join()
    assert await a.send(opened=[opened("s1", "alice")]) == [Change("t1", "alice")]
    assert await b.send(opened=[opened("s2", "alice")]) == []
    assert await a.send(closed=[closed("s1", "alice")]) == []
    assert await b.send(closed=[closed("s2", "alice")]) == []
    assert await users(store) == {"alice"}, "online during the grace window"
    gone = await sweep_until(store, bool)
    assert gone == [Change("t1", "alice", DISCONNECT)]
    assert await users(store) == set()


async def test_a_reload_within_the_grace_window_is_silent(stores: StoreFactory) -> None:
    store = stores()
    gw = Gateway(store, "a", lease_ms=60_000)
    await gw.join()
    await gw.send(opened=[opened("s1", "alice")])
    since = (await store.online("t1"))[0].since
    assert await gw.send(closed=[closed("s1", "alice")]) == []
    assert await gw.send(opened=[opened("s2", "alice")]) == []
    await asyncio.sleep(TIMING.grace_ms / 1000 * 2)  # let the grace window pass
    assert (await store.sweep(100)).changes == []
    assert [u.since for u in await store.online("t1")] == [since]


async def test_replicas_racing_on_first_connections_announce_each_user_once(
    stores: StoreFactory,
) -> None:
    replicas = [stores() for _ in range(4)]
    gateways = [Gateway(r, f"g{i}") for i, r in enumerate(replicas)]
    for gw in gateways:
        await gw.join()
    results = await asyncio.gather(
        *(
            gw.send(opened=[opened(f"{gw.name}-{u}", f"user{u}") for u in range(50)])
            for gw in gateways
        )
    )
    announced = [c for changes in results for c in changes]
    assert sorted(c.user_id for c in announced) == sorted(f"user{u}" for u in range(50))


async def test_replicas_sweeping_together_claim_each_expiry_once(stores: StoreFactory) -> None:
    replicas = [stores() for _ in range(3)]
    gw = Gateway(replicas[0], "doomed", lease_ms=100)
    await gw.join()
    await gw.send(opened=[opened(f"s{u}", f"user{u}") for u in range(300)])
    await asyncio.sleep(0.2)  # the lease runs out

    async def sweep(store: RedisPresenceStore) -> list[Change]:
        out: list[Change] = []
        for _ in range(20):
            out += (await store.sweep(25)).changes
        return out

    results = await asyncio.gather(*(sweep(r) for r in replicas))
    gone = [c for changes in results for c in changes]
    assert sorted(c.user_id for c in gone) == sorted(f"user{u}" for u in range(300))
    assert {c.reason for c in gone} == {LOST}


async def test_a_lost_gateway_takes_only_the_users_it_alone_hosted(stores: StoreFactory) -> None:
    store = stores()
    doomed, alive = Gateway(store, "doomed"), Gateway(store, "alive", lease_ms=60_000)
    await doomed.join()
    await alive.join()
    await doomed.send(opened=[opened("d1", "alice"), opened("d2", "bob")])
    await alive.send(opened=[opened("a1", "bob"), opened("a2", "carol")])
    gone = await sweep_until(store, bool)
    assert gone == [Change("t1", "alice", LOST)]
    assert await users(store) == {"bob", "carol"}


async def test_a_reaped_gateway_must_resync_and_is_announced_again(stores: StoreFactory) -> None:
    store = stores()
    gw = Gateway(store, "slow", lease_ms=100)
    await gw.join()
    await gw.send(opened=[opened("s1", "alice", acked=False)])
    await sweep_until(store, bool)
    late = GatewayReport(gateway="slow", epoch=gw.epoch, lease_ttl_ms=100)
    assert (await store.report(late)).resync
    again = await gw.send(resync=True, opened=[opened("s1", "alice", acked=True)])
    assert again == [Change("t1", "alice")], "the offline was announced, so online is too"


async def test_heartbeats_extend_a_connection_and_silence_times_it_out(
    stores: StoreFactory,
) -> None:
    store = stores()
    gw = Gateway(store, "a", lease_ms=60_000)
    await gw.join()
    await gw.send(opened=[opened("beating", "alice"), opened("silent", "bob")])
    loop = asyncio.get_running_loop()
    start = loop.time()
    seen: list[Change] = []
    while not seen:
        await gw.send(alive={"beating": 0, "ghost": 0})
        assert gw.unknown == ["ghost"]
        seen = (await store.sweep(100)).changes
        await asyncio.sleep(0.05)
    assert seen == [Change("t1", "bob", TIMEOUT)]
    assert loop.time() - start >= TIMING.ttl_ms / 1000 * 0.9
    assert await users(store) == {"alice"}
    await gw.send(alive={"silent": 0})
    assert gw.unknown == ["silent"], "a timed-out connection is unknown until reopened"


async def test_lost_state_is_restored_without_repeating_online(stores: StoreFactory) -> None:
    store = stores()
    gw = Gateway(store, "a", lease_ms=60_000)
    await gw.join()
    await gw.send(opened=[opened("s1", "alice"), opened("s2", "bob")])
    keys = [k async for k in store._redis.scan_iter(f"{store._prefix}*")]
    await store._redis.delete(*keys)  # what a Redis restart without persistence does
    stale = GatewayReport(gateway="a", epoch=gw.epoch, lease_ttl_ms=60_000)
    assert (await store.report(stale)).resync
    restored = await gw.send(
        resync=True,
        opened=[opened("s1", "alice", acked=True), opened("s3", "carol")],
        closed=[closed("s2", "bob")],
    )
    assert restored == [Change("t1", "carol")]
    assert await users(store) == {"alice", "bob", "carol"}
    gone = await sweep_until(store, bool)
    assert gone == [Change("t1", "bob", DISCONNECT)]
    assert await users(store) == {"alice", "carol"}


async def test_nothing_expires_while_sweeps_were_missing(stores: StoreFactory) -> None:
    hold = Timing(ttl_ms=60_000, grace_ms=0, recovery_hold_ms=0, gap_ms=150)
    store = stores(hold)
    gw = Gateway(store, "a", lease_ms=300)
    await gw.join()
    await store.sweep(100)
    await gw.send(opened=[opened("s1", "alice")])
    await asyncio.sleep(0.4)  # no sweep for longer than the gap and the lease
    first = await store.sweep(100)
    assert first.held and first.changes == [], "gap: hold instead of reaping"
    await gw.send()  # the gateway renews within the hold
    await asyncio.sleep(0.1)
    assert (await store.sweep(100)).changes == []
    assert await users(store) == {"alice"}


async def test_a_leaving_gateway_closes_its_connections_with_grace(stores: StoreFactory) -> None:
    store = stores()
    gw = Gateway(store, "a", lease_ms=60_000)
    await gw.join()
    await gw.send(opened=[opened("s1", "alice"), opened("s2", "bob", tenant="t2")])
    assert await gw.send(leaving=True) == []
    gone = await sweep_until(store, lambda seen: len(seen) == 2)
    assert sorted((c.tenant, c.user_id, c.reason) for c in gone) == [
        ("t1", "alice", DISCONNECT),
        ("t2", "bob", DISCONNECT),
    ]
    stale = GatewayReport(gateway="a", epoch=gw.epoch, lease_ttl_ms=60_000)
    assert (await store.report(stale)).resync


async def test_tenants_are_kept_apart_even_with_separator_characters(
    stores: StoreFactory,
) -> None:
    store = stores()
    gw = Gateway(store, "a", lease_ms=60_000)
    await gw.join()
    await gw.send(opened=[opened("s1", "b:c", tenant="a"), opened("s2", "c", tenant="a:b")])
    assert await users(store, "a") == {"b:c"}
    assert await users(store, "a:b") == {"c"}
