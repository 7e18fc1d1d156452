"""Presence state in Redis: one script call (one round trip) per report or sweep."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from contracts.presence import GatewayReport, OnlineUser
from services.presence.adapters.lua import REPORT, SWEEP
from services.presence.domain.changes import parse_changes, parse_online
from services.presence.ports import ReportOutcome, StoreUnavailable, SweepOutcome


@dataclass(frozen=True, slots=True)
class Timing:
    """The presence service's time bounds, in milliseconds."""

    ttl_ms: int
    grace_ms: int
    recovery_hold_ms: int
    gap_ms: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _payload(report: GatewayReport) -> bytes:
    """The report in the compact shape the script reads."""
    return orjson.dumps(
        {
            "o": [
                [o.sid, o.tenant, o.user_id, o.name or "", o.age_ms, o.idle_ms, int(o.acked)]
                for o in report.opened
            ],
            "c": [[c.sid, c.tenant, c.user_id, c.name or ""] for c in report.closed],
            "a": report.alive,
        }
    )


class RedisPresenceStore:
    """Connections, users and gateway leases in Redis, changed only by `lua` scripts.

    Args:
        client: a redis-py asyncio client (bytes responses).
        prefix: key prefix, e.g. `roomcast:presence:`.
        timing: TTL, grace, recovery hold and sweep gap.
    """

    def __init__(self, client: aioredis.Redis, prefix: str, timing: Timing) -> None:
        self._redis = client
        self._prefix = prefix
        self._timing = timing
        self._report = client.register_script(REPORT)
        self._sweep = client.register_script(SWEEP)

    async def report(self, report: GatewayReport) -> ReportOutcome:
        """Apply one gateway report atomically.

        Raises:
            StoreUnavailable: Redis is unreachable or failed.
        """
        t = self._timing
        args = [
            self._prefix,
            report.gateway,
            report.epoch,
            secrets.token_hex(8),
            report.lease_ttl_ms,
            int(report.resync),
            int(report.leaving),
            t.ttl_ms,
            t.grace_ms,
            t.recovery_hold_ms,
            _payload(report),
        ]
        now, epoch, status, unknown, flat = await self._call(self._report, args)
        return ReportOutcome(
            now_ms=int(now),
            epoch=_text(epoch),
            resync=_text(status) == "resync",
            unknown=[_text(s) for s in unknown],
            changes=parse_changes(flat),
        )

    async def sweep(self, budget: int) -> SweepOutcome:
        """Claim due grace periods, dead gateways' connections and silent connections.

        Raises:
            StoreUnavailable: Redis is unreachable or failed.
        """
        now, more, flat, held = await self._call(
            self._sweep, [self._prefix, budget, self._timing.gap_ms]
        )
        return SweepOutcome(
            now_ms=int(now), more=bool(more), held=bool(held), changes=parse_changes(flat)
        )

    async def online(self, tenant: str) -> list[OnlineUser]:
        """The online users of `tenant` (users in their grace window included)."""
        try:
            entries = await self._redis.hgetall(f"{self._prefix}o:{tenant}")
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}") from exc
        return parse_online(entries)

    async def _call(self, script: Any, args: list[Any]) -> list[Any]:
        try:
            result: list[Any] = await script(keys=[], args=args)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
        return result
