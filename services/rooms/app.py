"""Rooms service composition: broker, database, message log, handlers."""

from __future__ import annotations

import logging

from faststream import FastStream
from sqlalchemy.ext.asyncio import create_async_engine

from roomcast.config import load_settings
from roomcast.platform.listener import PlatformListener
from roomcast.runtime import (
    NatsGuard,
    instance_name,
    mark_ready,
    nats_broker,
    run,
    setup_logging,
    tune_gc,
)
from roomcast.streams import ensure_log_stream
from services.rooms.adapters.log import MessageLog
from services.rooms.adapters.sql import SqlDirectory
from services.rooms.handlers import register_handlers
from services.rooms.hotpath import ChatSendSubscriber
from services.rooms.service import RoomsService
from services.rooms.settings import RoomsSettings

log = logging.getLogger(__name__)


def build(settings: RoomsSettings) -> FastStream:
    """Wire the rooms service; nothing connects until the app starts."""
    name = instance_name(settings.instance_id, "rooms")
    guard = NatsGuard("rooms")
    broker = nats_broker(settings.nats_url, name, guard, apply_types=False)
    engine = create_async_engine(
        settings.database_url, pool_size=settings.db_pool_size, pool_pre_ping=True
    )
    app = FastStream(broker)
    platform = PlatformListener(settings, guard, postgres=engine)
    app.after_startup(platform.start)
    app.on_shutdown(platform.stop)
    holder: dict[str, ChatSendSubscriber] = {}

    async def publish(subject: str, body: bytes, headers: dict[str, str]) -> None:
        await broker.connection.publish(subject, body, headers=headers)

    @app.on_startup
    async def connect() -> None:
        await broker.connect()
        guard.client = broker.connection
        js = broker.connection.jetstream()
        epoch = await ensure_log_stream(js, settings.log_max_age, settings.log_duplicate_window)
        service = RoomsService(
            SqlDirectory(engine), MessageLog(js), publish, epoch, settings.member_cache_size
        )
        register_handlers(broker, service, settings.rooms_workers)
        hot = ChatSendSubscriber(broker.connection, service, settings.rooms_workers)
        await hot.start()
        holder["hot"] = hot

    @app.after_startup
    async def ready() -> None:
        log.info("rooms %s ready", name)
        tune_gc()
        mark_ready(name=name, **platform.ready_info())

    @app.on_shutdown
    async def drain() -> None:
        guard.stopping()
        if "hot" in holder:
            await holder["hot"].stop()

    @app.after_shutdown
    async def close() -> None:
        await engine.dispose()

    return app


def main() -> None:
    """Entry point: `python -m services.rooms` / `roomcast rooms`."""
    settings = load_settings(RoomsSettings)
    setup_logging(settings.log_level, "rooms")
    run(build(settings).run())
