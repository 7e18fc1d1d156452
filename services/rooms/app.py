"""Rooms service composition: database, message log, handlers, on the platform lifecycle."""

from __future__ import annotations

from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import create_async_engine

from roomcast.platform.runtime import run, setup_logging
from roomcast.platform.service import Stop, run_service
from roomcast.platform.settings import load_settings
from roomcast.platform.streams import ensure_log_stream
from services.rooms.adapters.log import MessageLog
from services.rooms.adapters.revocations import NatsRevocations
from services.rooms.adapters.rooms_sql import SqlRoomStore
from services.rooms.adapters.sql import SqlDirectory
from services.rooms.explicit import ExplicitRooms
from services.rooms.explicit_handlers import ExplicitRoomHandlers
from services.rooms.handlers import RoomsHandlers
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
        epoch = await ensure_log_stream(
            js, settings.log_max_age, settings.log_duplicate_window, settings.stream_replicas
        )

        async def publish(subject: str, body: bytes, headers: dict[str, str]) -> None:
            await nc.publish(subject, body, headers=headers)

        message_log = MessageLog(js)
        service = RoomsService(
            SqlDirectory(engine), message_log, publish, epoch, settings.member_cache_size
        )
        rooms = ExplicitRooms(SqlRoomStore(engine), NatsRevocations(nc))
        messages = RoomMessages(rooms, message_log, publish, epoch)
        explicit = ExplicitRoomHandlers(rooms, messages)
        handlers = RoomsHandlers(nc, service, settings.rooms_workers, explicit)
        await handlers.start()

        async def stop() -> None:
            await handlers.stop()
            await engine.dispose()

        return stop

    await run_service("rooms", settings, start, postgres=engine)


def main() -> None:
    """Entry point: `python -m services.rooms` / `roomcast rooms`."""
    settings = load_settings(RoomsSettings)
    setup_logging(settings.log_level, "rooms")
    run(serve(settings))
