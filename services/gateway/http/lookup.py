"""Finding a room by what a URL names it: its numeric id or its slug."""

from __future__ import annotations

from contracts import endpoints as e
from contracts import explicit_rooms as x
from services.gateway.commands import ask, present
from services.gateway.http.deps import ApiDeps, Caller


async def room_view(gw: ApiDeps, who: Caller, key: str) -> x.RoomView:
    """The room `key` names, if the caller may read it (`NOT_FOUND` otherwise)."""
    reply = await ask(gw, e.ROOM_GET, x.GetRoom(**who.scope(), room=key))
    return present(reply.room, "the room")
