"""Messages that can never be stored go to the dead-letter stream and block nothing.

Private NATS and PostgreSQL: the database gets an extra CHECK constraint so that one
well-formed message is refused by PostgreSQL itself, to exercise the bounded
redelivery path end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import nats
import pytest
import sqlalchemy as sa
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import deadletter, subjects
from roomcast.dev.embedded import EmbeddedPostgres
from roomcast.migrations import upgrade
from tests.clients import unique
from tests.persistence_support import eventually, member, private_nats, register, send_dm, stored
from tests.servers import ServiceProcess
from tests.stack import Stack, base_env

SERVICE_ENV = {
    "ROOMCAST_LOG_LEVEL": "INFO",
    "ROOMCAST_PERSISTENCE_MAX_DELIVERIES": "2",
    "ROOMCAST_PERSISTENCE_ACK_WAIT": "5",
}


@dataclass
class Setup:
    nats_url: str
    database_url: str
    persistence: ServiceProcess


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg"), durable=False)
    pg.start()
    try:
        with private_nats(tmp_path_factory.mktemp("nats")) as server:
            _migrate_with_poison_check(pg.url)
            stack = Stack(tmp_path_factory.mktemp("stack"), base_env(server.url, pg.url))
            try:
                stack.start("rooms")
                persistence = stack.start("persistence", SERVICE_ENV)
                yield Setup(server.url, pg.url, persistence)
            finally:
                stack.stop()
    finally:
        pg.stop()


def _migrate_with_poison_check(url: str) -> None:
    async def run() -> None:
        await upgrade(url)
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("ALTER TABLE messages ADD CONSTRAINT test_poison CHECK (body <> 'poison')")
            )
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture
async def nc(setup: Setup) -> AsyncIterator[NATS]:
    client = await nats.connect(setup.nats_url)
    yield client
    await client.close()


async def dead_letters(nc: NATS, tenant: str) -> list[Msg]:
    """Dead letters whose original subject belongs to `tenant`."""
    js = nc.jetstream()
    sub = await js.subscribe(
        subjects.dead_letter_all(), stream=subjects.DLQ_STREAM, ordered_consumer=True
    )
    found: list[Msg] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                return found
            if f".{tenant}." in (msg.headers or {}).get(deadletter.SOURCE_SUBJECT, ""):
                found.append(msg)
    finally:
        await sub.unsubscribe()


async def test_an_invalid_log_message_is_dead_lettered_and_the_next_one_stored(
    setup: Setup, nc: NATS
) -> None:
    tenant = unique("dlq")
    alice = member(tenant, "alice")
    await register(nc, alice, member(tenant, "bob"))
    js = nc.jetstream()
    await js.publish(subjects.log_dm(tenant, "alice", "bob"), b'{"not": "a message"}')
    after = await send_dm(nc, alice, "bob", "after the bad one")
    assert after.ok

    async def good_stored() -> bool:
        return [row_id for row_id, _ in await stored(setup.database_url, tenant)] == [after.id]

    await eventually(
        good_stored, 30, "the message behind the bad one stored", setup.persistence.output
    )

    letters: list[Msg] = []

    async def dead_lettered() -> bool:
        letters[:] = await dead_letters(nc, tenant)
        return len(letters) == 1

    await eventually(dead_lettered, 30, "one dead letter", setup.persistence.output)
    headers = letters[0].headers or {}
    assert "not a LoggedMessage" in headers[deadletter.REASON]
    assert headers[deadletter.SOURCE_STREAM] == subjects.LOG_STREAM
    assert letters[0].data == b'{"not": "a message"}'


async def test_a_message_the_database_keeps_refusing_is_dead_lettered_after_bounded_retries(
    setup: Setup, nc: NATS
) -> None:
    tenant = unique("refused")
    alice = member(tenant, "alice")
    await register(nc, alice, member(tenant, "bob"))
    before = await send_dm(nc, alice, "bob", "before")
    poison = await send_dm(nc, alice, "bob", "poison")
    behind = [await send_dm(nc, alice, "bob", f"behind {i}") for i in range(20)]
    assert before.ok and poison.ok and all(a.ok for a in behind)
    expected = sorted([before.id or ""] + [a.id or "" for a in behind])

    async def others_stored() -> bool:
        return [row_id for row_id, _ in await stored(setup.database_url, tenant)] == expected

    await eventually(others_stored, 30, "every other message stored", setup.persistence.output)

    letters: list[Msg] = []

    async def dead_lettered() -> bool:
        letters[:] = await dead_letters(nc, tenant)
        return len(letters) == 1

    await eventually(
        dead_lettered, 60, "the refused message dead-lettered", setup.persistence.output
    )
    headers = letters[0].headers or {}
    assert "refused by the store 2 times" in headers[deadletter.REASON]
    assert "test_poison" in headers[deadletter.REASON]
    assert headers[deadletter.DELIVERIES] == "2"
    assert b'"body":"poison"' in letters[0].data
