"""`/api/chat/rooms/{id}/messages`: a room's history, and posting to it.

Both first resolve the room (`cmd.rooms.get`: its numeric id or slug to its canonical
name, `NOT_FOUND` when you may not read it), then do what `chat:history {room}` and
`room:send` do. A message posted here is delivered as `room:message` to every socket
subscribed to the room (there is no sending socket to skip) and acknowledged once
stored, with the same `clientId` idempotency.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contracts.history import DEFAULT_LIMIT, StoredMessage
from contracts.messages import RoomMessage
from services.gateway.commands import post_to_room, present, read_history
from services.gateway.http.bodies import Page, Posted, PostIn, RoomPath
from services.gateway.http.deps import CallerDep, GatewayDep
from services.gateway.http.lookup import room_view
from services.gateway.http.queries import Limit

router = APIRouter(prefix="/api/chat/rooms", tags=["chat"])

Before = Annotated[
    str | None,
    Query(max_length=64, description="Exclusive cursor: an `id`, e.g. the previous `next`."),
]


@router.get("/{id}/messages", summary="A page of the room's messages, newest first")
async def history(
    id: RoomPath,
    who: CallerDep,
    gw: GatewayDep,
    before: Before = None,
    cursor: Before = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[RoomMessage]:
    """Items are shaped as `room:message`. `next` is the oldest id of a full page (pass
    it as `?before=`; `?cursor=` is a synonym, as on every other list)."""
    name = (await room_view(gw, who, id)).room
    messages = await read_history(
        gw, who.identity, who.tenant, room=name, before=before or cursor, limit=limit
    )
    more = messages[-1].id if len(messages) == limit else None
    return Page[RoomMessage](items=[_as_room_message(m, name) for m in messages], next=more)


def _as_room_message(m: StoredMessage, room: str) -> RoomMessage:
    """A stored room message in the shape sockets receive it (`room:message`)."""
    return RoomMessage(
        id=m.id,
        tenant=m.tenant,
        room=m.room or room,
        from_=m.from_,
        body=m.body,
        ts=m.ts,
        seq=m.seq,
    )


@router.post("/{id}/messages", status_code=201, summary="Post a message, delivered live")
async def post(id: RoomPath, body: PostIn, who: CallerDep, gw: GatewayDep) -> Posted:
    name = (await room_view(gw, who, id)).room
    ack = await post_to_room(
        gw,
        who.identity,
        who.tenant,
        name,
        body.body,
        body.client_id,
        via_manage=who.via_manage,
        sid=None,
    )
    return Posted(id=present(ack.id, "id"), ts=present(ack.ts, "ts"), seq=present(ack.seq, "seq"))
