"""`/api/chat-rooms`: create, list, read, update and delete rooms; their members.

Each route forwards to one `cmd.rooms.*` endpoint; the rooms service's role table
decides (a moderator may update, a room admin delete, a tenant admin create...).
Creating and deleting spend the caller's room-change budget, member changes its
membership budget (`deps.room_changes`, `deps.member_changes`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.explicit_rooms import MemberView, RoomView
from contracts.identity import MAX_USER_ID
from services.gateway.commands import ask, present
from services.gateway.http.bodies import (
    AddMemberIn,
    ChangeRoleIn,
    CreateRoomIn,
    Page,
    RoomPath,
    UpdateRoomIn,
)
from services.gateway.http.deps import (
    CallerDep,
    GatewayDep,
    spend_member_change,
    spend_room_change,
)
from services.gateway.http.errors import CONFLICT_RESPONSE
from services.gateway.http.lookup import room_view
from services.gateway.http.queries import Cursor, Limit

router = APIRouter(prefix="/api/chat-rooms", tags=["rooms"])

UserPath = Annotated[str, Path(min_length=1, max_length=MAX_USER_ID, description="User id.")]


@router.post(
    "",
    status_code=201,
    responses=CONFLICT_RESPONSE,
    summary="Create a room (tenant admins); the creator becomes its admin",
)
async def create_room(body: CreateRoomIn, who: CallerDep, gw: GatewayDep) -> RoomView:
    spend_room_change(gw, who)
    command = x.CreateRoom(**who.scope(), **body.model_dump(exclude_unset=True))
    return present((await ask(gw, e.ROOM_CREATE, command)).room, "the room")


@router.get("", summary="List the rooms of the tenant you may read")
async def list_rooms(
    who: CallerDep,
    gw: GatewayDep,
    status: Annotated[x.RoomStatus | None, Query(description="Only this status.")] = None,
    visibility: Annotated[x.Visibility | None, Query(description="Only this one.")] = None,
    q: Annotated[str | None, Query(max_length=255, description="In the name or slug.")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RoomView]:
    command = x.ListRooms(
        **who.scope(), status=status, visibility=visibility, q=q, cursor=cursor, limit=limit
    )
    reply = await ask(gw, e.ROOM_LIST, command)
    return Page[RoomView](items=reply.items, next=reply.next)


@router.get("/{id}", summary="A room's details")
async def get_room(id: RoomPath, who: CallerDep, gw: GatewayDep) -> RoomView:
    return await room_view(gw, who, id)


@router.put("/{id}", summary="Update name, description, visibility, status or settings")
async def update_room(id: RoomPath, body: UpdateRoomIn, who: CallerDep, gw: GatewayDep) -> RoomView:
    command = x.UpdateRoom(**who.scope(), room=id, **body.model_dump(exclude_unset=True))
    return present((await ask(gw, e.ROOM_UPDATE, command)).room, "the room")


@router.delete("/{id}", summary="Archive a room, or delete it (?permanent=true)")
async def delete_room(
    id: RoomPath,
    who: CallerDep,
    gw: GatewayDep,
    permanent: Annotated[bool, Query(description="Delete instead of archive.")] = False,
) -> RoomView:
    spend_room_change(gw, who)
    command = x.DeleteRoom(**who.scope(), room=id, permanent=permanent)
    return present((await ask(gw, e.ROOM_DELETE, command)).room, "the room")


@router.get("/{id}/members", summary="A page of a room's members, by user id")
async def list_members(
    id: RoomPath, who: CallerDep, gw: GatewayDep, cursor: Cursor = None, limit: Limit = 100
) -> Page[MemberView]:
    command = x.ListMembers(**who.scope(), room=id, cursor=cursor, limit=limit)
    reply = await ask(gw, e.ROOM_MEMBERS, command)
    return Page[MemberView](items=reply.items, next=reply.next)


@router.post("/{id}/members", status_code=201, summary="Add a member")
async def add_member(id: RoomPath, body: AddMemberIn, who: CallerDep, gw: GatewayDep) -> MemberView:
    spend_member_change(gw, who)
    command = x.AddMember(**who.scope(), room=id, user_id=body.user_id, role=body.role)
    return present((await ask(gw, e.ROOM_MEMBER_ADD, command)).member, "the member")


@router.put("/{id}/members/{userId}", summary="Change a member's role")
async def change_role(
    id: RoomPath,
    userId: UserPath,
    body: ChangeRoleIn,
    who: CallerDep,
    gw: GatewayDep,
) -> MemberView:
    spend_member_change(gw, who)
    command = x.ChangeRole(**who.scope(), room=id, user_id=userId, role=body.role)
    return present((await ask(gw, e.ROOM_MEMBER_ROLE, command)).member, "the member")


@router.delete(
    "/{id}/members/{userId}",
    status_code=204,
    summary="Remove a member (their sockets get room:left)",
)
async def remove_member(
    id: RoomPath,
    userId: UserPath,
    who: CallerDep,
    gw: GatewayDep,
) -> Response:
    spend_member_change(gw, who)
    await ask(gw, e.ROOM_MEMBER_REMOVE, x.RemoveMember(**who.scope(), room=id, user_id=userId))
    return Response(status_code=204)
