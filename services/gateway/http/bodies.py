"""What the HTTP API takes and gives, typed on the contracts' fields (camelCase).

Request bodies forbid unknown fields, as Socket.IO payloads do: a typo is `INVALID`,
not ignored. Their fields are the contracts' own types (`contracts.explicit_rooms`),
so the HTTP API refuses exactly what the rooms service would; responses are the
contracts' views (`RoomView`, `MemberView`, `EntityLink`, `StoredMessage`).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from contracts.explicit_rooms import (
    Description,
    EntityId,
    EntityType,
    MemberRole,
    RoomKey,
    RoomStatus,
    Slug,
    Title,
    Visibility,
    check_settings,
)
from contracts.identity import MAX_ROOM_ID, NO_SPACE_OR_CONTROL, ClientId, UserId

T = TypeVar("T")

RoomPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ROOM_ID,
        pattern=NO_SPACE_OR_CONTROL,
        description="The room's numeric id or its slug.",
    ),
]


class Body(BaseModel):
    """camelCase, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class CreateRoomIn(Body):
    """`POST /api/chat-rooms`."""

    name: Title = Field(description="Display name, 1..255 characters.")
    slug: Slug | None = Field(
        default=None, description="Unique in the tenant; from `name` if absent."
    )
    description: Description | None = Field(default=None, description="Free text.")
    visibility: Visibility = Field(default=Visibility.PRIVATE, description="Default `private`.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Initial settings.")

    _settings = field_validator("settings")(check_settings)


class UpdateRoomIn(Body):
    """`PUT /api/chat-rooms/{id}`: only the fields given change."""

    name: Title | None = Field(default=None, description="New display name.")
    description: Description | None = Field(default=None, description="New description.")
    visibility: Visibility | None = Field(default=None, description="New visibility.")
    status: RoomStatus | None = Field(
        default=None, description="`archived` or `active` (unarchive); delete with DELETE."
    )
    settings: dict[str, Any] | None = Field(
        default=None, description="Settings merged in; a null value removes the key."
    )

    _settings = field_validator("settings")(check_settings)


class AddMemberIn(Body):
    """`POST /api/chat-rooms/{id}/members`."""

    user_id: UserId = Field(description="User of the room's tenant to add.")
    role: MemberRole = Field(default=MemberRole.MEMBER, description="Role given.")


class ChangeRoleIn(Body):
    """`PUT /api/chat-rooms/{id}/members/{userId}`."""

    role: MemberRole = Field(description="New role.")


class LinkIn(Body):
    """`POST /api/chat-rooms/entity`."""

    room_id: int | RoomKey = Field(description="The room's numeric id or slug.")
    entity_type: EntityType = Field(description="Entity type, e.g. `event`, `group`.")
    entity_id: EntityId = Field(description="Entity id within its type.")
    is_primary: bool = Field(default=False, description="Make it the entity's primary room.")


class PostIn(Body):
    """`POST /api/chat/rooms/{id}/messages`: as `room:send` without `room`."""

    body: str = Field(
        min_length=1,
        pattern=r"^[^\x00]*$",
        description="Message text, at most `ROOMCAST_MAX_BODY_BYTES` of UTF-8 (8 KiB by "
        "default; more is `TOO_LARGE`, 413).",
    )
    client_id: ClientId | None = Field(
        default=None, description="Idempotency key: a retry with the same one is one message."
    )


class Page(BaseModel, Generic[T]):
    """One page of a list; `next` goes back as `?cursor=` (null on the last page)."""

    items: list[T] = Field(description="This page.")
    next: str | None = Field(description="Cursor of the next page, or null.")


class Posted(BaseModel):
    """A stored room message, as `room:send` acknowledges it."""

    id: str = Field(description="Message id; sorts in send order.")
    ts: int = Field(description="Milliseconds since the epoch.")
    seq: int = Field(description="Position of the message in the room.")
