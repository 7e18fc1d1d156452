"""Thin handlers of the explicit-room endpoints: call the use case, build the reply."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.tenants import OkReply
from roomcast.platform import bus
from roomcast.platform.bus import Served
from services.rooms.audit import RoomAudit, audited
from services.rooms.explicit import ExplicitRooms
from services.rooms.policies.access import RoomAccess
from services.rooms.room_send import RoomMessages


class ExplicitRoomHandlers:
    """Serves every `cmd.rooms.<verb>` endpoint of explicit rooms, and `room_send`."""

    def __init__(
        self,
        rooms: ExplicitRooms,
        messages: RoomMessages | None = None,
        access: RoomAccess | None = None,
        audit: RoomAudit | None = None,
    ) -> None:
        self._rooms = rooms
        self._messages = messages
        self._access = access or RoomAccess.explicit_only(rooms)
        self._audit = audit

    async def start(self, nc: NATS, workers: int) -> list[Served]:
        """Join the `rooms` queue group on every explicit-room endpoint."""
        serve = audited(bus.serve, self._audit)  # admin actions and cross-tenant refusals
        served = [
            await serve(nc, e.ROOM_CREATE, self.create, workers),
            await serve(nc, e.ROOM_GET, self.get, workers),
            await serve(nc, e.ROOM_LIST, self.list_rooms, workers),
            await serve(nc, e.ROOM_UPDATE, self.update, workers),
            await serve(nc, e.ROOM_DELETE, self.delete, workers),
            await serve(nc, e.ROOM_MEMBERS, self.members, workers),
            await serve(nc, e.ROOM_MEMBER_ADD, self.add_member, workers),
            await serve(nc, e.ROOM_MEMBER_ROLE, self.change_role, workers),
            await serve(nc, e.ROOM_MEMBER_REMOVE, self.remove_member, workers),
            await serve(nc, e.ROOM_LINK, self.link, workers),
            await serve(nc, e.ROOM_UNLINK, self.unlink, workers),
            await serve(nc, e.ROOM_ENTITY_ROOMS, self.entity_rooms, workers),
            await serve(nc, e.ROOM_JOIN, self.join, workers),
            await serve(nc, e.ROOM_LEAVE, self.leave, workers),
            await serve(nc, e.ROOM_AUTHORIZE, self.authorize, workers),
        ]
        if self._messages is not None:
            served.append(await serve(nc, e.ROOM_SEND, self._messages.send, workers))
        return served

    async def create(self, cmd: x.CreateRoom) -> x.RoomReply:
        return x.RoomReply(ok=True, room=await self._rooms.create(cmd))

    async def get(self, cmd: x.GetRoom) -> x.RoomReply:
        return x.RoomReply(ok=True, room=await self._rooms.get(cmd))

    async def list_rooms(self, cmd: x.ListRooms) -> x.RoomListReply:
        items, after = await self._rooms.list_rooms(cmd)
        return x.RoomListReply(ok=True, items=items, next=after)

    async def update(self, cmd: x.UpdateRoom) -> x.RoomReply:
        return x.RoomReply(ok=True, room=await self._rooms.update(cmd))

    async def delete(self, cmd: x.DeleteRoom) -> x.RoomReply:
        return x.RoomReply(ok=True, room=await self._rooms.delete(cmd))

    async def members(self, cmd: x.ListMembers) -> x.MemberListReply:
        items, after = await self._rooms.members(cmd)
        return x.MemberListReply(ok=True, items=items, next=after)

    async def add_member(self, cmd: x.AddMember) -> x.MemberReply:
        return x.MemberReply(ok=True, member=await self._rooms.add_member(cmd))

    async def change_role(self, cmd: x.ChangeRole) -> x.MemberReply:
        return x.MemberReply(ok=True, member=await self._rooms.change_role(cmd))

    async def remove_member(self, cmd: x.RemoveMember) -> OkReply:
        await self._rooms.remove_member(cmd)
        return OkReply(ok=True)

    async def link(self, cmd: x.LinkEntity) -> x.LinkReply:
        return x.LinkReply(ok=True, link=await self._rooms.link(cmd))

    async def unlink(self, cmd: x.UnlinkEntity) -> OkReply:
        await self._rooms.unlink(cmd)
        return OkReply(ok=True)

    async def entity_rooms(self, cmd: x.EntityRooms) -> x.RoomListReply:
        return x.RoomListReply(ok=True, items=await self._rooms.entity_rooms(cmd))

    async def join(self, cmd: x.JoinRoom) -> x.MemberReply:
        return x.MemberReply(ok=True, member=await self._rooms.join(cmd))

    async def leave(self, cmd: x.LeaveRoom) -> OkReply:
        await self._rooms.leave(cmd)
        return OkReply(ok=True)

    async def authorize(self, cmd: x.Authorize) -> x.AuthorizeReply:
        """Explicit room, else the kind's policy, else `NOT_FOUND` (`RoomAccess`)."""
        got = await self._access.authorize(cmd)
        return x.AuthorizeReply(ok=True, room_id=got.room_id, room=got.room, role=got.grant)
