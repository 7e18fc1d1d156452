"""`room:join`, `room:leave`, `room:send`: explicit rooms, decided by the rooms service.

`room:join` asks the rooms service whether the caller may read the room
(`ROOM_AUTHORIZE`), then puts the socket in the room's delivery subject: the gateway
subscribes to it only while it hosts a joined socket. `room:leave` takes the socket out
again and never changes membership. `room:send` needs no join: the rooms service
authorizes the post, logs it and delivers it to every joined socket but the sender's.
Automatic rooms (`user:`, `tenant:`, `role:`, `manage:`) are joined by the server
alone: these events on them are `FORBIDDEN`.

`room:join {kind, data}` first asks the rooms service which room the data names
(`ROOM_IDENTIFY`, answered by the kind's policy), then joins that room as above. Seed
002's `course:join` / `course:leave` with a bare course id are `room:join` /
`room:leave` of `course:<id>`.
"""

from __future__ import annotations

from typing import Any

from contracts import endpoints
from contracts.client import ManageRoomIn, ManageRoomSendIn, RoomIn, RoomSendIn, room_kind
from contracts.client_kinds import ManageRoomKindIn, RoomKindIn, bare_id
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import AUTO_KINDS, Authorize
from contracts.policies import POLICY_GRANT, Identify
from contracts.rooms import Room
from services.gateway.commands import ask, post_to_room
from services.gateway.envelope import Ack, ok
from services.gateway.fanout import Fanout
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session, scoped


def _explicit(name: str) -> str:
    if room_kind(name) in AUTO_KINDS:
        raise ServiceError(ErrorCode.FORBIDDEN, "automatic rooms are joined by the server alone")
    return name


async def room_join(gw: Context, s: Session, data: Any) -> Ack:
    """`room:join`: `{room}` or `{kind, data}` (`/manage`: with `tenant`) → `{ok, room, role}`.

    `room` in the ack is the room's canonical name, which `room:message` carries.
    """
    if isinstance(data, dict) and "kind" in data:
        by_kind, tenant = scoped(s, data, RoomKindIn, ManageRoomKindIn)
        identify = Identify(
            identity=s.identity,
            tenant=tenant,
            via_manage=s.on_manage,
            kind=by_kind.kind,
            data=by_kind.data,
            claims=s.claims or None,
        )
        named = await ask(gw, endpoints.ROOM_IDENTIFY, identify)
        return await _join(gw, s, tenant, _explicit(named.room or ""))
    payload, tenant = scoped(s, data, RoomIn, ManageRoomIn)
    return await _join(gw, s, tenant, _explicit(payload.room))


async def _join(gw: Context, s: Session, tenant: str, asked: str) -> Ack:
    """Ask the rooms service for access to `asked`, then subscribe the socket."""
    authorize = Authorize(
        identity=s.identity,
        tenant=tenant,
        via_manage=s.on_manage,
        name=asked,
        claims=s.claims or None,
    )
    reply = await ask(gw, endpoints.ROOM_AUTHORIZE, authorize)
    name = reply.room or asked
    subject = Room.explicit(tenant, name).subject
    fresh = subject not in s.subjects
    entered = await enter(gw.fanout, gw.sessions, s, tenant, asked, name)
    if entered and fresh and reply.role == POLICY_GRANT:
        await _confirm(gw, s, authorize, subject)
    return ok(room=name, role=reply.role)


async def _confirm(gw: Context, s: Session, authorize: Authorize, subject: str) -> None:
    """Ask again about a policy room, now that this gateway receives its revocations.

    A `revoke` published between the first answer and the subscription never reached
    this gateway, and would leave the socket in the room for good; after it, the policy
    (asked again: every replica dropped its cached answer) refuses. Refused now, or no
    answer, the socket leaves the room and the join is refused.
    """
    try:
        await ask(gw, endpoints.ROOM_AUTHORIZE, authorize)
    except ServiceError:
        if subject in s.subjects:
            s.subjects.discard(subject)
            for key in [k for k, v in s.joined.items() if v == subject]:
                del s.joined[key]
            await gw.fanout.leave(s.sid, s.namespace, [subject])
        raise


def _seed_room(s: Session, event: str, data: Any) -> dict[str, str]:
    """Seed 002's bare id as a `room:join` / `room:leave` payload on `/tenant`."""
    if s.on_manage:
        raise ServiceError(
            ErrorCode.INVALID, f"{event} is for /tenant; on /manage use room:join {{tenant, room}}"
        )
    return {"room": f"{event.partition(':')[0]}:{bare_id(data)}"}


async def course_join(gw: Context, s: Session, data: Any) -> Ack:
    """`course:join`: a bare course id (seed 002) → as `room:join {room: "course:<id>"}`."""
    return await room_join(gw, s, _seed_room(s, "course:join", data))


async def course_leave(gw: Context, s: Session, data: Any) -> Ack:
    """`course:leave`: a bare course id (seed 002) → as `room:leave {room: "course:<id>"}`."""
    return await room_leave(gw, s, _seed_room(s, "course:leave", data))


async def room_leave(gw: Context, s: Session, data: Any) -> Ack:
    """`room:leave`: `{room}` (`/manage`: with `tenant`) → `{ok, room}`; membership stays."""
    payload, tenant = scoped(s, data, RoomIn, ManageRoomIn)
    await leave(gw.fanout, s, tenant, _explicit(payload.room))
    return ok(room=payload.room)


async def enter(
    fanout: Fanout, sessions: dict[str, Session], s: Session, tenant: str, asked: str, name: str
) -> bool:
    """Put `s` in the explicit room `name` (canonical), asked for as `asked`.

    Used by `room:join` and by recovery, after the rooms service allowed it. Returns
    False when the socket closed while this was in flight (nothing is left behind).
    """
    subject = Room.explicit(tenant, name).subject
    if subject not in s.subjects:
        # the socket may have closed, or joined the room, while this join was in flight
        await fanout.join(s.sid, s.namespace, [subject])
        if sessions.get(s.sid) is not s:
            await fanout.leave(s.sid, s.namespace, [subject])
        elif subject in s.subjects:
            await fanout.forget(subject)
        else:
            s.subjects.add(subject)
    if subject in s.subjects:
        s.joined[(tenant, asked)] = s.joined[(tenant, name)] = subject
        return True
    return False


async def leave(fanout: Fanout, s: Session, tenant: str, name: str) -> None:
    """Take `s` out of the explicit room it joined as `name`; membership is unchanged."""
    # a room joined by another of its names (its slug) is left by either name
    subject = s.joined.get((tenant, name)) or Room.explicit(tenant, name).subject
    for key in [k for k, v in s.joined.items() if v == subject]:
        del s.joined[key]
    if subject in s.subjects:
        s.subjects.discard(subject)
        await fanout.leave(s.sid, s.namespace, [subject])


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
        claims=s.claims or None,
    )
    return ok(id=reply.id, ts=reply.ts, seq=reply.seq)
