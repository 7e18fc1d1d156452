"""Payloads clients send (docs/protocol.md, "Client → server events").

Every model forbids unknown fields so that typos surface as `INVALID` instead of
being ignored. `body` size is checked by the gateway against its configured limit.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from contracts.identity import MAX_ROOM_ID, NO_SPACE_OR_CONTROL, ClientId, Id, TenantId

_CLIENT_ID: TypeAdapter[str] = TypeAdapter(ClientId)
_ROOM_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ROOM_ID = re.compile(NO_SPACE_OR_CONTROL)


def check_room_name(value: str) -> str:
    """Refuse a room name that is not `{kind}:{id}`: kind 1..32 lowercase letters, digits,
    `_` and `-` (starting with a letter), id 1..128 characters without whitespace or
    control characters."""
    kind, colon, rid = value.partition(":")
    if not colon or not _ROOM_KIND.match(kind):
        raise ValueError("a room name is {kind}:{id}, kind in lowercase letters")
    if not 1 <= len(rid) <= MAX_ROOM_ID or not _ROOM_ID.match(rid):
        raise ValueError(
            f"a room id is 1..{MAX_ROOM_ID} characters without whitespace or control characters"
        )
    return value


def room_kind(name: str) -> str:
    """The kind of a checked room name (`room` for `room:lobby`)."""
    return name.partition(":")[0]


def echoable_client_id(value: Any) -> str | None:
    """`value` if it is a valid `ClientId`, else None: all `chat:error` may echo."""
    if not isinstance(value, str):
        return None
    try:
        return _CLIENT_ID.validate_python(value)
    except ValidationError:
        return None


class ClientModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ChatSendIn(ClientModel):
    """`chat:send` on `/tenant`."""

    to: Id = Field(description="Recipient user id in the sender's tenant.")
    body: str = Field(
        min_length=1,
        pattern=r"^[^\x00]*$",
        description="Message text (no NUL characters: PostgreSQL text cannot store them).",
    )
    client_id: ClientId | None = Field(
        default=None, alias="clientId", description="Idempotency key (1-128 characters)."
    )


class ManageChatSendIn(ChatSendIn):
    """`chat:send` on `/manage`: a super_admin names the tenant."""

    tenant: TenantId = Field(description="Tenant of the recipient.")


class TenantIn(ClientModel):
    """`manage:watch`, `manage:unwatch`, `presence:list` on `/manage`."""

    tenant: TenantId = Field(description="Tenant to act on.")


class RefreshIn(ClientModel):
    """`auth:refresh`."""

    token: str = Field(min_length=1, max_length=16384, description="A fresh JWT.")


class EmptyIn(ClientModel):
    """Events that take `{}`."""


class RoomIn(ClientModel):
    """`room:join` and `room:leave` on `/tenant`."""

    room: str = Field(
        max_length=MAX_ROOM_ID * 2 + 1,
        description="Room name `{kind}:{id}`: `room:{slug}` or `{entityType}:{entityId}`.",
    )

    _room = field_validator("room")(check_room_name)


class ManageRoomIn(RoomIn):
    """`room:join` and `room:leave` on `/manage`: a super_admin names the tenant."""

    tenant: TenantId = Field(description="Tenant of the room.")


class RoomSendIn(ClientModel):
    """`room:send` on `/tenant`."""

    room: str = Field(
        max_length=MAX_ROOM_ID * 2 + 1,
        description="Room name `{kind}:{id}`: `room:{slug}` or `{entityType}:{entityId}`.",
    )
    body: str = Field(
        min_length=1,
        pattern=r"^[^\x00]*$",
        description="Message text (no NUL characters: PostgreSQL text cannot store them).",
    )
    client_id: ClientId | None = Field(
        default=None, alias="clientId", description="Idempotency key (1-128 characters)."
    )

    _room = field_validator("room")(check_room_name)


class ManageRoomSendIn(RoomSendIn):
    """`room:send` on `/manage`: a super_admin names the tenant."""

    tenant: TenantId = Field(description="Tenant of the room.")
