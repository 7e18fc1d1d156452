"""Client event handlers: validate, attach identity, ask the owning service.

Each handler takes the gateway (as the narrow `Context`), the caller's session and
the raw payload, and returns the ack. Validation errors and `ServiceError`s are
turned into error acks by the dispatcher, so handlers stay straight-line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from contracts.errors import ErrorCode, ServiceError
from contracts.events import CLIENT_EVENTS
from services.gateway.envelope import Ack
from services.gateway.handlers.auth import auth_refresh
from services.gateway.handlers.chat import chat_send
from services.gateway.handlers.context import Context
from services.gateway.handlers.history import chat_history
from services.gateway.handlers.manage import manage_unwatch, manage_watch
from services.gateway.handlers.notifications import (
    notification_count,
    notification_dismiss,
    notification_list,
    notification_read,
)
from services.gateway.handlers.presence import presence_heartbeat, presence_list
from services.gateway.handlers.rooms import (
    course_join,
    course_leave,
    room_join,
    room_leave,
    room_send,
)
from services.gateway.sessions import Session

Handler = Callable[[Context, Session, Any], Awaitable[Ack]]

SEND_EVENTS = frozenset({"chat:send", "room:send"})
"""Events whose refusal also emits `chat:error` to the sending socket."""


def not_yet(event: str) -> Handler:
    """A protocol event whose owning service is not part of this release yet."""

    async def handler(gw: Context, s: Session, data: Any) -> Ack:
        raise ServiceError(ErrorCode.UNAVAILABLE, f"{event} is not available on this server yet")

    return handler


HANDLERS: dict[str, Handler] = {
    "chat:send": chat_send,
    "auth:refresh": auth_refresh,
    "manage:watch": manage_watch,
    "manage:unwatch": manage_unwatch,
    "chat:history": chat_history,
    "presence:heartbeat": presence_heartbeat,
    "presence:list": presence_list,
    "room:join": room_join,
    "room:leave": room_leave,
    "room:send": room_send,
    "notification:list": notification_list,
    "notification:read": notification_read,
    "notification:dismiss": notification_dismiss,
    "notification:count": notification_count,
    "course:join": course_join,
    "course:leave": course_leave,
}
for _event in CLIENT_EVENTS:
    if not _event.served:
        HANDLERS.setdefault(_event.name, not_yet(_event.name))

__all__ = ["HANDLERS", "SEND_EVENTS", "Context", "Handler"]
