"""The Socket.IO events of this release: every client event, its payload and its ack.

This module documents what the gateway sends; the gateway builds these payloads as
plain dicts (`services/gateway/envelope.py`, `events.py`, `server.py`, `recovery.py`),
so the models here describe them without being on the hot path. Payloads that already
have a model elsewhere in `contracts/` are reused: `ChatMessage` (`chat:message`),
`PresenceChange` (`user:online` / `user:offline`), `StoredMessage` and `OnlineUser`
(acks), `RoomOutcome` (`session:recovered`).

`CLIENT_EVENTS` and `SERVER_EVENTS` list every event with its models;
`roomcast docs` turns them into `docs/schema/events.schema.json` and
`docs/schema/events.d.ts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from contracts.client import (
    ChatSendIn,
    EmptyIn,
    ManageChatSendIn,
    ManageRoomIn,
    ManageRoomSendIn,
    RefreshIn,
    RoomIn,
    RoomSendIn,
    TenantIn,
)
from contracts.client_kinds import BareIdIn, ManageRoomJoinIn, RoomJoinIn
from contracts.errors import ErrorBody, ErrorCode
from contracts.history import ChatHistoryIn, ManageChatHistoryIn, StoredMessage
from contracts.inbox import (
    Notification,
    NotificationCount,
    NotificationListAck,
    NotificationListIn,
    NotificationMarkIn,
    UnreadAck,
)
from contracts.messages import ChatMessage, RoomLeft, RoomMessage
from contracts.presence import OFFLINE_EVENT, ONLINE_EVENT, OnlineUser, PresenceChange
from contracts.recovery import RoomOutcome

TENANT = "/tenant"
"""The namespace of tenant users; `/` is its alias."""
MANAGE = "/manage"
"""The namespace of platform operators (`super_admin`)."""


class _Event(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


# connecting ------------------------------------------------------------------------


class HandshakeAuth(_Event):
    """The `auth` object of the Socket.IO handshake (other members are ignored)."""

    token: str | None = Field(
        default=None,
        description="The JWT. Looked up first; then `Authorization: Bearer`, the `token` "
        "query parameter, the cookie.",
    )
    since: dict[str, int] | None = Field(
        default=None,
        description="Recovery: room name → the last `seq` this client saw in it, e.g. "
        '`{"user:alice": 1041}`.',
    )


class ConnectErrorData(_Event):
    """`err.data` of a refused connection (`connect_error`)."""

    code: ErrorCode = Field(description="`UNAUTHENTICATED`, `FORBIDDEN` or `UNAVAILABLE`.")
    message: str = Field(description="What was wrong; never contains the token.")


# acknowledgements ------------------------------------------------------------------


class ErrorAck(_Event):
    """The ack of any refused client event."""

    ok: Literal[False] = Field(description="Always false.")
    error: ErrorBody = Field(description="Why the event was refused.")


class OkAck(_Event):
    """The ack of an event that returns nothing but success."""

    ok: Literal[True] = Field(description="Always true.")


class ChatSendAck(OkAck):
    """The ack of an accepted `chat:send`: the message is stored in the log."""

    id: str = Field(
        description="Message id; sorts in send order. A retry with the same "
        "`clientId` gets the same id."
    )
    ts: int = Field(description="Milliseconds since the epoch; equals the delivered `ts`.")


class RoomSendAck(ChatSendAck):
    """The ack of an accepted `room:send`: the message is stored in the log."""

    seq: int = Field(description="Position of the message in the room; equals the delivered `seq`.")


class RoomJoinAck(OkAck):
    """The ack of an accepted `room:join`: the socket receives the room's messages."""

    room: str = Field(
        description="The room's canonical name (`{entityType}:{entityId}` of its primary "
        "entity link, else `room:{slug}`), as `room:message` carries it."
    )
    role: str | None = Field(
        default=None,
        description="What grants access: a member role, `tenant_admin`, `super_admin`, or "
        "`public` (reading a public room without membership).",
    )


class RoomLeaveAck(OkAck):
    """The ack of `room:leave`: the socket no longer receives the room's messages."""

    room: str = Field(description="The room name as given.")


class ChatHistoryAck(OkAck):
    """The ack of `chat:history`: one page, newest first."""

    messages: list[StoredMessage] = Field(
        description="Newest first; `to` is set for direct messages, `room` for room messages."
    )


class PresenceListAck(OkAck):
    """The ack of `presence:list`: the tenant's online users, the caller included."""

    users: list[OnlineUser] = Field(description="Online users, sorted by user id.")


