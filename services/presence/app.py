"""Presence service composition: broker, Redis, store, handlers, sweeper."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from faststream import FastStream
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from roomcast.config import describe, load_settings
from roomcast.platform.listener import PlatformListener
from roomcast.runtime import NatsGuard, instance_name, mark_ready, nats_broker, run, setup_logging
from services.presence.adapters.store import RedisPresenceStore
from services.presence.handlers import register_handlers
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
    )


def build(settings: PresenceSettings) -> FastStream:
    """Wire the presence service; nothing connects until the app starts."""
    name = instance_name(settings.instance_id, "presence")
    guard = NatsGuard("presence")
    broker = nats_broker(settings.nats_url, name, guard)
    client = redis_client(settings)
    store = RedisPresenceStore(client, settings.presence_key_prefix, settings.timing())

    async def publish(subject: str, body: bytes, headers: dict[str, str]) -> None:
        await broker.connection.publish(subject, body, headers=headers)

    service = PresenceService(store, publish, settings.presence_sweep_batch)
    sweeper = Sweeper(service, settings.presence_sweep_interval)
    register_handlers(broker, service, settings.presence_workers)
    app = FastStream(broker)
    platform = PlatformListener(settings, guard, redis=client)
    app.after_startup(platform.start)
    app.on_shutdown(platform.stop)

    @app.after_startup
    async def ready() -> None:
        guard.client = broker.connection
        sweeper.start()
        log.info("presence %s ready", name)
        mark_ready(name=name, **platform.ready_info())

    @app.on_shutdown
    async def stop_sweeping() -> None:
        guard.stopping()
        await sweeper.stop()

    @app.after_shutdown
    async def close() -> None:
        await client.aclose()

    return app


def main() -> None:
    """Entry point: `python -m services.presence` / `roomcast presence`."""
    settings = load_settings(PresenceSettings)
    setup_logging(settings.log_level, "presence")
    log.debug("config: %s", describe(settings))
    run(build(settings).run())
