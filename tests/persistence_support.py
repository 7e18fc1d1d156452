"""Helpers for persistence, history and recovery tests.

These tests run the services on a private embedded NATS server: the persistence
service's durable consumer reads the whole message log, and tests that purge the log
or kill consumers must not disturb other tests sharing a server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import endpoints
from contracts.identity import Identity
from contracts.messages import ChatAck, ChatSend
from contracts.tenants import RegisterMember
from roomcast.dev.embedded import EmbeddedNats
from roomcast.migrations import migrate
from roomcast.platform import bus
from tests.servers import ServiceProcess
from tests.stack import Stack, base_env


@contextmanager
def private_nats(data_dir: Path) -> Iterator[EmbeddedNats]:
    """A NATS server with JetStream that only this test module uses."""
    server = EmbeddedNats(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def member(tenant: str, user: str, role: str = "member") -> Identity:
    """An identity as a gateway would attach it."""
    return Identity(tenant=tenant, user_id=user, role=role, name=user.title())


async def register(nc: NATS, *who: Identity) -> None:
    """Record users as members of their tenants (what a gateway does on connect)."""
    for identity in who:
        command = RegisterMember(identity=identity)
        assert (await bus.request(nc, endpoints.DIRECTORY_REGISTER, command, wait=10)).ok


async def send_dm(
    nc: NATS, sender: Identity, to: str, body: str, client_id: str | None = None, wait: float = 10
) -> ChatAck:
    """Ask the rooms service to log and route one direct message, as a gateway does."""
    command = ChatSend(
        sender=sender, tenant=sender.tenant, to=to, body=body, client_id=client_id, sid="test"
    )
    return await bus.request(nc, endpoints.CHAT_SEND, command, wait=wait)


async def stored(database_url: str, tenant: str) -> list[tuple[str, str]]:
    """`(id, body)` of every stored message of `tenant`, in id order."""
    engine = create_async_engine(
        database_url, pool_size=1, connect_args={"timeout": 5, "command_timeout": 10}
    )
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT id, body FROM messages WHERE tenant_id = :t ORDER BY id"),
                {"t": tenant},
            )
            return [(r.id, r.body) for r in rows]
    finally:
        await engine.dispose()


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float,
    what: str,
    context: Callable[[], str] = lambda: "",
) -> float:
    """Poll `check` until it is true; returns the seconds it took.

    Args:
        check: The condition, polled every 0.1 s.
        timeout: Seconds before the test fails.
        what: The condition in words, for the failure message.
        context: More for the failure message (e.g. a service's output).
    """
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what}\n{context()}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@dataclass
class Gateways:
    """Rooms, persistence and two gateways on a private NATS."""

    nats_url: str
    database_url: str
    gw1: ServiceProcess
    gw2: ServiceProcess
    persistence: ServiceProcess


@contextmanager
def gateway_stack(
    workdir: Path,
    database_url: str,
    persistence_env: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Gateways]:
    """Start everything a client needs for history and recovery; stop it afterwards.

    Args:
        workdir: Where the private NATS server, ready files and logs go.
        database_url: A PostgreSQL URL (migrated here).
        persistence_env: Extra settings for the persistence service.
        env: Extra settings for every service.
    """
    migrate(database_url)
    with private_nats(workdir / "nats") as server:
        stack = Stack(workdir, {**base_env(server.url, database_url), **(env or {})})
        try:
            stack.start("rooms")
            persistence = stack.start(
                "persistence", {"ROOMCAST_LOG_LEVEL": "INFO", **(persistence_env or {})}
            )
            gw1 = stack.start("gateway", instance="gateway-1")
            gw2 = stack.start("gateway", instance="gateway-2")
            yield Gateways(server.url, database_url, gw1, gw2, persistence)
        finally:
            stack.stop()


def roomcast(stack: Gateways, *args: str) -> subprocess.CompletedProcess[str]:
    """`roomcast ARGS` as a user runs it, pointed at the stack's NATS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMCAST_")}
    env["ROOMCAST_NATS_URL"] = stack.nats_url
    return subprocess.run(
        [sys.executable, "-m", "roomcast.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
