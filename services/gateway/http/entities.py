"""Rooms and the entities they belong to (an event, a group, a course).

`/api/chat-rooms/entity...` links and unlinks (tenant admins) and lists an entity's
rooms; `/api/chat/event/{entityId}/room` and `/api/chat/group/{entityId}/room` answer
an entity's primary room, the one named `{entityType}:{entityId}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import EntityLink, RoomView
from contracts.identity import MAX_ROOM_ID
from services.gateway.commands import ask, present
from services.gateway.http.bodies import LinkIn, Page
from services.gateway.http.deps import ApiDeps, Caller, CallerDep, GatewayDep
from services.gateway.http.errors import CONFLICT_RESPONSE

router = APIRouter(tags=["entities"])

EntityPath = Annotated[
    str, Path(min_length=1, max_length=MAX_ROOM_ID, description="The entity's id within its type.")
]
PRIMARY_TYPES = ("event", "group")
"""Entity types with a `/api/chat/{type}/{entityId}/room` route (seed 004)."""


@router.post(
    "/api/chat-rooms/entity",
    status_code=201,
    responses=CONFLICT_RESPONSE,
    summary="Link a room to an entity (tenant admins); one primary room per entity",
)
async def link(body: LinkIn, who: CallerDep, gw: GatewayDep) -> EntityLink:
    command = x.LinkEntity(
        **who.scope(),
        room=str(body.room_id),
        entity_type=body.entity_type,
        entity_id=body.entity_id,
        is_primary=body.is_primary,
    )
    return present((await ask(gw, e.ROOM_LINK, command)).link, "the link")


@router.delete(
    "/api/chat-rooms/entity/{linkId}", status_code=204, summary="Remove a link (tenant admins)"
)
async def unlink(
    linkId: Annotated[int, Path(ge=1, le=2**63 - 1, description="`linkId` of the link.")],
    who: CallerDep,
    gw: GatewayDep,
) -> Response:
    await ask(gw, e.ROOM_UNLINK, x.UnlinkEntity(**who.scope(), link_id=linkId))
    return Response(status_code=204)


@router.get(
    "/api/chat-rooms/entity/{type}/{entityId}",
    summary="The rooms linked to an entity that you may read, primary first",
)
async def entity_rooms(
    type: Annotated[str, Path(max_length=32, description="Entity type, e.g. `event`.")],
    entityId: EntityPath,
    who: CallerDep,
    gw: GatewayDep,
) -> Page[RoomView]:
    rooms = await _linked(gw, who, type, entityId)
    return Page[RoomView](items=rooms, next=None)


async def _linked(gw: ApiDeps, who: Caller, entity_type: str, entity_id: str) -> list[RoomView]:
    command = x.EntityRooms(**who.scope(), entity_type=entity_type, entity_id=entity_id)
    return (await ask(gw, e.ROOM_ENTITY_ROOMS, command)).items


async def primary_room(gw: ApiDeps, who: Caller, entity_type: str, entity_id: str) -> RoomView:
    """The entity's primary room, or `NOT_FOUND`."""
    for room in await _linked(gw, who, entity_type, entity_id):
        if any(
            link.is_primary and link.entity_type == entity_type and link.entity_id == entity_id
            for link in room.entities
        ):
            return room
    raise ServiceError(ErrorCode.NOT_FOUND, f"{entity_type} {entity_id} has no room you may read")


def _primary_route(entity_type: str) -> None:
    async def entity_room(entityId: EntityPath, who: CallerDep, gw: GatewayDep) -> RoomView:
        return await primary_room(gw, who, entity_type, entityId)

    router.add_api_route(
        f"/api/chat/{entity_type}/{{entityId}}/room",
        entity_room,
        methods=["GET"],
        response_model=RoomView,
        name=f"{entity_type}_room",
        summary=f"The primary room of an {entity_type}"
        if entity_type[0] in "aeiou"
        else f"The primary room of a {entity_type}",
    )


for _type in PRIMARY_TYPES:
    _primary_route(_type)
