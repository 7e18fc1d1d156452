"""`/api/chat/rooms`: the rooms a user sees, joins and leaves.

Joining makes the caller a `member` (of a public room, or as the role table allows);
leaving ends the membership, and the caller's sockets subscribed to a private room get
`room:left`. Neither subscribes or unsubscribes a socket: that is `room:join`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.explicit_rooms import MemberView, RoomView
from services.gateway.commands import ask, present
from services.gateway.http.bodies import Page, RoomPath
from services.gateway.http.deps import CallerDep, GatewayDep, spend_member_change
from services.gateway.http.lookup import room_view
from services.gateway.http.queries import Cursor, Limit

router = APIRouter(prefix="/api/chat/rooms", tags=["chat"])


@router.get("", summary="Rooms you are a member of, and public ones")
async def my_rooms(
    who: CallerDep,
    gw: GatewayDep,
    joined: Annotated[bool, Query(description="Only rooms you are a member of.")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RoomView]:
    command = x.ListRooms(**who.scope(), joined=joined, cursor=cursor, limit=limit)
    reply = await ask(gw, e.ROOM_LIST, command)
    return Page[RoomView](items=reply.items, next=reply.next)


@router.get("/{id}", summary="A room's details (members, and anyone for a public room)")
async def my_room(id: RoomPath, who: CallerDep, gw: GatewayDep) -> RoomView:
    return await room_view(gw, who, id)


@router.post(
    "/{id}/join",
    summary="Become a member (public rooms); joining twice is harmless",
)
async def join(id: RoomPath, who: CallerDep, gw: GatewayDep) -> MemberView:
    spend_member_change(gw, who)
    reply = await ask(gw, e.ROOM_JOIN, x.JoinRoom(**who.scope(), room=id))
    return present(reply.member, "the member")


@router.delete("/{id}/leave", status_code=204, summary="End your membership")
async def leave(id: RoomPath, who: CallerDep, gw: GatewayDep) -> Response:
    spend_member_change(gw, who)
    await ask(gw, e.ROOM_LEAVE, x.LeaveRoom(**who.scope(), room=id))
    return Response(status_code=204)
