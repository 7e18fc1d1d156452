"""Presence service composition: Redis, store, handlers, sweeper, on the platform lifecycle."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from nats.aio.client import Client as NATS
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from roomcast.platform.backbone import redis_options
from roomcast.platform.runtime import run, setup_logging
from roomcast.platform.service import Stop, run_service
from roomcast.platform.settings import describe, load_settings
from services.presence.adapters.store import RedisPresenceStore
from services.presence.handlers import serve_presence
from services.presence.metrics import PresenceMetrics
from services.presence.service import PresenceService
from services.presence.settings import PresenceSettings
from services.presence.sweeper import Sweeper

log = logging.getLogger(__name__)


def redis_client(settings: PresenceSettings) -> aioredis.Redis:
    """A client that fails fast while Redis is down and reconnects by itself."""
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
        health_check_interval=10,
        **redis_options(settings),
    )


async def serve(settings: PresenceSettings) -> None:
    """Run one presence replica until SIGINT/SIGTERM."""
    client = redis_client(settings)
    metrics = PresenceMetrics()

    async def start(nc: NATS) -> Stop:
        store = RedisPresenceStore(client, settings.presence_key_prefix, settings.timing())

        async def publish(subject: str, body: bytes, headers: dict[str, str]) -> None:
            await nc.publish(subject, body, headers=headers)

        service = PresenceService(store, publish, settings.presence_sweep_batch)
        metrics.watch(service)
        sweeper = Sweeper(service, settings.presence_sweep_interval)
        served = await serve_presence(nc, service, settings.presence_workers)
        sweeper.start()

        async def stop() -> None:
            for endpoint in served:
                await endpoint.stop()
            await sweeper.stop()
            await client.aclose()

        return stop

    await run_service("presence", settings, start, redis=client, metric_sets=(metrics,))


def main() -> None:
    """Entry point: `python -m services.presence` / `roomcast presence`."""
    settings = load_settings(PresenceSettings)
    setup_logging(settings.log_level, "presence")
    log.debug("config: %s", describe(settings))
    run(serve(settings))
