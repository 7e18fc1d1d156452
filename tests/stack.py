"""A running roomcast (rooms service + gateways) for integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from roomcast.migrations import migrate
from tests.clients import AUDIENCE, SECRET, Client
from tests.servers import ServiceProcess


def base_env(nats_url: str, database_url: str, redis_url: str = "") -> dict[str, str]:
    """Settings every test service gets: the servers, the test secret and audience."""
    env = {
        "ROOMCAST_NATS_URL": nats_url,
        "ROOMCAST_DATABASE_URL": database_url,
        "ROOMCAST_JWT_SECRET": SECRET,
        "ROOMCAST_JWT_AUDIENCE": AUDIENCE,
        "ROOMCAST_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env["ROOMCAST_REDIS_URL"] = redis_url
    return env


@dataclass
class Stack:
    """Processes started for one test module."""

    workdir: Path
    env: dict[str, str]
    processes: list[ServiceProcess] = field(default_factory=list)

    def start(
        self, name: str, env: Mapping[str, str] | None = None, instance: str | None = None
    ) -> ServiceProcess:
        proc = ServiceProcess(
            name, self.workdir, env={**self.env, **(env or {})}, instance=instance
        )
        self.processes.append(proc)
        return proc.start()

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    """Socket.IO clients a test opened; all closed after it."""
    opened: list[Client] = []
    yield opened
    await asyncio.gather(*(c.close() for c in opened))


@pytest.fixture(scope="module")
def stack_factory(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, database_url: str
) -> Iterator[Stack]:
    """An empty `Stack` for this module, migrated database included; stopped at the end."""
    migrate(database_url)
    stack = Stack(tmp_path_factory.mktemp("stack"), base_env(nats_url, database_url))
    yield stack
    stack.stop()
