"""Every acknowledged message ends up in PostgreSQL exactly once, whatever fails.

Real NATS (JetStream, private to this module), real PostgreSQL, the rooms and
persistence services as processes. Messages go through the rooms service exactly as
a gateway sends them; `ok` from it is the acknowledgement a client would get.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts.errors import ServiceError
from contracts.messages import ChatAck
from roomcast.dev.embedded import EmbeddedPostgres
from roomcast.migrations import upgrade
from tests.clients import unique
from tests.persistence_support import eventually, member, private_nats, register, send_dm, stored
from tests.stack import Stack, base_env

BURST = 1000
INFO = {"ROOMCAST_LOG_LEVEL": "INFO", "ROOMCAST_PERSISTENCE_ACK_WAIT": "5"}


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_nats(tmp_path_factory.mktemp("nats")) as server:
        yield server.url


@pytest.fixture
async def nc(nats_server: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_server)
    yield client
    await client.close()


async def burst(
    nc: NATS, tenant: str, count: int, during: Callable[[int], None] = lambda done: None
) -> list[ChatAck]:
    """Send `count` DMs, 25 at a time; `during(done)` runs after each acknowledgement."""
    alice = member(tenant, "alice")
    queue = list(range(count))
    acks: list[ChatAck] = []

    async def worker() -> None:
        while queue:
            i = queue.pop(0)
            try:
                ack = await send_dm(nc, alice, "bob", f"message {i}")
            except ServiceError:  # UNAVAILABLE: outcome unknown, not counted as acked
                continue
            acks.append(ack)
            during(len(acks))

    await asyncio.gather(*(worker() for _ in range(25)))
    return acks


async def test_killing_persistence_mid_burst_loses_and_duplicates_nothing(
    tmp_path: Path, nats_server: str, database_url: str, nc: NATS
) -> None:
    await upgrade(database_url)
    stack = Stack(tmp_path, base_env(nats_server, database_url))
    try:
        stack.start("rooms")
        persistence = stack.start("persistence", INFO)
        tenant = unique("crash")
        await register(nc, member(tenant, "alice"), member(tenant, "bob"))

        def kill_midway(done: int) -> None:
            if done == BURST // 3 and persistence.returncode is None:
                persistence.kill()

        acks = await burst(nc, tenant, BURST, kill_midway)
        assert persistence.returncode is not None, "persistence was not killed mid-burst"
        persistence.start()

        acked = sorted((a.id or "") for a in acks if a.ok)
        assert len(acked) == BURST

        async def all_stored() -> bool:
            return len(await stored(database_url, tenant)) >= len(acked)

        await eventually(all_stored, 60, "every acknowledged message stored", persistence.output)
        rows = await stored(database_url, tenant)
        assert [row_id for row_id, _ in rows] == acked
        assert sorted(body for _, body in rows) == sorted(f"message {i}" for i in range(BURST))
    finally:
        stack.stop()


async def test_postgres_down_keeps_the_contract_and_loses_nothing(
    tmp_path: Path,
    nats_server: str,
    embedded_postgres: Callable[..., EmbeddedPostgres],
    nc: NATS,
) -> None:
    pg = embedded_postgres()
    await upgrade(pg.url)
    stack = Stack(tmp_path, base_env(nats_server, pg.url))
    try:
        stack.start("rooms")
        persistence = stack.start("persistence", {**INFO, "ROOMCAST_PERSISTENCE_RETRY_MAX": "0.5"})
        tenant = unique("outage")
        await register(nc, member(tenant, "alice"), member(tenant, "bob"))
        first = await send_dm(nc, member(tenant, "alice"), "bob", "before the outage")
        assert first.ok

        async def first_stored() -> bool:
            return len(await stored(pg.url, tenant)) == 1

        await eventually(first_stored, 30, "the first message stored", persistence.output)

        pg.stop()
        during = await burst(nc, tenant, 200)
        pg.start()

        acked = sorted([first.id or ""] + [a.id or "" for a in during if a.ok])
        refused = [a for a in during if not a.ok]
        assert all(a.error is not None and a.error.code == "UNAVAILABLE" for a in refused)
        assert len(acked) > 1, (
            "the message log should keep accepting sends while PostgreSQL is down"
        )

        async def caught_up() -> bool:
            return len(await stored(pg.url, tenant)) >= len(acked)

        await eventually(
            caught_up, 60, "every acknowledged message stored after the outage", persistence.output
        )
        assert [row_id for row_id, _ in await stored(pg.url, tenant)] == acked
    finally:
        stack.stop()
