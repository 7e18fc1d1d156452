"""Use cases of explicit rooms: each command checks the tenant, finds the room, asks
the role table (`domain/roles.py`), then changes the store (`ports.RoomStore`)."""

from __future__ import annotations

import re
from typing import Any

from contracts import explicit_rooms as x
from contracts.errors import ErrorCode, ServiceError
from contracts.messages import LeftReason
from services.rooms.domain.roles import (
    Action,
    Actor,
    actor_of,
    check,
    check_create,
    grant,
    membership_action,
)
from services.rooms.ports import NewRoom, Revocations, RoomAccess, RoomQuery, RoomStore

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_MAX_ID = 2**63 - 1
_PAGE = 1000
KEEP_MAX_BYTES = 256 * 1024
"""Size of the member list one `room:left` may keep (well under NATS's max_payload)."""


def slug_from(name: str) -> str:
    """A slug made from a display name: lowercase ASCII letters and digits, dashes between.

    Raises:
        ServiceError: `INVALID` when nothing of the name is left.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].rstrip("-")
    if not slug:
        raise ServiceError(ErrorCode.INVALID, "give a slug: the name has no letters or digits")
    return slug


def encode_cursor(value: int | str) -> str:
    return str(value)


def _not_found() -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, "no such room")


class ExplicitRooms:
    """The explicit-room commands of the rooms service."""

    def __init__(self, store: RoomStore, revocations: Revocations) -> None:
        self._store = store
        self._revocations = revocations

    # lookups -----------------------------------------------------------------------

    async def _room(self, cmd: x.RoomCommand, key: str) -> x.RoomView:
        x.check_tenant(cmd.identity, cmd.tenant, via_manage=cmd.via_manage)
        if key.isascii() and key.isdigit():
            room_id = int(key)
            found = (
                await self._store.find_room(cmd.tenant, room_id=room_id)
                if room_id <= _MAX_ID
                else None
            )
        elif _SLUG.match(key):
            found = await self._store.find_room(cmd.tenant, slug=key)
        else:
            found = None
        if found is None:
            raise _not_found()
        return found

    async def _actor(self, cmd: x.RoomCommand, room: x.RoomView) -> Actor:
        role = await self._store.member_role(cmd.tenant, room.id, cmd.identity.user_id)
        return actor_of(cmd.identity.role, role)

    async def _allowed(self, cmd: x.OnRoom, action: Action) -> tuple[x.RoomView, Actor]:
        room = await self._room(cmd, cmd.room)
        actor = await self._actor(cmd, room)
        check(actor, action, room.status, room.visibility)
        return room, actor

    def _caller_actor(self, cmd: x.RoomCommand) -> Actor:
        x.check_tenant(cmd.identity, cmd.tenant, via_manage=cmd.via_manage)
        return actor_of(cmd.identity.role, None)

    # rooms -------------------------------------------------------------------------

    async def create(self, cmd: x.CreateRoom) -> x.RoomView:
        check_create(self._caller_actor(cmd))
        who = cmd.identity
        new = NewRoom(
            slug=cmd.slug or slug_from(cmd.name),
            name=cmd.name,
            description=cmd.description,
            visibility=cmd.visibility,
            created_by=who.user_id,
            settings=cmd.settings,
        )
        # a super_admin acting in another tenant is no member of it
        admin = who.user_id if who.tenant == cmd.tenant else None
        return await self._store.create_room(cmd.tenant, new, admin)

    async def get(self, cmd: x.GetRoom) -> x.RoomView:
        room, _ = await self._allowed(cmd, Action.READ)
        return room

    async def list_rooms(self, cmd: x.ListRooms) -> tuple[list[x.RoomView], str | None]:
        actor = self._caller_actor(cmd)
        after = self._int_cursor(cmd.cursor)
        everything = actor >= Actor.TENANT_ADMIN and not cmd.joined
        query = RoomQuery(
            status=cmd.status,
            visibility=cmd.visibility,
            q=cmd.q,
            viewer=None if everything else cmd.identity.user_id,
            joined=cmd.joined,
            after=after,
            limit=cmd.limit + 1,
        )
        rooms = await self._store.list_rooms(cmd.tenant, query)
        page = rooms[: cmd.limit]
        more = len(rooms) > cmd.limit
        return page, encode_cursor(page[-1].id) if more and page else None

    async def update(self, cmd: x.UpdateRoom) -> x.RoomView:
        changes: dict[str, Any] = {}
        for field in ("name", "description", "visibility"):
            value = getattr(cmd, field)
            if value is not None:
                changes[field] = value
        if cmd.status is x.RoomStatus.DELETED:
            raise ServiceError(ErrorCode.INVALID, "delete a room with the delete command")
        room, _ = await self._allowed(cmd, Action.ARCHIVE if cmd.status else Action.READ)
        if changes or cmd.settings is not None:
            actor = await self._actor(cmd, room)
            # unarchiving comes first, so a room can be unarchived and renamed at once
            status = cmd.status or room.status
            check(actor, Action.UPDATE, status, room.visibility)
        if cmd.status is not None:
            changes["status"] = cmd.status
        updated = await self._store.update_room(cmd.tenant, room.id, changes, cmd.settings)
        if updated.status is x.RoomStatus.ARCHIVED and room.status is x.RoomStatus.ACTIVE:
            await self._revocations.room_left(cmd.tenant, room.room, LeftReason.ARCHIVED, [])
        elif (
            room.visibility is x.Visibility.PUBLIC
            and updated.visibility is x.Visibility.PRIVATE
            and updated.status is not x.RoomStatus.DELETED
        ):
            await self._private(cmd.tenant, updated)
        return updated

    async def _private(self, tenant: str, room: x.RoomView) -> None:
        await revoke_non_members(self._store, self._revocations, tenant, room.id, room.room)

    async def delete(self, cmd: x.DeleteRoom) -> x.RoomView:
        room, _ = await self._allowed(cmd, Action.ARCHIVE)
        status = x.RoomStatus.DELETED if cmd.permanent else x.RoomStatus.ARCHIVED
        updated = await self._store.update_room(cmd.tenant, room.id, {"status": status}, None)
        if status is not room.status:
            reason = LeftReason.DELETED if cmd.permanent else LeftReason.ARCHIVED
            await self._revocations.room_left(cmd.tenant, room.room, reason, [])
        return updated

    # members -----------------------------------------------------------------------

    async def members(self, cmd: x.ListMembers) -> tuple[list[x.MemberView], str | None]:
        room, _ = await self._allowed(cmd, Action.READ)
        rows = await self._store.list_members(cmd.tenant, room.id, cmd.cursor, cmd.limit + 1)
        page = rows[: cmd.limit]
        return page, encode_cursor(page[-1].user_id) if len(rows) > cmd.limit and page else None

    async def add_member(self, cmd: x.AddMember) -> x.MemberView:
        room, _ = await self._allowed(cmd, membership_action(cmd.role))
        return await self._store.put_member(
            cmd.tenant, room.id, cmd.user_id, cmd.role, replace=False
        )

    async def change_role(self, cmd: x.ChangeRole) -> x.MemberView:
        room, _ = await self._allowed(cmd, Action.MANAGE_ROLES)
        if await self._store.member_role(cmd.tenant, room.id, cmd.user_id) is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "no such member")
        return await self._store.put_member(
            cmd.tenant, room.id, cmd.user_id, cmd.role, replace=True
        )

    async def remove_member(self, cmd: x.RemoveMember) -> None:
        room = await self._room(cmd, cmd.room)
        target = await self._store.member_role(cmd.tenant, room.id, cmd.user_id)
        actor = await self._actor(cmd, room)
        check(actor, Action.READ, room.status, room.visibility)
        if target is None:
            raise ServiceError(ErrorCode.NOT_FOUND, "no such member")
        check(actor, membership_action(target), room.status, room.visibility)
        await self._store.remove_member(cmd.tenant, room.id, cmd.user_id)
        await self._membership_ended(cmd.tenant, room, cmd.user_id)

    async def join(self, cmd: x.JoinRoom) -> x.MemberView:
        room, _ = await self._allowed(cmd, Action.JOIN)
        user = cmd.identity.user_id
        if cmd.identity.tenant != cmd.tenant:
            raise ServiceError(ErrorCode.FORBIDDEN, "only users of the tenant may join its rooms")
        return await self._store.put_member(
            cmd.tenant, room.id, user, x.MemberRole.MEMBER, replace=False
        )

    async def leave(self, cmd: x.LeaveRoom) -> None:
        room = await self._room(cmd, cmd.room)
        if room.status is x.RoomStatus.DELETED:
            raise _not_found()
        if not await self._store.remove_member(cmd.tenant, room.id, cmd.identity.user_id):
            raise ServiceError(ErrorCode.NOT_FOUND, "you are not a member of this room")
        await self._membership_ended(cmd.tenant, room, cmd.identity.user_id)

    async def _membership_ended(self, tenant: str, room: x.RoomView, user_id: str) -> None:
        """A member left a private room: their sockets leave it on every gateway.

        A public room stays readable by every user of the tenant, so its sockets stay.
        """
        if room.visibility is x.Visibility.PRIVATE:
            users = [(tenant, user_id)]
            await self._revocations.room_left(tenant, room.room, LeftReason.REMOVED, users)

    # entities ----------------------------------------------------------------------

    async def link(self, cmd: x.LinkEntity) -> x.EntityLink:
        check_create(self._caller_actor(cmd))
        room, _ = await self._allowed(cmd, Action.READ)
        return await self._store.link(
            cmd.tenant, room.id, cmd.entity_type, cmd.entity_id, cmd.is_primary
        )

    async def unlink(self, cmd: x.UnlinkEntity) -> None:
        check_create(self._caller_actor(cmd))
        if not await self._store.unlink(cmd.tenant, cmd.link_id):
            raise ServiceError(ErrorCode.NOT_FOUND, "no such link")

    async def entity_rooms(self, cmd: x.EntityRooms) -> list[x.RoomView]:
        self._caller_actor(cmd)
        rooms = await self._store.entity_rooms(cmd.tenant, cmd.entity_type, cmd.entity_id)
        readable = []
        for room in rooms:
            actor = await self._actor(cmd, room)
            if actor >= Actor.MEMBER or room.visibility is x.Visibility.PUBLIC:
                readable.append(room)
        return readable

    # access for the gateway --------------------------------------------------------

    async def authorize(self, cmd: x.Authorize) -> tuple[RoomAccess, str]:
        """The room named `cmd.name` and what grants the caller access to it."""
        room = await self.lookup(cmd)
        if room is None:
            raise _not_found()
        return room, await self.decide(cmd, room)

    async def lookup(self, cmd: x.Authorize) -> RoomAccess | None:
        """The explicit room named `cmd.name` in the tenant with the caller's role in it,
        in one read of the store (`RoomStore.access`: this runs for every `room:send`),
        or None if there is none.

        Raises:
            ServiceError: `INVALID` for a name that is not `{kind}:{id}`, `FORBIDDEN`
                for an automatic room or a tenant the caller may not act in.
        """
        x.check_tenant(cmd.identity, cmd.tenant, via_manage=cmd.via_manage)
        kind, _, rid = cmd.name.partition(":")
        if not kind or not rid:
            raise ServiceError(ErrorCode.INVALID, "a room name is {kind}:{id}")
        if kind in x.AUTO_KINDS:
            raise ServiceError(ErrorCode.FORBIDDEN, "automatic rooms are joined by the server")
        if kind == x.ROOM_KIND and not _SLUG.match(rid):
            return None
        return await self._store.access(cmd.tenant, kind, rid, cmd.identity.user_id)

    async def decide(self, cmd: x.Authorize, room: RoomAccess) -> str:
        """What grants the caller access to `room` (reading, or posting with `cmd.post`).

        Raises:
            ServiceError: as the role table refuses (`roles.check`).
        """
        actor = actor_of(cmd.identity.role, room.role)
        check(actor, Action.POST if cmd.post else Action.READ, room.status, room.visibility)
        return grant(actor)

    @staticmethod
    def _int_cursor(cursor: str | None) -> int | None:
        if cursor is None:
            return None
        if not (cursor.isascii() and cursor.isdigit() and int(cursor) <= _MAX_ID):
            raise ServiceError(ErrorCode.INVALID, "bad cursor")
        return int(cursor)


async def revoke_non_members(
    store: RoomStore, revocations: Revocations, tenant: str, room_id: int, room: str
) -> None:
    """A room turned private: every socket but its members' leaves it (`room:left
    {reason: private}`).

    Members are read after the change, so one added meanwhile stays. Sockets of tenant
    admins who are no members leave too (they may join again); so do everyone's when
    the member list is over `KEEP_MAX_BYTES`.
    """
    keep: list[tuple[str, str]] = []
    size = 0
    after: str | None = None
    while size <= KEEP_MAX_BYTES:
        page = await store.list_members(tenant, room_id, after, _PAGE)
        keep += [(tenant, m.user_id) for m in page]
        size += sum(len(tenant) + len(m.user_id.encode()) + 8 for m in page)
        if len(page) < _PAGE:
            break
        after = page[-1].user_id
    if size > KEEP_MAX_BYTES:
        keep = []
    await revocations.room_left(tenant, room, LeftReason.PRIVATE, [], keep)
