"""Client event handlers: validate, attach identity, ask the owning service.

Each handler takes the gateway, the caller's session and the raw payload, and returns
the ack. Validation errors and `ServiceError`s are turned into error acks by the
dispatcher, so handlers stay straight-line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from contracts import subjects
from contracts.client import ChatSendIn, ManageChatSendIn, RefreshIn, TenantIn
from contracts.errors import ErrorCode, ServiceError
from contracts.messages import ChatAck, ChatSend
from contracts.rooms import Room
from services.gateway.envelope import Ack, ok
from services.gateway.history import chat_history
from services.gateway.presence import presence_heartbeat, presence_list
from services.gateway.rpc import checked, request
from services.gateway.sessions import Session, scoped

if TYPE_CHECKING:
    from services.gateway.server import Gateway

Handler = Callable[["Gateway", Session, Any], Awaitable[Ack]]

SEND_EVENTS = frozenset({"chat:send", "room:send"})
"""Events whose refusal also emits `chat:error` to the sending socket."""


async def chat_send(gw: Gateway, s: Session, data: Any) -> Ack:
    """`chat:send`: a direct message within the sender's tenant."""
    payload, tenant = scoped(s, data, ChatSendIn, ManageChatSendIn)
    if len(payload.body.encode()) > gw.settings.max_body_bytes:
        raise ServiceError(ErrorCode.TOO_LARGE, f"body is over {gw.settings.max_body_bytes} bytes")
    command = ChatSend(
        sender=s.identity,
        tenant=tenant,
        to=payload.to,
        body=payload.body,
        client_id=payload.client_id,
        via_manage=s.on_manage,
        sid=s.sid,
    )
    reply = await request(
        gw.nc, subjects.chat_send(), command, ChatAck, gw.settings.request_timeout, "rooms"
    )
    checked(reply)
    return ok(id=reply.id, ts=reply.ts)


async def auth_refresh(gw: Gateway, s: Session, data: Any) -> Ack:
    """`auth:refresh`: replace the connection's token before it expires.

    The new token must name the same user, tenant and role: rooms and namespace
    rights were decided from them at connect, so another role means reconnecting.
    """
    payload = RefreshIn.model_validate(data)
    verified = await gw.verify(payload.token)
    new, old = verified.identity, s.identity
    if (new.tenant, new.user_id) != (old.tenant, old.user_id):
        raise ServiceError(ErrorCode.FORBIDDEN, "the token is for another user or tenant")
    if new.role != old.role:
        raise ServiceError(
            ErrorCode.FORBIDDEN, "the token has another role; reconnect to change roles"
        )
    gw.schedule_expiry(s, verified.exp)
    return ok(exp=verified.exp)


async def manage_watch(gw: Gateway, s: Session, data: Any) -> Ack:
    """`manage:watch`: a super_admin follows a tenant's room."""
    tenant = _manage_tenant(s, data)
    room = Room.tenant(tenant)
    if room.subject not in s.subjects:
        s.subjects.add(room.subject)
        await gw.fanout.join(s.sid, s.namespace, [room.subject])
    return ok()


async def manage_unwatch(gw: Gateway, s: Session, data: Any) -> Ack:
    """`manage:unwatch`: stop following a tenant."""
    tenant = _manage_tenant(s, data)
    room = Room.tenant(tenant)
    if room.subject in s.subjects:
        s.subjects.discard(room.subject)
        await gw.fanout.leave(s.sid, s.namespace, [room.subject])
    return ok()


def _manage_tenant(s: Session, data: Any) -> str:
    if not s.on_manage:
        raise ServiceError(ErrorCode.FORBIDDEN, "only available on /manage")
    return TenantIn.model_validate(data).tenant


def not_yet(event: str) -> Handler:
    """A protocol event whose owning service is not part of this release yet."""

    async def handler(gw: Gateway, s: Session, data: Any) -> Ack:
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
}
for _event in (
    "room:join",
    "room:leave",
    "room:send",
    "notification:read",
    "notification:dismiss",
    "notification:list",
):
    HANDLERS.setdefault(_event, not_yet(_event))
