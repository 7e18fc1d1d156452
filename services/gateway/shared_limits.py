"""Per-user and per-tenant rate limits that hold across gateways.

Every gateway's per-connection token bucket (`limits.TokenBucket`) stops one socket
from flooding; a user with many tabs on many gateways, or a whole tenant, needs limits
kept in one place. These are kept in Redis, where one small script checks a user's and
a tenant's budget together (GCRA: a "theoretical arrival time" per key, the Redis
server's clock for all gateways) and spends from both only when both allow.

Off by default (`ROOMCAST_USER_RATE_LIMIT_PER_SEC` / `ROOMCAST_TENANT_RATE_LIMIT_PER_SEC`
0): when on, each client event costs one Redis round trip. Redis being unreachable
fails open (the event is let through, counted in `errors`, logged at most every 10 s):
these limits protect capacity, and the per-connection limit still holds.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from contracts.identity import Identity
from contracts.tokens import encode_token
from roomcast.platform.backbone import redis_options
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

LOG_EVERY_S = 10.0
REDIS_TIMEOUT_S = 0.25
"""An event waits at most this long for Redis before it is let through."""

# KEYS: one key per limit. ARGV: per key, its emission interval (ms) and burst.
# Returns 0 when every key allows the event (and spends from each), else the ms to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local over = tat - now - (burst - 1) * interval
  if over > wait then wait = over end
  tats[i] = tat + interval
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tats[i], 'PX', math.ceil(tats[i] - now) + 1000)
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """`per_sec` events per second sustained, bursts up to `burst`."""

    per_sec: float
    burst: int

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.per_sec


class SharedLimits:
    """Checks one client event against its user's and its tenant's shared budget.

    Args:
        redis: a `redis.asyncio.Redis` client.
        prefix: key prefix (`ROOMCAST_RATE_LIMIT_KEY_PREFIX`).
        user: the per-user limit, or None.
        tenant: the per-tenant limit, or None.
    """

    def __init__(self, redis: Any, prefix: str, user: Limit | None, tenant: Limit | None) -> None:
        self._redis = redis
        self._prefix = prefix
        self._user = user
        self._tenant = tenant
        self._script = redis.register_script(_GCRA)
        self.refused = 0
        self.errors = 0
        self._logged = 0.0

    async def wait(self, who: Identity) -> float:
        """Seconds `who` must wait before this event (0: go ahead; spent from both)."""
        keys: list[str] = []
        args: list[float] = []
        tenant = encode_token(who.tenant)
        if self._user is not None:
            keys.append(f"{self._prefix}u:{tenant}:{encode_token(who.user_id)}")
            args += [self._user.interval_ms, self._user.burst]
        if self._tenant is not None:
            keys.append(f"{self._prefix}t:{tenant}")
            args += [self._tenant.interval_ms, self._tenant.burst]
        try:
            waited = float(await self._script(keys=keys, args=args))
        except (RedisError, OSError, TimeoutError) as exc:
            self.errors += 1
            now = time.monotonic()
            if now - self._logged > LOG_EVERY_S:
                self._logged = now
                log.warning("shared rate limits unavailable, letting events through: %r", exc)
            return 0.0
        if waited > 0:
            self.refused += 1
        return waited / 1000.0

    async def close(self) -> None:
        await self._redis.aclose()


def shared_limits(settings: GatewaySettings) -> SharedLimits | None:
    """The shared limits `settings` turn on, with their own Redis client; None if off."""
    user = Limit(settings.user_rate_limit_per_sec, settings.user_rate_limit_burst)
    tenant = Limit(settings.tenant_rate_limit_per_sec, settings.tenant_rate_limit_burst)
    if not user.per_sec and not tenant.per_sec:
        return None
    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        **redis_options(settings),
    )
    return SharedLimits(
        client,
        settings.rate_limit_key_prefix,
        user if user.per_sec else None,
        tenant if tenant.per_sec else None,
    )
