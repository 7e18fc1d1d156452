"""Entity lifecycle events (seed 004): backend services tell roomcast about their entities.

An entity is anything of another service that has a chat room: an event, a group, a
course. Its primary room is named `{type}:{id}`. The owning service publishes these
events to the JetStream stream `ROOMCAST_ENTITIES` (`contracts.endpoints.ENTITY_EVENTS`,
the SDK's `roomcast.sdk.entities.publish_entity_event`, or `roomcast entity ...`); the
rooms service applies them with a durable consumer, so an event published while it is
down is applied when it comes back.

| event | effect on the primary room `{type}:{id}` |
|---|---|
| `created` | created (or an existing one adopted), named `name`; `createdBy` is its admin |
| `updated` | renamed / visibility changed |
| `deleted` | archived; every socket in it gets `room:left {reason: "archived"}` |
| `member_added` | `userId` becomes a member with `role` (default `member`) |
| `member_removed` | the membership ends; the user's sockets get `room:left {reason: "removed"}` |

Ordering: every event carries `occurredAt` (the publisher's clock by default, or any
number that grows per entity, such as a version). For each entity's status, name and
visibility, and for each `(entity, user)` membership, the event with the greatest
`occurredAt` wins whatever order events arrive in; an older or repeated event changes
nothing. At an equal `occurredAt`, `deleted` beats `updated` beats `created`, and
`member_removed` beats `member_added`.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, RootModel, field_validator

from contracts.explicit_rooms import (
    AUTO_KINDS,
    ROOM_KIND,
    Camel,
    EntityId,
    EntityType,
    MemberRole,
    Title,
    Visibility,
)
from contracts.identity import TenantId, UserId

MAX_OCCURRED_AT = 2**50
"""`occurredAt` is below this (milliseconds: the year 37,000), so versions fit 64 bits."""


class EntityEventKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"


def now_ms() -> int:
    """The current time in milliseconds since the epoch: the default `occurredAt`."""
    return int(time.time() * 1000)


class EntityEventBase(Camel):
    """What every entity event carries: which entity, and when the change happened."""

    tenant: TenantId = Field(description="Tenant the entity belongs to.")
    entity_type: EntityType = Field(
        alias="type",
        description="Entity type, e.g. `event`, `group`, `course` (1..32 of `[a-z0-9_-]`, "
        "starting with a letter; not `room`, `user`, `tenant`, `role` or `manage`).",
    )
    entity_id: EntityId = Field(
        alias="id", description="Entity id within its type (1..128, no whitespace or control)."
    )
    occurred_at: int = Field(
        default_factory=now_ms,
        ge=0,
        lt=MAX_OCCURRED_AT,
        description="When the change happened, in milliseconds since the epoch (default: "
        "the publisher's clock), or any integer that grows with each change of the entity. "
        "Decides which of two events about the same thing wins.",
    )

    @field_validator("entity_type")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in AUTO_KINDS or value == ROOM_KIND:
            raise ValueError(f"{value!r} is a reserved room kind")
        return value

    @property
    def room(self) -> str:
        """The primary room's name, `{type}:{id}`."""
        return f"{self.entity_type}:{self.entity_id}"


class EntityCreated(EntityEventBase):
    """The entity exists: create its primary room, with `createdBy` as the room's admin."""

    event: Literal["created"] = Field(default="created", description="`created`.")
    name: Title = Field(description="The room's display name, 1..255 characters.")
    visibility: Visibility | None = Field(
        default=None, description="`public` or `private` (the default for a new room)."
    )
    created_by: UserId | None = Field(
        default=None, description="User who created the entity; becomes the room's admin."
    )


class EntityUpdated(EntityEventBase):
    """The entity changed: rename its room, or change its visibility."""

    event: Literal["updated"] = Field(default="updated", description="`updated`.")
    name: Title | None = Field(default=None, description="New display name.")
    visibility: Visibility | None = Field(default=None, description="New visibility.")


class EntityDeleted(EntityEventBase):
    """The entity is gone: archive its room (readable, no new messages)."""

    event: Literal["deleted"] = Field(default="deleted", description="`deleted`.")


class EntityMemberAdded(EntityEventBase):
    """A user joined the entity: they become a member of its primary room."""

    event: Literal["member_added"] = Field(default="member_added", description="`member_added`.")
    user_id: UserId = Field(description="User added, of the entity's tenant.")
    role: MemberRole = Field(
        default=MemberRole.MEMBER,
        description="Room role: `member` (default), `moderator`, `admin`.",
    )


class EntityMemberRemoved(EntityEventBase):
    """A user left the entity: their membership of its primary room ends."""

    event: Literal["member_removed"] = Field(
        default="member_removed", description="`member_removed`."
    )
    user_id: UserId = Field(description="User removed.")


AnyEntityEvent = Annotated[
    EntityCreated | EntityUpdated | EntityDeleted | EntityMemberAdded | EntityMemberRemoved,
    Field(discriminator="event"),
]


class EntityEvent(RootModel[AnyEntityEvent]):
    """One entity lifecycle event, told apart by `event`."""


def parse_entity_event(data: bytes | str) -> AnyEntityEvent:
    """Decode and validate one event's JSON body.

    Raises:
        pydantic.ValidationError: not a valid entity event.
    """
    return EntityEvent.model_validate_json(data).root
