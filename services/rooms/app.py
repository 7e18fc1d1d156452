"""Rooms service composition: database, message log, handlers, on the platform lifecycle."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.endpoints import ENTITY_CONSUMER
from contracts.policies import Revoked
from roomcast.platform.backbone import database_connect_args
from roomcast.platform.metrics import dead_letters
from roomcast.platform.runtime import instance_name, run, setup_logging
from roomcast.platform.security import SecurityEvents
from roomcast.platform.service import Stop, run_service
from roomcast.platform.settings import load_settings
from roomcast.platform.streams import ensure_entity_stream, ensure_log_stream, open_dlq_stream
from services.rooms.adapters.entities_sql import SqlEntityStore
from services.rooms.adapters.entity_stream import EntityConsumer, JetStreamDeadLetters
from services.rooms.adapters.kinds_sql import SqlKindRegistry
from services.rooms.adapters.log import MessageLog
from services.rooms.adapters.policy_nats import NatsPolicies
from services.rooms.adapters.revocations import NatsRevocations
from services.rooms.adapters.rooms_sql import SqlRoomStore
from services.rooms.adapters.sql import SqlDirectory
from services.rooms.audit import RoomAudit
from services.rooms.domain.decisions import DecisionCache
from services.rooms.entities import EntityEvents, EntityLifecycle
from services.rooms.explicit import ExplicitRooms
from services.rooms.explicit_handlers import ExplicitRoomHandlers
from services.rooms.handlers import RoomsHandlers
from services.rooms.metrics import RoomsMetrics
from services.rooms.policies.access import RoomAccess
from services.rooms.policies.declared import DeclaredPolicies, DeclaredRegistry
from services.rooms.policies.handlers import PolicyHandlers, announce_on
from services.rooms.policies.kinds import PolicyKinds
from services.rooms.room_send import RoomMessages
from services.rooms.service import RoomsService
from services.rooms.settings import RoomsSettings

log = logging.getLogger(__name__)


async def serve(settings: RoomsSettings) -> None:
    """Run one rooms replica until SIGINT/SIGTERM."""
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args=database_connect_args(settings),
    )
    security = SecurityEvents("rooms", instance_name(settings.instance_id, "rooms"), None)
    metrics = RoomsMetrics()

    async def start(nc: NATS) -> Stop:
        security.nc = nc
        js = nc.jetstream()
        epoch = await ensure_log_stream(
            js, settings.log_max_age, settings.log_duplicate_window, settings.stream_replicas
        )

        async def publish(subject: str, body: bytes, headers: dict[str, str]) -> None:
            await nc.publish(subject, body, headers=headers)

        message_log = MessageLog(js)
        service = RoomsService(
            SqlDirectory(engine), message_log, publish, epoch, settings.member_cache_size
        )
        revocations = NatsRevocations(nc)
        store = SqlRoomStore(engine)
        rooms = ExplicitRooms(store, revocations)
        rules = settings.room_kinds
        registry = DeclaredRegistry(rules, SqlKindRegistry(engine))
        policies = DeclaredPolicies(rules, store, NatsPolicies(nc, settings.policy_timeout))
        cache = DecisionCache(settings.policy_cache_size, settings.policy_max_ttl)
        access = RoomAccess(rooms, registry, policies, cache)

        async def announce(event: Revoked) -> None:
            await announce_on(nc, event)

        kinds = PolicyKinds(access, registry, revocations, announce)
        messages = RoomMessages(access, message_log, publish, epoch)
        explicit = ExplicitRoomHandlers(rooms, messages, access, RoomAudit(security, metrics))
        handlers = RoomsHandlers(nc, service, settings.rooms_workers, explicit)
        policy_handlers = PolicyHandlers(access, kinds)
        await handlers.start()
        served = await policy_handlers.start(nc, settings.rooms_workers)

        await ensure_entity_stream(js, settings.entity_max_age, settings.stream_replicas)
        await open_dlq_stream(js, settings.dlq_max_age, settings.stream_replicas)
        consumer = EntityConsumer(js, ENTITY_CONSUMER, settings.entity_ack_wait)
        await consumer.ensure()
        entity_events = EntityEvents(
            EntityLifecycle(SqlEntityStore(engine), revocations, store),
            JetStreamDeadLetters(js, ENTITY_CONSUMER),
            settings.entity_max_deliveries,
            retry_max=settings.entity_retry_max,
        )
        metrics.add(dead_letters(ENTITY_CONSUMER, lambda: entity_events.dead_lettered))
        stopping = asyncio.Event()
        consuming = asyncio.create_task(consumer.run(entity_events.handle, stopping))
        consuming.add_done_callback(lambda task: _exit_unless_stopping(task, stopping))

        async def stop() -> None:
            await policy_handlers.stop()
            for one in served:
                await one.stop()
            stopping.set()
            await handlers.stop()
            await asyncio.gather(consuming, return_exceptions=True)
            await security.settle()
            await engine.dispose()

        return stop

    sets = (metrics, security.metrics)
    await run_service("rooms", settings, start, postgres=engine, metric_sets=sets)


def _exit_unless_stopping(task: asyncio.Task[None], stopping: asyncio.Event) -> None:
    """A consumer that ends on its own leaves entity events unapplied: stop the process."""
    if stopping.is_set():
        return
    error = None if task.cancelled() else task.exception()
    log.critical("the entity event consumer stopped unexpectedly (%r); exiting", error)
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    """Entry point: `python -m services.rooms` / `roomcast rooms`."""
    settings = load_settings(RoomsSettings)
    setup_logging(settings.log_level, "rooms")
    run(serve(settings))
