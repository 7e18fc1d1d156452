"""Persistence service composition: database, log consumer, read handlers, notifications.

Replicas share one durable consumer on the message log (each fetches its own
batches), one queue group for history and recovery requests, and one
(`notifications`) for publishing notifications and app events and reading inboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contracts import endpoints
from contracts.explicit_rooms import Authorize
from contracts.identity import SUPER_ADMIN, Identity
from contracts.subjects import LOG_STREAM
from roomcast.platform import bus
from roomcast.platform.backbone import database_connect_args
from roomcast.platform.runtime import run, setup_logging
from roomcast.platform.service import Stop, run_service
from roomcast.platform.settings import describe, load_settings
from roomcast.platform.streams import ensure_dlq_stream, open_log_stream
from services.persistence.adapters.dead_letters import JetStreamDeadLetters
from services.persistence.adapters.log_consumer import LogConsumer
from services.persistence.adapters.log_reader import LogReader
from services.persistence.adapters.sql import SqlMessageStore
from services.persistence.handlers import ReadHandlers
from services.persistence.metrics import PersistenceMetrics
from services.persistence.notifications.deliveries import NatsDeliveries
from services.persistence.notifications.handlers import NotificationHandlers
from services.persistence.notifications.rooms import NatsRoomDirectory
from services.persistence.notifications.service import NotificationService
from services.persistence.notifications.sql import SqlNotificationStore
from services.persistence.service import PersistenceService
from services.persistence.settings import PersistenceSettings
from services.persistence.writer import Writer

log = logging.getLogger(__name__)

STATS_EVERY_S = 30.0


def make_engine(settings: PersistenceSettings) -> AsyncEngine:
    """The SQLAlchemy engine: one connection per in-flight batch plus readers.

    No pre-ping (it would cost a round trip per history page): after PostgreSQL
    restarts, the first statement on a dead connection fails, SQLAlchemy discards the
    pool, the writer retries and a history request answers `UNAVAILABLE` once.
    """
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size + settings.persistence_inflight,
        pool_timeout=10,
        connect_args={"timeout": 5, "command_timeout": 60, **database_connect_args(settings)},
    )


async def serve(settings: PersistenceSettings) -> None:
    """Run one persistence replica until SIGINT/SIGTERM."""
    engine = make_engine(settings)
    metrics = PersistenceMetrics(settings.persistence_consumer, LOG_STREAM)

    async def start(nc: NATS) -> Stop:
        store = SqlMessageStore(engine)
        stopping = asyncio.Event()
        js = nc.jetstream()
        epoch = await open_log_stream(
            js, settings.log_max_age, settings.log_duplicate_window, settings.stream_replicas
        )
        await ensure_dlq_stream(js, settings.dlq_max_age, settings.stream_replicas)
        consumer = LogConsumer(
            nc,
            js,
            settings.persistence_consumer,
            batch=settings.persistence_batch,
            inflight=settings.persistence_inflight,
            fetch_wait=settings.persistence_fetch_wait,
            ack_wait=settings.persistence_ack_wait,
            linger=settings.persistence_linger,
        )
        await consumer.ensure()
        writer = Writer(
            store,
            JetStreamDeadLetters(js, settings.persistence_consumer),
            epoch,
            settings.persistence_max_deliveries,
            retry_max=settings.persistence_retry_max,
            stopping=stopping,
        )

        metrics.watch(js, writer.counters)

        async def authorize_room(who: Identity, tenant: str, room: str) -> str:
            ask = Authorize(
                identity=who, tenant=tenant, via_manage=who.role == SUPER_ADMIN, name=room
            )
            # within the gateway's wait for the history reply
            wait = endpoints.REQUEST_TIMEOUT / 2
            reply = (await bus.request(nc, endpoints.ROOM_AUTHORIZE, ask, wait=wait)).checked()
            return reply.room or room

        service = PersistenceService(
            store,
            LogReader(js),
            epoch,
            settings.recover_max_messages,
            settings.recover_scan_factor,
            authorize_room,
        )
        handlers = ReadHandlers(nc, service, settings.history_workers, settings.recover_chunk_bytes)
        await handlers.start()

        notifications = NotificationHandlers(
            nc,
            NotificationService(
                SqlNotificationStore(engine),
                NatsDeliveries(nc),
                # within the caller's wait for the reply
                NatsRoomDirectory(nc, endpoints.REQUEST_TIMEOUT / 2),
            ),
            settings.history_workers,
        )
        await notifications.start()
        consuming = asyncio.create_task(consumer.run(writer.write, stopping))
        consuming.add_done_callback(lambda task: _exit_unless_stopping(task, stopping))
        tasks = (consuming, asyncio.create_task(_report(writer, stopping)))

        async def stop() -> None:
            stopping.set()
            await handlers.stop()
            await notifications.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            await engine.dispose()

        return stop

    await run_service("persistence", settings, start, postgres=engine, metric_sets=(metrics,))


def _exit_unless_stopping(task: asyncio.Task[None], stopping: asyncio.Event) -> None:
    """A consumer that ends on its own leaves the log unread: stop the process instead."""
    if stopping.is_set():
        return
    error = None if task.cancelled() else task.exception()
    log.critical("the log consumer stopped unexpectedly (%r); exiting", error)
    os.kill(os.getpid(), signal.SIGTERM)


async def _report(writer: Writer, stopping: asyncio.Event) -> None:
    last = None
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), STATS_EVERY_S)
        now = (writer.counters.stored, writer.counters.dead_lettered, writer.counters.outages)
        if now != last:
            log.info("writer: %s", writer.counters)
            last = now


def main() -> None:
    """Entry point: `python -m services.persistence` / `roomcast persistence`."""
    settings = load_settings(PersistenceSettings)
    setup_logging(settings.log_level, "persistence")
    log.debug("config: %s", describe(settings))
    run(serve(settings))
