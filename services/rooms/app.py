"""Rooms service composition: database, message log, handlers, on the platform lifecycle."""

from __future__ import annotations

from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.policies import Revoked
from roomcast.platform.runtime import run, setup_logging
from roomcast.platform.service import Stop, run_service
from roomcast.platform.settings import load_settings
from roomcast.platform.streams import ensure_log_stream
from services.rooms.adapters.kinds_sql import SqlKindRegistry
from services.rooms.adapters.log import MessageLog
from services.rooms.adapters.policy_nats import NatsPolicies
from services.rooms.adapters.revocations import NatsRevocations
from services.rooms.adapters.rooms_sql import SqlRoomStore
from services.rooms.adapters.sql import SqlDirectory
from services.rooms.domain.decisions import DecisionCache
from services.rooms.explicit import ExplicitRooms
from services.rooms.explicit_handlers import ExplicitRoomHandlers
from services.rooms.handlers import RoomsHandlers
from services.rooms.policies.access import RoomAccess
from services.rooms.policies.declared import DeclaredPolicies, DeclaredRegistry
from services.rooms.policies.handlers import PolicyHandlers, announce_on
from services.rooms.policies.kinds import PolicyKinds
from services.rooms.room_send import RoomMessages
from services.rooms.service import RoomsService
from services.rooms.settings import RoomsSettings


async def serve(settings: RoomsSettings) -> None:
    """Run one rooms replica until SIGINT/SIGTERM."""
    engine = create_async_engine(
        settings.database_url, pool_size=settings.db_pool_size, pool_pre_ping=True
    )

    async def start(nc: NATS) -> Stop:
        js = nc.jetstream()
        epoch = await ensure_log_stream(js, settings.log_max_age, settings.log_duplicate_window)

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
        explicit = ExplicitRoomHandlers(rooms, messages, access)
        handlers = RoomsHandlers(nc, service, settings.rooms_workers, explicit)
        policy_handlers = PolicyHandlers(access, kinds)
        await handlers.start()
        served = await policy_handlers.start(nc, settings.rooms_workers)

        async def stop() -> None:
            await policy_handlers.stop()
            for one in served:
                await one.stop()
            await handlers.stop()
            await engine.dispose()

        return stop

    await run_service("rooms", settings, start, postgres=engine)


def main() -> None:
    """Entry point: `python -m services.rooms` / `roomcast rooms`."""
    settings = load_settings(RoomsSettings)
    setup_logging(settings.log_level, "rooms")
    run(serve(settings))
