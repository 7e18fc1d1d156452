"""Readiness checks: does each dependency of this process answer, right now?

A check is an async callable returning True when its dependency answers. Every
`/readyz` (and every `/metrics` scrape) runs all of a service's checks concurrently,
each bounded by `CHECK_TIMEOUT_S`; nothing is cached, so an answer is never older
than the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 1.0
"""Longest a single dependency check may take before it counts as failed."""

Check = Callable[[], Awaitable[bool]]


class HasNatsClient(Protocol):
    """Something holding the process's NATS client once connected (`NatsGuard`)."""

    client: Any


class Pingable(Protocol):
    """A Redis client (`redis.asyncio.Redis`)."""

    def ping(self) -> Awaitable[Any]: ...


def nats_check(holder: HasNatsClient) -> Check:
    """Ready while the NATS client is connected (not before connecting, not while
    reconnecting, not once closed)."""

    async def check() -> bool:
        client = holder.client
        return client is not None and bool(client.is_connected)

    return check


def sql_check(engine: AsyncEngine) -> Check:
    """Ready when PostgreSQL answers `SELECT 1` through the service's own pool."""

    async def check() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return check


def redis_check(client: Pingable) -> Check:
    """Ready when Redis answers `PING`."""

    async def check() -> bool:
        return bool(await client.ping())

    return check


async def run_checks(
    checks: Mapping[str, Check], limit_s: float = CHECK_TIMEOUT_S
) -> dict[str, bool]:
    """Run every check concurrently; a check that raises or times out is False."""

    async def one(name: str, check: Check) -> bool:
        try:
            async with asyncio.timeout(limit_s):
                return await check()
        except Exception as exc:  # any failure means "not ready", whatever the client raised
            log.debug("readiness: %s failed: %r", name, exc)
            return False

    names = list(checks)
    results = await asyncio.gather(*(one(n, checks[n]) for n in names))
    return dict(zip(names, results, strict=True))
