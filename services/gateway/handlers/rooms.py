"""`room:join`, `room:leave`, `room:send`: explicit rooms, decided by the rooms service.

`room:join` asks the rooms service whether the caller may read the room
(`ROOM_AUTHORIZE`), then puts the socket in the room's delivery subject: the gateway
subscribes to it only while it hosts a joined socket. `room:leave` takes the socket out
again and never changes membership. `room:send` needs no join: the rooms service
authorizes the post, logs it and delivers it to every joined socket but the sender's.
Automatic rooms (`user:`, `tenant:`, `role:`, `manage:`) are joined by the server
alone: these events on them are `FORBIDDEN`.
"""

from __future__ import annotations

from typing import Any

from contracts import endpoints
from contracts.client import ManageRoomIn, ManageRoomSendIn, RoomIn, RoomSendIn, room_kind
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import AUTO_KINDS, Authorize
from contracts.rooms import Room
from services.gateway.commands import ask, post_to_room
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session, scoped


def _explicit(name: str) -> str:
    if room_kind(name) in AUTO_KINDS:
        raise ServiceError(ErrorCode.FORBIDDEN, "automatic rooms are joined by the server alone")
    return name


async def room_join(gw: Context, s: Session, data: Any) -> Ack:
    """`room:join`: `{room}` (`/manage`: with `tenant`) → `{ok, room, role}`.

    `room` in the ack is the room's canonical name, which `room:message` carries.
    """
    payload, tenant = scoped(s, data, RoomIn, ManageRoomIn)
    authorize = Authorize(
        identity=s.identity,
        tenant=tenant,
        via_manage=s.on_manage,
        name=_explicit(payload.room),
    )
    reply = await ask(gw, endpoints.ROOM_AUTHORIZE, authorize)
    name = reply.room or payload.room
    subject = Room.explicit(tenant, name).subject
    if subject not in s.subjects:
        # the socket may have closed, or joined the room, while this join was in flight
        await gw.fanout.join(s.sid, s.namespace, [subject])
        if gw.sessions.get(s.sid) is not s:
            await gw.fanout.leave(s.sid, s.namespace, [subject])
        elif subject in s.subjects:
            await gw.fanout.forget(subject)
        else:
            s.subjects.add(subject)
    if subject in s.subjects:
        s.joined[(tenant, payload.room)] = s.joined[(tenant, name)] = subject
    return ok(room=name, role=reply.role)


async def room_leave(gw: Context, s: Session, data: Any) -> Ack:
    """`room:leave`: `{room}` (`/manage`: with `tenant`) → `{ok, room}`; membership stays."""
    payload, tenant = scoped(s, data, RoomIn, ManageRoomIn)
    name = _explicit(payload.room)
    # a room joined by another of its names (its slug) is left by either name
    subject = s.joined.get((tenant, name)) or Room.explicit(tenant, name).subject
    for key in [k for k, v in s.joined.items() if v == subject]:
        del s.joined[key]
    if subject in s.subjects:
        s.subjects.discard(subject)
        await gw.fanout.leave(s.sid, s.namespace, [subject])
    return ok(room=payload.room)


async def room_send(gw: Context, s: Session, data: Any) -> Ack:
    """`room:send`: `{room, body, clientId?}` (`/manage`: with `tenant`) → `{ok, id, ts, seq}`."""
    payload, tenant = scoped(s, data, RoomSendIn, ManageRoomSendIn)
    reply = await post_to_room(
        gw,
        s.identity,
        tenant,
        _explicit(payload.room),
        payload.body,
        payload.client_id,
        via_manage=s.on_manage,
        sid=s.sid,
    )
    return ok(id=reply.id, ts=reply.ts, seq=reply.seq)
