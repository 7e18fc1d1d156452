"""Explicit rooms (seed 004): rows the rooms service keeps, their members and entity links.

A room made by hand is named `room:{slug}`; the primary room of an entity is named
`{entityType}:{entityId}` (`event:42`). Every command carries the caller's verified
`Identity` and the `tenant` it acts in: a `super_admin` on `/manage` names any tenant,
everyone else acts in their own (`check_tenant`). What each role may do is decided by
the rooms service alone (`services/rooms/domain/roles.py`).

A duplicate slug, or a second primary room for one entity, is refused with `CONFLICT`
and a message saying so ("slug already taken").
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from contracts.claims import Claims
from contracts.errors import ErrorCode, Reply, ServiceError
from contracts.identity import (
    MAX_ROOM_ID,
    NO_SPACE_OR_CONTROL,
    SUPER_ADMIN,
    Identity,
    TenantId,
    UserId,
)

ROOM_KIND = "room"
"""Kind of a room made by hand: `room:{slug}`."""

AUTO_KINDS = frozenset({"user", "tenant", "role", "manage"})
"""Kinds joined by the server alone; never an entity type."""

MAX_LIMIT = 200
MAX_SETTINGS_BYTES = 8 * 1024

RoomKey = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ROOM_ID, pattern=NO_SPACE_OR_CONTROL)
]
"""A room's numeric id or its slug (1..128 characters, no whitespace or control)."""

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
"""Lowercase letters, digits and dashes, 1..64, not starting with a dash."""

EntityType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
"""Kind of entity a room is linked to, e.g. `event`, `group`, `course` (1..32)."""

EntityId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ROOM_ID, pattern=NO_SPACE_OR_CONTROL)
]
"""An entity's id within its type: 1..128 characters, no whitespace or control."""

RoomName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ROOM_ID * 2 + 1)]
"""A room as clients name it: `{kind}:{id}`."""

Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$"
    ),
]
"""A room's display name: 1..255 characters, no control characters."""

Description = Annotated[str, StringConstraints(max_length=4000)]
"""Free text up to 4,000 characters."""


class RoomStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class MemberRole(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class Camel(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def check_settings(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Refuse settings whose JSON is over `MAX_SETTINGS_BYTES` or whose keys are odd."""
    if value is None:
        return None
    if len(json.dumps(value)) > MAX_SETTINGS_BYTES:
        raise ValueError(f"settings are over {MAX_SETTINGS_BYTES} bytes")
    for key in value:
        if (
            not 1 <= len(key) <= 64
            or not key.replace("_", "").replace("-", "").replace(".", "").isalnum()
        ):
            raise ValueError(f"bad settings key {key[:64]!r}")
    return value


def check_tenant(who: Identity, tenant: str, *, via_manage: bool) -> None:
    """Refuse acting in `tenant`: from `/manage` only a `super_admin`, elsewhere one's own.

    Raises:
        ServiceError: `FORBIDDEN`.
    """
    if via_manage:
        if who.role != SUPER_ADMIN:
            raise ServiceError(ErrorCode.FORBIDDEN, "only a super_admin may act from /manage")
    elif tenant != who.tenant:
        raise ServiceError(ErrorCode.FORBIDDEN, "you may only act in your own tenant")


# views -----------------------------------------------------------------------------


class EntityLink(Camel):
    link_id: int = Field(description="Id of the link (for unlinking).")
    entity_type: str = Field(description="Entity type, e.g. `event`.")
    entity_id: str = Field(description="Entity id within its type.")
    is_primary: bool = Field(description="This is the entity's primary room.")


class RoomView(Camel):
    id: int = Field(description="Numeric room id.")
    room: str = Field(
        description="Name clients use: `{entityType}:{entityId}` of the "
        "primary link if any, else `room:{slug}`."
    )
    slug: str = Field(description="Unique within the tenant.")
    name: str = Field(description="Display name.")
    description: str | None = Field(default=None, description="Free text.")
    status: RoomStatus = Field(description="`active`, `archived` (read-only) or `deleted`.")
    visibility: Visibility = Field(description="`public` (readable by the tenant) or `private`.")
    tenant: str = Field(description="Tenant the room belongs to.")
    created_by: str | None = Field(default=None, description="User id of the creator.")
    created_at: str = Field(description="ISO 8601 creation time.")
    updated_at: str = Field(description="ISO 8601 time of the last change.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Room settings.")
    entities: list[EntityLink] = Field(default_factory=list, description="Linked entities.")


class MemberView(Camel):
    user_id: str = Field(description="Member's user id within the room's tenant.")
    role: MemberRole = Field(description="`admin`, `moderator` or `member`.")
    joined_at: str = Field(description="ISO 8601 time the membership began.")


# requests --------------------------------------------------------------------------


class RoomCommand(Camel):
    """What every explicit-room command carries."""

    identity: Identity = Field(description="Verified caller, from the gateway's token check.")
    tenant: TenantId = Field(description="Tenant acted in (a super_admin on /manage names any).")
    via_manage: bool = Field(default=False, description="Sent from the /manage namespace.")


class OnRoom(RoomCommand):
    room: RoomKey = Field(description="Numeric id or slug of the room.")


class CreateRoom(RoomCommand):
    name: Title = Field(description="Display name, 1..255 characters.")
    slug: Slug | None = Field(default=None, description="Slug; derived from `name` if absent.")
    description: Description | None = Field(default=None, description="Free text.")
    visibility: Visibility = Field(default=Visibility.PRIVATE, description="Default private.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Initial settings.")

    _settings = field_validator("settings")(check_settings)


class GetRoom(OnRoom):
    """Details of one room (members, and anyone of the tenant for a public room)."""


class ListRooms(RoomCommand):
    status: RoomStatus | None = Field(default=None, description="Only this status.")
    visibility: Visibility | None = Field(default=None, description="Only this visibility.")
    q: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        default=None, description="Substring of the name or slug (case-insensitive)."
    )
    joined: bool = Field(default=False, description="Only rooms the caller is a member of.")
    cursor: str | None = Field(default=None, description="`next` of the previous page.")
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT, description="Page size, 1..200.")


class UpdateRoom(OnRoom):
    name: Title | None = Field(default=None, description="New display name.")
    description: Description | None = Field(default=None, description="New description.")
    visibility: Visibility | None = Field(default=None, description="New visibility.")
    status: RoomStatus | None = Field(
        default=None, description="`archived` or `active` (unarchive); `deleted` via delete."
    )
    settings: dict[str, Any] | None = Field(
        default=None, description="Settings merged in; a null value removes the key."
    )

    _settings = field_validator("settings")(check_settings)


class DeleteRoom(OnRoom):
    permanent: bool = Field(default=False, description="Mark deleted instead of archived.")


class ListMembers(OnRoom):
    cursor: str | None = Field(default=None, description="`next` of the previous page.")
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT, description="Page size, 1..200.")


class AddMember(OnRoom):
    user_id: UserId = Field(description="User to add, of the room's tenant.")
    role: MemberRole = Field(default=MemberRole.MEMBER, description="Role given.")


class ChangeRole(OnRoom):
    user_id: UserId = Field(description="Member whose role changes.")
    role: MemberRole = Field(description="New role.")


class RemoveMember(OnRoom):
    user_id: UserId = Field(description="Member to remove.")


class LinkEntity(OnRoom):
    entity_type: EntityType = Field(description="Entity type, e.g. `event`; not an auto kind.")
    entity_id: EntityId = Field(description="Entity id.")
    is_primary: bool = Field(default=False, description="Make it the entity's primary room.")

    @field_validator("entity_type")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in AUTO_KINDS or value == ROOM_KIND:
            raise ValueError(f"{value!r} is a reserved room kind")
        return value


class UnlinkEntity(RoomCommand):
    link_id: int = Field(ge=1, description="Id of the link to remove.")


class EntityRooms(RoomCommand):
    entity_type: EntityType = Field(description="Entity type.")
    entity_id: EntityId = Field(description="Entity id.")


class JoinRoom(OnRoom):
    """Become a `member` of a room the caller may read (a public one)."""


class LeaveRoom(OnRoom):
    """End the caller's own membership."""


class Authorize(RoomCommand):
    name: RoomName = Field(description="Room name as clients give it, e.g. `room:lobby`.")
    post: bool = Field(default=False, description="Ask to post, not only to subscribe.")
    claims: Claims | None = Field(
        default=None,
        description="Token claims the gateway forwards to a room kind's policy "
        "(`ROOMCAST_POLICY_CLAIMS`).",
    )


# replies ---------------------------------------------------------------------------


class RoomReply(Reply):
    room: RoomView | None = Field(default=None, description="The room.")


class RoomListReply(Reply):
    items: list[RoomView] = Field(default_factory=list, description="One page.")
    next: str | None = Field(default=None, description="Cursor of the next page, or null.")


class MemberReply(Reply):
    member: MemberView | None = Field(default=None, description="The membership.")


class MemberListReply(Reply):
    items: list[MemberView] = Field(default_factory=list, description="One page.")
    next: str | None = Field(default=None, description="Cursor of the next page, or null.")


class LinkReply(Reply):
    link: EntityLink | None = Field(default=None, description="The link.")


class AuthorizeReply(Reply):
    room_id: int | None = Field(default=None, alias="roomId", description="The room's id.")
    room: str | None = Field(
        default=None,
        description="The room's canonical name (`{entityType}:{entityId}` of its primary "
        "link, else `room:{slug}`); a room asked for by another of its names answers with "
        "this one, so callers key the room by it.",
    )
    role: str | None = Field(
        default=None,
        description="What grants access: a member role, `tenant_admin`, `super_admin`, "
        "or `public` (reading a public room without membership).",
    )

    model_config = ConfigDict(populate_by_name=True)
