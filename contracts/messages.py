"""Direct and room messages: the commands a gateway sends, the replies, what is delivered."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from contracts.claims import Claims
from contracts.errors import Reply
from contracts.identity import MAX_ROOM_ID, ClientId, Id, Identity, TenantId

MAX_BODY_BYTES = 8 * 1024
"""Default `body` limit (docs/protocol.md); gateways enforce their configured value."""


class ChatSend(BaseModel):
    """Gateway → rooms (`cmd.rooms.chat_send`, request/reply): one direct message."""

    sender: Identity = Field(description="Verified sender, from the gateway's token check.")
    tenant: TenantId = Field(
        description="Tenant the message is sent in (a super_admin may name any)."
    )
    to: Id = Field(description="Recipient user id within `tenant`.")
    body: str = Field(min_length=1, description="Message text, already size-checked.")
    client_id: ClientId | None = Field(default=None, description="Sender's idempotency key.")
    via_manage: bool = Field(default=False, description="Sent from the /manage namespace.")
    sid: str = Field(description="Sending socket, which gets the ack instead of a copy.")


class ChatAck(Reply):
    """Rooms → gateway: the outcome of a `ChatSend`."""

    id: str | None = Field(default=None, description="Message id, sorts in send order.")
    ts: int | None = Field(default=None, description="Milliseconds since the epoch.")


class ChatMessage(BaseModel):
    """What sockets receive as `chat:message` (docs/protocol.md)."""

    id: str = Field(description="Message id.")
    tenant: str = Field(description="Tenant of the conversation.")
    from_: str = Field(alias="from", description="Sender user id.")
    to: str = Field(description="Recipient user id.")
    body: str = Field(description="Message text.")
    ts: int = Field(description="Milliseconds since the epoch; equals the ack's `ts`.")
    room: str = Field(description="Room this copy came through, e.g. `user:bob`.")
    seq: int = Field(description="Position in `room`; grows within the room.")

    model_config = {"populate_by_name": True}


class LoggedMessage(BaseModel):
    """A direct message as stored in the JetStream log (`log.<tenant>.dm.<from>.<to>`).

    Its id is derived from its stream sequence (`contracts.ids.message_id`).
    """

    tenant: str = Field(description="Tenant of the conversation.")
    sender: Identity = Field(description="Who sent it.")
    to: str = Field(description="Recipient user id.")
    body: str = Field(description="Message text.")
    ts: int = Field(description="Milliseconds since the epoch.")
    client_id: str | None = Field(default=None, description="Sender's idempotency key.")
    supervised: bool = Field(description="True when a copy went to the tenant's admins.")


class RoomSend(BaseModel):
    """Gateway → rooms (`cmd.rooms.room_send`, request/reply): one message to an explicit room."""

    sender: Identity = Field(description="Verified sender, from the gateway's token check.")
    tenant: TenantId = Field(description="Tenant of the room (a super_admin may name any).")
    room: str = Field(
        min_length=1,
        max_length=MAX_ROOM_ID * 2 + 1,
        description="Room name as the client gave it: `room:{slug}` or `{entityType}:{entityId}`.",
    )
    body: str = Field(min_length=1, description="Message text, already size-checked.")
    client_id: ClientId | None = Field(default=None, description="Sender's idempotency key.")
    via_manage: bool = Field(default=False, description="Sent from the /manage namespace.")
    sid: str | None = Field(
        default=None,
        description="Sending socket, which gets the ack instead of a copy; null when posted "
        "over the HTTP API (every subscribed socket gets it).",
    )
    claims: Claims | None = Field(
        default=None,
        description="Token claims the gateway forwards to a room kind's policy "
        "(`ROOMCAST_POLICY_CLAIMS`).",
    )


class RoomAck(Reply):
    """Rooms → gateway: the outcome of a `RoomSend`."""

    id: str | None = Field(default=None, description="Message id, sorts in send order.")
    ts: int | None = Field(default=None, description="Milliseconds since the epoch.")
    seq: int | None = Field(default=None, description="Position of the message in the room.")
    room: str | None = Field(default=None, description="The room's canonical name.")


class RoomMessage(BaseModel):
    """What sockets that joined an explicit room receive as `room:message`."""

    id: str = Field(description="Message id.")
    tenant: str = Field(description="Tenant of the room.")
    room: str = Field(description="The room's canonical name, e.g. `room:lobby`.")
    from_: str = Field(alias="from", description="Sender user id.")
    body: str = Field(description="Message text.")
    ts: int = Field(description="Milliseconds since the epoch; equals the ack's `ts`.")
    seq: int = Field(description="Position in `room`; grows within the room.")

    model_config = {"populate_by_name": True}


class LeftReason(StrEnum):
    """Why the server took a socket out of a room (`room:left`)."""

    REMOVED = "removed"
    ARCHIVED = "archived"
    DELETED = "deleted"
    REVOKED = "revoked"
    PRIVATE = "private"


class RoomLeft(BaseModel):
    """What a socket receives as `room:left` when the server takes it out of a room."""

    room: str = Field(description="The room's canonical name.")
    reason: LeftReason = Field(
        description="`removed` (membership ended), `archived`, `deleted`, `revoked` "
        "(a policy withdrew access) or `private` (the room turned private and the socket's "
        "user is not a member)."
    )


class LoggedRoomMessage(BaseModel):
    """A room message as stored in the JetStream log (`log.<tenant>.room.<room>`).

    Its id is derived from its stream sequence (`contracts.ids.message_id`).
    """

    tenant: str = Field(description="Tenant of the room.")
    sender: Identity = Field(description="Who sent it.")
    room: str = Field(description="The room's canonical name.")
    body: str = Field(description="Message text.")
    ts: int = Field(description="Milliseconds since the epoch.")
    client_id: str | None = Field(default=None, description="Sender's idempotency key.")
