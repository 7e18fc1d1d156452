"""The role table of explicit rooms: who may do what in a room, in one pure module.

| action | outsider | member | moderator | room admin | tenant admin | super_admin |
|---|---|---|---|---|---|---|
| `READ` join (subscribe), read history | public rooms | yes | yes | yes | yes | yes |
| `JOIN` become a member | public rooms | yes | yes | yes | yes | yes |
| `POST` | | yes | yes | yes | yes | yes |
| `UPDATE` name, description, settings, visibility | | | yes | yes | yes | yes |
| `MANAGE_MEMBERS` add/remove members with role `member` | | | yes | yes | yes | yes |
| `MANAGE_ROLES` change roles, remove moderators and admins | | | | yes | yes | yes |
| `ARCHIVE` archive, unarchive, delete | | | | yes | yes | yes |
| `CREATE` create rooms, link rooms to entities | | | | | yes | yes |

An *outsider* is a user of the room's tenant without a membership; users of other
tenants never reach a room (every lookup is by tenant). A `super_admin` acts from
`/manage` in the tenant it names. Whoever may not read a room is told it does not
exist (`NOT_FOUND`); a deleted room does not exist for anyone; an archived room is
read-only: only `READ`, `ARCHIVE` (unarchive, delete) and leaving are allowed.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import MemberRole, RoomStatus, Visibility
from contracts.identity import ADMIN, SUPER_ADMIN


class Actor(IntEnum):
    """The caller's standing in one room, weakest first; each includes the ones below."""

    OUTSIDER = 0
    MEMBER = 1
    MODERATOR = 2
    ROOM_ADMIN = 3
    TENANT_ADMIN = 4
    SUPER_ADMIN = 5


class Action(StrEnum):
    READ = "read"
    JOIN = "join"
    POST = "post"
    UPDATE = "update"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_ROLES = "manage_roles"
    ARCHIVE = "archive"
    CREATE = "create"


MINIMUM: dict[Action, Actor] = {
    Action.READ: Actor.MEMBER,
    Action.JOIN: Actor.MEMBER,
    Action.POST: Actor.MEMBER,
    Action.UPDATE: Actor.MODERATOR,
    Action.MANAGE_MEMBERS: Actor.MODERATOR,
    Action.MANAGE_ROLES: Actor.ROOM_ADMIN,
    Action.ARCHIVE: Actor.ROOM_ADMIN,
    Action.CREATE: Actor.TENANT_ADMIN,
}
"""The weakest actor allowed each action (outsiders may also read and join public rooms)."""

ALLOWED_WHEN_ARCHIVED = frozenset({Action.READ, Action.ARCHIVE})

_BY_MEMBER_ROLE = {
    MemberRole.MEMBER: Actor.MEMBER,
    MemberRole.MODERATOR: Actor.MODERATOR,
    MemberRole.ADMIN: Actor.ROOM_ADMIN,
}


def actor_of(token_role: str, member_role: MemberRole | None) -> Actor:
    """The caller's standing: the stronger of their token role and their room role.

    Call it only after `contracts.explicit_rooms.check_tenant` accepted the tenant.
    """
    if token_role == SUPER_ADMIN:
        return Actor.SUPER_ADMIN
    if token_role == ADMIN:
        return Actor.TENANT_ADMIN
    return _BY_MEMBER_ROLE[member_role] if member_role is not None else Actor.OUTSIDER


def can_read(actor: Actor, visibility: Visibility) -> bool:
    """Whether the actor may see the room at all (subscribe, read history, details)."""
    return actor >= Actor.MEMBER or visibility is Visibility.PUBLIC


def check(actor: Actor, action: Action, status: RoomStatus, visibility: Visibility) -> None:
    """Refuse `action` on a room in this state unless the table allows it.

    Raises:
        ServiceError: `NOT_FOUND` for a deleted room or one the actor may not read;
            `FORBIDDEN` when the table or the archived state refuses.
    """
    if status is RoomStatus.DELETED or not can_read(actor, visibility):
        raise ServiceError(ErrorCode.NOT_FOUND, "no such room")
    outsider_ok = action in (Action.READ, Action.JOIN)
    if actor < MINIMUM[action] and not outsider_ok:
        raise ServiceError(ErrorCode.FORBIDDEN, f"your role in this room may not {action}")
    if status is RoomStatus.ARCHIVED and action not in ALLOWED_WHEN_ARCHIVED:
        raise ServiceError(ErrorCode.FORBIDDEN, "the room is archived (read-only)")


def check_create(actor: Actor) -> None:
    """Refuse creating rooms or linking entities below a tenant admin.

    Raises:
        ServiceError: `FORBIDDEN`.
    """
    if actor < MINIMUM[Action.CREATE]:
        raise ServiceError(ErrorCode.FORBIDDEN, "only tenant admins may create or link rooms")


def membership_action(role: MemberRole) -> Action:
    """What adding, or removing, a member with `role` needs."""
    return Action.MANAGE_MEMBERS if role is MemberRole.MEMBER else Action.MANAGE_ROLES


def grant(actor: Actor) -> str:
    """What lets `actor` in, for `authorize` replies (after `check` passed)."""
    if actor is Actor.OUTSIDER:
        return "public"
    names = {
        Actor.MEMBER: "member",
        Actor.MODERATOR: "moderator",
        Actor.ROOM_ADMIN: "admin",
        Actor.TENANT_ADMIN: "tenant_admin",
        Actor.SUPER_ADMIN: "super_admin",
    }
    return names[actor]
