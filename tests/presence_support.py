"""Shared by the presence system tests: a stack of real processes, observers, barriers.

Presence replicas and gateways run as separate processes (`run_service`) on real NATS
and Redis, with the time bounds shortened through their `ROOMCAST_*` settings. This
module holds no tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.clients import AUDIENCE, SECRET, Client, connect, token, unique
from tests.servers import ServiceProcess

LEASE_TTL = 2.0
"""Gateway lease in these tests (seconds); beats every 0.5 s."""
SWEEP = 0.2
GRACE = 0.5
RECOVERY_HOLD = 1.0
GAP = 3.0
SENTINEL = "sentinel"
MARGIN = 15.0
"""Slack on every bound for a loaded 2-core machine: a bound is `wait_for`'s timeout."""


def presence_env(prefix: str, **extra: str) -> dict[str, str]:
    """Settings of a presence replica with test-sized bounds."""
    return {
        "ROOMCAST_PRESENCE_KEY_PREFIX": prefix,
        "ROOMCAST_PRESENCE_TTL": "60",
        "ROOMCAST_PRESENCE_GRACE": str(GRACE),
        "ROOMCAST_PRESENCE_SWEEP_INTERVAL": str(SWEEP),
        "ROOMCAST_PRESENCE_GAP": str(GAP),
        "ROOMCAST_PRESENCE_RECOVERY_HOLD": str(RECOVERY_HOLD),
        **extra,
    }


def gateway_env(**extra: str) -> dict[str, str]:
    """Settings of a gateway that verifies the test tokens, with a short lease."""
    return {
        "ROOMCAST_JWT_SECRET": SECRET,
        "ROOMCAST_JWT_AUDIENCE": AUDIENCE,
        "ROOMCAST_PRESENCE_BEAT_INTERVAL": "0.5",
        "ROOMCAST_GATEWAY_LEASE_TTL": str(LEASE_TTL),
        **extra,
    }


@dataclass
class Stack:
    """Starts presence replicas and gateways against one NATS and one Redis."""

    run_service: Callable[..., ServiceProcess]
    nats_url: str
    redis_url: str
    prefix: str = field(default_factory=lambda: f"test:presence:{uuid.uuid4().hex[:8]}:")
    clients: list[Client] = field(default_factory=list)
    replicas: list[ServiceProcess] = field(default_factory=list)

    def _env(self, extra: Mapping[str, str]) -> dict[str, str]:
        return {"ROOMCAST_NATS_URL": self.nats_url, "ROOMCAST_REDIS_URL": self.redis_url, **extra}

    def start(self, presences: int, gateways: int, **presence: str) -> list[ServiceProcess]:
        """Start `presences` replicas, then `gateways` gateways; returns the gateways."""
        replicas = [
            self.run_service(
                "presence", env=self._env(presence_env(self.prefix, **presence)), wait=False
            )
            for _ in range(presences)
        ]
        gws = [
            self.run_service("gateway", env=self._env(gateway_env()), wait=False)
            for _ in range(gateways)
        ]
        for proc in replicas + gws:
            proc.wait_ready(60)
        self.replicas += replicas
        return gws

    async def connect(
        self, gw: ServiceProcess, user: str, tenant: str, role: str = "member", ns: str = "/tenant"
    ) -> Client:
        client = await connect(gw.url, token(user, tenant, role), namespace=ns)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


def about(user: str, tenant: str | None = None) -> Callable[[Any], bool]:
    """Predicate on presence events: this user (and tenant)."""
    return lambda d: d.get("userId") == user and (tenant is None or d.get("tenant") == tenant)


def count(client: Client, event: str, user: str) -> int:
    return sum(1 for d in client.received(event) if d.get("userId") == user)


async def listed(client: Client, data: Any = None) -> set[str]:
    """User ids `presence:list` answers, barrier sentinels left out; fails on an error."""
    ack = await client.call("presence:list", {} if data is None else data, timeout=30)
    assert ack["ok"], ack
    return {u["userId"] for u in ack["users"] if not u["userId"].startswith(SENTINEL)}


async def barrier(stack: Stack, gw: ServiceProcess, observer: Client, tenant: str) -> None:
    """Every earlier report of `gw` has been applied and announced to `observer`.

    A gateway reports in order, so once a sentinel's `user:online` (sent after them)
    reached the observer, anything they caused was delivered before it.
    """
    name = unique(SENTINEL)
    sentinel = await stack.connect(gw, name, tenant)
    await observer.wait_for("user:online", about(name), timeout=MARGIN)
    await sentinel.close()