class AuthRefreshAck(OkAck):
    """The ack of `auth:refresh`: the connection now lives until the new token's expiry."""

    exp: int = Field(description="The new token's `exp`, seconds since the epoch.")


# server → client -------------------------------------------------------------------


class ChatError(_Event):
    """`chat:error`: a refused `chat:send` or `room:send`, for clients that do not use acks."""

    code: ErrorCode = Field(description="The same code as the ack's `error.code`.")
    message: str = Field(description="The same message as the ack's `error.message`.")
    client_id: JsonValue = Field(
        alias="clientId",
        description="The `clientId` of the refused payload as the client sent it, or null.",
    )


class SessionRecovered(_Event):
    """`session:recovered`: the end of a recovery; live messages follow."""

    rooms: list[RoomOutcome] = Field(
        description="One entry per room of the handshake's `auth.since`, in that order."
    )


# the event tables ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """A client → server event as this release serves it.

    Attributes:
        name: the Socket.IO event name.
        description: what it does.
        payloads: the payload model on each namespace that accepts it.
        ack: the ack model on success (every event may also be acked with `ErrorAck`).
        served: False for protocol events this release answers `UNAVAILABLE`.
    """

    name: str
    description: str
    payloads: tuple[tuple[str, type[BaseModel]], ...]
    ack: type[BaseModel]
    served: bool = True


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """A server → client event.

    Attributes:
        name: the Socket.IO event name.
        description: when it is sent and to whom.
        payload: its payload model.
    """

    name: str
    description: str
    payload: type[BaseModel]


_BOTH = (TENANT, MANAGE)

CLIENT_EVENTS: tuple[ClientEvent, ...] = (
    ClientEvent(
        "chat:send",
        "A direct message to a member of the sender's tenant; on /manage a super_admin "
        "names the tenant. Refused sends also emit `chat:error` to the sending socket.",
        ((TENANT, ChatSendIn), (MANAGE, ManageChatSendIn)),
        ChatSendAck,
    ),
    ClientEvent(
        "chat:history",
        "One page of a conversation, newest first: `with` a user, or a `room`.",
        ((TENANT, ChatHistoryIn), (MANAGE, ManageChatHistoryIn)),
        ChatHistoryAck,
    ),
    ClientEvent(
        "presence:heartbeat",
        "Keeps this connection online; send it every 60 s. A no-op on /manage.",
        ((TENANT, EmptyIn), (MANAGE, EmptyIn)),
        OkAck,
    ),
    ClientEvent(
        "presence:list",
        "The online users of the caller's tenant (/manage: of `tenant`).",
        ((TENANT, EmptyIn), (MANAGE, TenantIn)),
        PresenceListAck,
    ),
    ClientEvent(
        "manage:watch",
        "Follow a tenant: receive its `user:online` / `user:offline`. /manage only.",
        ((MANAGE, TenantIn),),
        OkAck,
    ),
    ClientEvent(
        "manage:unwatch",
        "Stop following a tenant. /manage only.",
        ((MANAGE, TenantIn),),
        OkAck,
    ),
    ClientEvent(
        "auth:refresh",
        "Replace the connection's token before it expires; the new token must name the "
        "same user and tenant.",
        ((TENANT, RefreshIn), (MANAGE, RefreshIn)),
        AuthRefreshAck,
    ),
    ClientEvent(
        "room:join",
        "Receive a room's `room:message`s. An explicit room (`room:{slug}` or "
        "`{entityType}:{entityId}`) admits its members, and any user of the tenant when "
        "public; membership is unchanged. Else the room's kind's policy decides "
        "(`FORBIDDEN` with its reason; `UNAVAILABLE` when it does not answer). `{kind, "
        "data}` lets the kind's policy derive the id (`INVALID` when the data names no "
        "room). Automatic rooms are `FORBIDDEN`; a room the caller may not read, a "
        "deleted one, or a kind nobody serves is `NOT_FOUND`.",
        ((TENANT, RoomJoinIn), (MANAGE, ManageRoomJoinIn)),
        RoomJoinAck,
    ),
    ClientEvent(
        "room:leave",
        "Stop receiving a room's messages on this socket; membership is unchanged.",
        ((TENANT, RoomIn), (MANAGE, ManageRoomIn)),
        RoomLeaveAck,
    ),
    ClientEvent(
        "room:send",
        "A message to an explicit room the sender may post in (members; an archived room "
        "is `FORBIDDEN`); no join needed. Refused sends also emit `chat:error`.",
        ((TENANT, RoomSendIn), (MANAGE, ManageRoomSendIn)),
        RoomSendAck,
    ),
    ClientEvent(
        "notification:list",
        "A page of the caller's notifications, newest first, with the unread count: "
        "`status` `unread`, `read`, `dismissed` or `all` (default: everything not "
        "dismissed), `before` an id of a previous page (exclusive), `limit` 1..200.",
        ((TENANT, NotificationListIn), (MANAGE, NotificationListIn)),
        NotificationListAck,
    ),
    ClientEvent(
        "notification:read",
        "Mark notifications read: `{id}`, `{ids}`, `{all: true}` (everything the caller "
        "sees now), or seed 002's `{tenantId, notificationId, userId, status}` (a tenant or "
        "user other than the caller's is `FORBIDDEN`). An id the caller does not see is "
        "`NOT_FOUND` and nothing changes. Every socket of the caller gets "
        "`notification:count`.",
        ((TENANT, NotificationMarkIn), (MANAGE, NotificationMarkIn)),
        UnreadAck,
    ),
    ClientEvent(
        "notification:dismiss",
        "Hide notifications from the default list and the count: `{id}` or `{ids}`. Every "
        "socket of the caller gets `notification:count`.",
        ((TENANT, NotificationMarkIn), (MANAGE, NotificationMarkIn)),
        UnreadAck,
    ),
    ClientEvent(
        "notification:count",
        "The caller's unread count now (also sent unasked on connect and after every change).",
        ((TENANT, EmptyIn), (MANAGE, EmptyIn)),
        UnreadAck,
    ),
    ClientEvent(
        "course:join",
        "Seed 002: a bare course id (`socket.emit('course:join', 42)`), as "
        '`room:join {room: "course:<id>"}`. /tenant only.',
        ((TENANT, BareIdIn),),
        RoomJoinAck,
    ),
    ClientEvent(
        "course:leave",
        'Seed 002: a bare course id, as `room:leave {room: "course:<id>"}`. /tenant only.',
        ((TENANT, BareIdIn),),
        RoomLeaveAck,
    ),
)
"""Every client event the gateway answers, in documentation order."""

SERVER_EVENTS: tuple[ServerEvent, ...] = (
    ServerEvent(
        "chat:message",
        "A direct message, to the recipient's sockets (`user:{to}`), the sender's other "
        "sockets, and `tenant:{t}:admins` when the tenant supervises direct messages. "
        "Recovery replays missed ones with the same payload.",
        ChatMessage,
    ),
    ServerEvent(
        "room:message",
        "A message to an explicit room, to every socket that joined it except the "
        "sending socket (which has the ack); one copy per socket.",
        RoomMessage,
    ),
    ServerEvent(
        "room:left",
        "The server took this socket out of a room it had joined: its membership ended "
        "(`removed`), the room was archived or deleted, or a policy withdrew access "
        "(`revoked`). Nothing more of the room reaches the socket.",
        RoomLeft,
    ),
    ServerEvent(
        "notification:new",
        "A notification published to a target the user is in (their own, their tenant, "
        "their role in it, their tenant's admins, their platform role), to every socket "
        "of every such user on every gateway, and for a room to the sockets that joined "
        "it; `status` is `unread`.",
        Notification,
    ),
    ServerEvent(
        "notification:count",
        "The user's unread count: to each socket on connect, to every socket of the user "
        "after a read or dismiss, and after a `notification:new` reached them.",
        NotificationCount,
    ),
    ServerEvent(
        "chat:error",
        "A refused `chat:send` or `room:send` (whatever the code), to the sending socket "
        "only, besides the error ack.",
        ChatError,
    ),
    ServerEvent(
        "session:recovered",
        "To a socket that connected with `auth.since`, after the replayed messages and "
        "before any live one.",
        SessionRecovered,
    ),
    ServerEvent(
        ONLINE_EVENT,
        "A user's first connection came online, to `tenant:{t}` and /manage sockets "
        "watching the tenant; once per user, not per tab. `reason` is absent.",
        PresenceChange,
    ),
    ServerEvent(
        OFFLINE_EVENT,
        "A user's last connection went away (after the grace window), with a `reason`.",
        PresenceChange,
    ),
)
"""Every event the server emits to clients in this release. App events (`course:updated`,
...) come on top, named by their publishers; their payload is the publisher's `data`
(`contracts.notifications.AppEventData`)."""
