"""Every NATS endpoint of roomcast, declared once: subject, payloads, queue group, timeout.

Four kinds:

- `Endpoint`: a request/reply command served by one queue group (`cmd.…`).
- `Broadcast`: an event every replica of a service receives (`evt.…`).
- `DeliverySubject`: what gateways deliver to the sockets of one room (`deliver.…`).
- `StreamSubject`: a JetStream stream's subjects (`log.…`, `dlq.…`).

Subjects come from `contracts.subjects`; models from the domain modules. These are
declarations: `roomcast docs` writes `docs/asyncapi.json` from them. Call sites still
name the subject and models themselves (`jetstream_pull_next` is the JetStream API,
not a roomcast subject, and is not declared here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from contracts import deadletter, delivery, subjects
from contracts.client_events import ForwardedEvent
from contracts.entities import EntityEvent
from contracts.errors import Reply
from contracts.explicit_rooms import (
    AddMember,
    Authorize,
    AuthorizeReply,
    ChangeRole,
    CreateRoom,
    DeleteRoom,
    EntityRooms,
    GetRoom,
    JoinRoom,
    LeaveRoom,
    LinkEntity,
    LinkReply,
    ListMembers,
    ListRooms,
    MemberListReply,
    MemberReply,
    RemoveMember,
    RoomListReply,
    RoomReply,
    UnlinkEntity,
    UpdateRoom,
)
from contracts.history import HistoryQuery, HistoryReply
from contracts.inbox import (
    CountNotifications,
    CountReply,
    CountsReply,
    ListNotifications,
    MarkNotifications,
    Notification,
    NotificationCount,
    NotificationPage,
)
from contracts.messages import (
    ChatAck,
    ChatMessage,
    ChatSend,
    LoggedMessage,
    LoggedRoomMessage,
    RoomAck,
    RoomLeft,
    RoomMessage,
    RoomSend,
)
from contracts.notifications import AppEvent, AppEventData, Notify, NotifyReply, PublishReply
from contracts.policies import (
    AccessAnswer,
    AccessQuestion,
    IdentifierAnswer,
    IdentifierQuestion,
    Identify,
    IdentifyReply,
    KindsReply,
    ListKinds,
    Ping,
    PingReply,
    RegisterKinds,
    Revoke,
    Revoked,
    RevokeReply,
)
from contracts.presence import (
    OFFLINE_EVENT,
    ONLINE_EVENT,
    GatewayReport,
    PresenceChange,
    PresenceListReply,
    PresenceListRequest,
    ReportReply,
)
from contracts.recovery import RecoverChunk, RecoverRequest
from contracts.security import SecurityEvent
from contracts.sessions import DisconnectUser
from contracts.tenants import (
    GetTenantSettings,
    OkReply,
    RegisterMember,
    SetTenantSettings,
    TenantSettingsChanged,
    TenantSettingsReply,
)

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=Reply)

REQUEST_TIMEOUT = 5.0
"""Seconds a caller waits for a reply: the default of the gateway's
`ROOMCAST_REQUEST_TIMEOUT`, and what `roomcast tenant` waits."""

REGISTER_TIMEOUT = 1.0
"""Seconds a gateway waits for `directory_register` while a client connects."""

POLICY_TIMEOUT = 1.5
"""Seconds the rooms service waits for a policy's answer by default
(`ROOMCAST_POLICY_TIMEOUT`): two questions (`identifier`, then `can_join`) fit within a
gateway's `REQUEST_TIMEOUT`."""


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[Req, Rep]):
    """A request/reply command, answered by one replica of a queue group.

    Attributes:
        name: short name, e.g. `rooms.chat_send`.
        subject: the request subject.
        request: the request body's model (JSON).
        reply: the reply body's model (JSON); every reply has `ok` and `error`.
        queue: the queue group of the serving replicas.
        timeout: seconds callers wait; no reply in time means `UNAVAILABLE`, with the
            outcome unknown.
        server: the service that answers.
        callers: who sends the request.
        description: what the command does.
        streamed: the reply is a sequence of messages on the request's reply subject,
            the last marked `done`, instead of one message.
        build: for a subject with parameters (a policy's kind), its `contracts.subjects`
            builder; `subject` then shows `{parameter}` in place of each, and `at()`
            gives the endpoint of given values.
        parameters: the builder's parameters, each an id encoded as one subject token.
    """

    name: str
    subject: str
    request: type[Req]
    reply: type[Rep]
    queue: str
    timeout: float
    server: str
    callers: tuple[str, ...]
    description: str
    streamed: bool = False
    build: Callable[..., str] | None = None
    parameters: tuple[str, ...] = ()

    def at(self, *values: str) -> Endpoint[Req, Rep]:
        """This endpoint on the subject of `values` (e.g. one kind's policy)."""
        if self.build is None:
            raise TypeError(f"{self.name} has no subject parameters")
        return replace(self, subject=self.build(*values))


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A plain publish that every subscriber receives (no queue group, no reply).

    Attributes:
        name: short name.
        subject: the subject.
        payload: the body's model (JSON).
        publishers: who publishes it.
        subscribers: who listens.
        description: what it announces.
        parameters: for a subject with ids in it, their names (`PARAMETERS`); the
            subject is then the address, with `{parameter}` in place of each.
        build: for such a subject, its `contracts.subjects` builder.
    """

    name: str
    subject: str
    payload: type[BaseModel]
    publishers: tuple[str, ...]
    subscribers: tuple[str, ...]
    description: str
    parameters: tuple[str, ...] = ()
    build: Callable[..., str] | None = None


@dataclass(frozen=True, slots=True)
class Header:
    """A NATS message header and what it carries."""

    name: str
    description: str


@dataclass(frozen=True, slots=True)
class DeliverySubject:
    """The delivery subject of one kind of room (`contracts.rooms.Room`).

    The body of a delivery is the Socket.IO event's payload as clients receive it; the
    event name and routing hints travel in `DELIVERY_HEADERS` (`contracts.delivery`).

    Attributes:
        name: short name.
        room: the room name clients see, with `{placeholders}` for the parameters.
        build: the `contracts.subjects` builder; takes the parameters in order.
        parameters: the builder's parameters, each an id encoded as one subject token.
        events: the events published on it today, with their payload models.
        publishers: who publishes deliveries to it today.
        description: who is in the room.
    """

    name: str
    room: str
    build: Callable[..., str]
    parameters: tuple[str, ...]
    events: tuple[tuple[str, type[BaseModel]], ...]
    publishers: tuple[str, ...]
    description: str

    def address(self) -> str:
        """The subject with `{parameter}` in place of each encoded id."""
        return _address(self.build, self.parameters)


@dataclass(frozen=True, slots=True)
class StreamSubject:
    """Subjects stored by a JetStream stream.

    Attributes:
        name: short name.
        stream: the JetStream stream that stores them.
        build: the `contracts.subjects` builder; takes the parameters in order.
        parameters: the builder's parameters, each an id encoded as one subject token.
        payload: the body's model, or None when the body is another message's, unchanged.
        headers: headers the publisher sets.
        publishers: who appends.
        consumers: who reads.
        description: what is stored.
    """

    name: str
    stream: str
    build: Callable[..., str]
    parameters: tuple[str, ...]
    payload: type[BaseModel] | None
    headers: tuple[Header, ...]
    publishers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str

    def address(self) -> str:
        """The subject with `{parameter}` in place of each encoded id."""
        return _address(self.build, self.parameters)


PARAMETERS: dict[str, str] = {
    "tenant": "Tenant id.",
    "userId": "User id.",
    "role": "Role.",
    "from": "Sender's user id.",
    "to": "Recipient's user id.",
    "consumer": "Name of the consumer that gave the message up, e.g. `persistence`.",
    "room": "Canonical name of an explicit room, e.g. `room:lobby` or `event:42`.",
    "kind": "A room kind served by a policy, e.g. `course`.",
    "entityType": "Entity type, e.g. `event`.",
    "entityId": "Entity id within its type.",
    "event": "A client event's name, e.g. `progress:video`.",
    "securityKind": "Kind of security event (`contracts.security.SecurityKind`), e.g. "
    "`auth_failed`.",
}
"""What each subject parameter holds; every one is encoded with
`contracts.tokens.encode_token`, so it is always exactly one subject token."""


def _address(build: Callable[..., str], parameters: tuple[str, ...]) -> str:
    marks = {f"__{name}__": name for name in parameters}
    subject = build(*marks)
    tokens = [f"{{{marks[t]}}}" if t in marks else t for t in subject.split(".")]
    return ".".join(tokens)


# request/reply ---------------------------------------------------------------------

CHAT_SEND = Endpoint(
    name="rooms.chat_send",
    subject=subjects.chat_send(),
    request=ChatSend,
    reply=ChatAck,
    queue=subjects.ROOMS_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="rooms",
    callers=("gateway",),
    description="Authorize a direct message, append it to the message log, deliver it. "
    "The reply comes after the log stored it (the durability point). A repeated "
    "`client_id` from the same sender within the log's duplicate window is answered "
    "with the original id and not delivered again.",
)
"""`chat:send`: gateway → rooms."""

ROOM_SEND = Endpoint(
    name="rooms.room_send",
    subject=subjects.room_send(),
    request=RoomSend,
    reply=RoomAck,
    queue=subjects.ROOMS_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="rooms",
    callers=("gateway",),
    description="Authorize a message to an explicit room (members post; an archived room "
    "is `FORBIDDEN`, a deleted or unreadable one `NOT_FOUND`), append it to the message "
    "log, deliver it once to the room's subject. The reply comes after the log stored it. "
    "A repeated `client_id` from the same sender to the same room within the log's "
    "duplicate window is answered with the original id and not delivered again.",
)
"""`room:send`: gateway → rooms."""

DIRECTORY_REGISTER = Endpoint(
    name="rooms.directory_register",
    subject=subjects.directory_register(),
    request=RegisterMember,
    reply=OkReply,
    queue=subjects.ROOMS_QUEUE,
    timeout=REGISTER_TIMEOUT,
    server="rooms",
    callers=("gateway",),
    description="Record a connecting user as a member of their tenant, so others may "
    "send them direct messages. A failure is logged; the connection is kept.",
)
"""Every connect: gateway → rooms."""

TENANT_SETTINGS_SET = Endpoint(
    name="rooms.tenant_settings_set",
    subject=subjects.tenant_settings_set(),
    request=SetTenantSettings,
    reply=TenantSettingsReply,
    queue=subjects.ROOMS_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="rooms",
    callers=("roomcast tenant set",),
    description="Change a tenant's settings; replies after every rooms replica was told "
    "to drop its cached copy (`TENANT_SETTINGS_CHANGED`). Unknown keys: `INVALID`.",
)
"""`roomcast tenant set`: CLI → rooms."""

TENANT_SETTINGS_GET = Endpoint(
    name="rooms.tenant_settings_get",
    subject=subjects.tenant_settings_get(),
    request=GetTenantSettings,
    reply=TenantSettingsReply,
    queue=subjects.ROOMS_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="rooms",
    callers=("roomcast tenant show",),
    description="Read a tenant's settings in force.",
)
"""`roomcast tenant show`: CLI → rooms."""

PRESENCE_REPORT = Endpoint(
    name="presence.report",
    subject=subjects.presence_report(),
    request=GatewayReport,
    reply=ReportReply,
    queue=subjects.PRESENCE_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="presence",
    callers=("gateway",),
    description="A gateway's batch of opened and closed connections and heartbeats; "
    "renews the gateway's lease. `resync` in the reply asks for every live connection.",
)
"""Every presence beat and connection change: gateway → presence."""

PRESENCE_LIST = Endpoint(
    name="presence.list",
    subject=subjects.presence_list(),
    request=PresenceListRequest,
    reply=PresenceListReply,
    queue=subjects.PRESENCE_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="presence",
    callers=("gateway",),
    description="The online users of one tenant (`presence:list`).",
)
"""`presence:list`: gateway → presence."""

HISTORY = Endpoint(
    name="persistence.history",
    subject=subjects.history(),
    request=HistoryQuery,
    reply=HistoryReply,
    queue=subjects.PERSISTENCE_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="persistence",
    callers=("gateway",),
    description="One page of a conversation from PostgreSQL, newest first "
    "(`chat:history`); a requester reads only conversations it is part of. For an "
    "explicit room, persistence asks the rooms service (`ROOM_AUTHORIZE`).",
)
"""`chat:history`: gateway → persistence."""

RECOVER = Endpoint(
    name="persistence.recover",
    subject=subjects.recover(),
    request=RecoverRequest,
    reply=RecoverChunk,
    queue=subjects.PERSISTENCE_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="persistence",
    callers=("gateway",),
    description="Messages a reconnecting socket missed, read from the message log: one "
    "or more `RecoverChunk`s on the reply subject, the last with `done` and the "
    "outcome per room. The timeout applies to each chunk.",
    streamed=True,
)
"""Reconnect with `auth.since`: gateway → persistence."""

# notifications and app events (seed 002) -----------------------------------------


def _notifications_command(
    verb: str,
    build: Callable[[], str],
    request: type[Req],
    reply: type[Rep],
    callers: tuple[str, ...],
    description: str,
) -> Endpoint[Req, Rep]:
    return Endpoint(
        name=f"notifications.{verb}",
        subject=build(),
        request=request,
        reply=reply,
        queue=subjects.NOTIFICATIONS_QUEUE,
        timeout=REQUEST_TIMEOUT,
        server="persistence",
        callers=callers,
        description=description,
    )


_PUBLISHERS = ("backend services", "roomcast.sdk.Publisher", "roomcast notify / publish")

NOTIFY = _notifications_command(
    "notify",
    subjects.notify,
    Notify,
    NotifyReply,
    _PUBLISHERS,
    "Store a notification once for its whole target and deliver `notification:new` to "
    "the target's sockets. The reply `{ok, id, ts}` comes after PostgreSQL committed it; "
    "a repeated `idempotencyKey` of the tenant answers the first id and delivers nothing. "
    "Invalid publications are refused `INVALID` with the reason, an unknown room `NOT_FOUND`. "
    "A room's notification is seen by the users who may read the room (the rooms service "
    "says who).",
)
"""A notification from a backend service (seed 002's `sendNotificationToUser`, ...)."""

PUBLISH = _notifications_command(
    "publish",
    subjects.publish,
    AppEvent,
    PublishReply,
    _PUBLISHERS,
    "Deliver an ephemeral app event `{target, event, data}` as Socket.IO event `event` to "
    "the target's sockets; nothing is stored. Protocol event names are refused `INVALID`.",
)
"""An app event (`course:updated`, ...) from a backend service."""

NOTIFICATION_LIST = _notifications_command(
    "list",
    subjects.notification_list,
    ListNotifications,
    NotificationPage,
    ("gateway",),
    "One page of the notifications a user sees (their own, their tenant's, their role's, "
    "their platform role's, those of the rooms they may read), newest first, with their "
    "unread count (`notification:list`).",
)
"""`notification:list`: gateway → persistence."""

NOTIFICATION_MARK = _notifications_command(
    "mark",
    subjects.notification_mark,
    MarkNotifications,
    CountReply,
    ("gateway",),
    "Mark notifications read (or all of them) or dismissed for one user; an id the user "
    "does not see is `NOT_FOUND` and nothing changes. Replies with the new unread count and "
    "sends it as `notification:count` to every socket of the user.",
)
"""`notification:read`, `notification:dismiss`: gateway → persistence."""

NOTIFICATION_COUNTS = _notifications_command(
    "counts",
    subjects.notification_counts,
    CountNotifications,
    CountsReply,
    ("gateway",),
    "Unread counts of up to 500 users, computed from stored state: on connect, on "
    "`notification:count`, and after a gateway delivered `notification:new` to them.",
)
"""Counts asked by gateways."""

NOTIFICATION_ENDPOINTS: tuple[Endpoint[Any, Any], ...] = (
    NOTIFY,
    PUBLISH,
    NOTIFICATION_LIST,
    NOTIFICATION_MARK,
    NOTIFICATION_COUNTS,
)
"""Served by the persistence service (queue group `notifications`)."""

# explicit rooms (seed 004) ---------------------------------------------------------


def _room_command(
    verb: str, build: Callable[[], str], request: type[Req], reply: type[Rep], description: str
) -> Endpoint[Req, Rep]:
    return Endpoint(
        name=f"rooms.{verb}",
        subject=build(),
        request=request,
        reply=reply,
        queue=subjects.ROOMS_QUEUE,
        timeout=REQUEST_TIMEOUT,
        server="rooms",
        callers=("gateway",),
        description=description + " Every request carries the caller's identity and "
        "tenant; the role table decides (`services/rooms/domain/roles.py`).",
    )


ROOM_CREATE = _room_command(
    "create",
    subjects.room_create,
    CreateRoom,
    RoomReply,
    "Create an explicit room (tenant admins and super_admins); the creator becomes its "
    'admin. A slug taken in the tenant is `CONFLICT` ("slug already taken").',
)
ROOM_GET = _room_command(
    "get",
    subjects.room_get,
    GetRoom,
    RoomReply,
    "One room by numeric id or slug; a private room the caller may not read is `NOT_FOUND`.",
)
ROOM_LIST = _room_command(
    "list",
    subjects.room_list,
    ListRooms,
    RoomListReply,
    "A page of the tenant's rooms the caller may read (all for tenant admins), by id.",
)
ROOM_UPDATE = _room_command(
    "update",
    subjects.room_update,
    UpdateRoom,
    RoomReply,
    "Change name, description, visibility, settings (moderators up) or status "
    "(archive/unarchive, room admins up).",
)
ROOM_DELETE = _room_command(
    "delete",
    subjects.room_delete,
    DeleteRoom,
    RoomReply,
    "Archive a room, or with `permanent` mark it deleted (room admins up).",
)
ROOM_MEMBERS = _room_command(
    "members",
    subjects.room_members,
    ListMembers,
    MemberListReply,
    "A page of a room's members, by user id.",
)
ROOM_MEMBER_ADD = _room_command(
    "member_add",
    subjects.room_member_add,
    AddMember,
    MemberReply,
    "Add a member (moderators up; roles above `member` need a room admin).",
)
ROOM_MEMBER_ROLE = _room_command(
    "member_role",
    subjects.room_member_role,
    ChangeRole,
    MemberReply,
    "Change a member's role (room admins up).",
)
ROOM_MEMBER_REMOVE = _room_command(
    "member_remove",
    subjects.room_member_remove,
    RemoveMember,
    OkReply,
    "Remove a member (moderators remove members; moderators and admins need a room admin).",
)
ROOM_LINK = _room_command(
    "link",
    subjects.room_link,
    LinkEntity,
    LinkReply,
    "Link a room to an entity (tenant admins up); one primary room per entity (a second "
    "is `CONFLICT`).",
)
ROOM_UNLINK = _room_command(
    "unlink",
    subjects.room_unlink,
    UnlinkEntity,
    OkReply,
    "Remove an entity link (tenant admins up).",
)
ROOM_ENTITY_ROOMS = _room_command(
    "entity_rooms",
    subjects.room_entity_rooms,
    EntityRooms,
    RoomListReply,
    "The rooms linked to an entity that the caller may read, primary first.",
)
ROOM_JOIN = _room_command(
    "join",
    subjects.room_join,
    JoinRoom,
    MemberReply,
    "Become a `member` of a room the caller may read (a public one); idempotent.",
)
ROOM_LEAVE = _room_command(
    "leave",
    subjects.room_leave,
    LeaveRoom,
    OkReply,
    "End the caller's own membership.",
)
ROOM_AUTHORIZE = _room_command(
    "authorize",
    subjects.room_authorize,
    Authorize,
    AuthorizeReply,
    "May this identity subscribe to (or, with `post`, post in) the room named "
    "`room:{slug}` or `{entityType}:{entityId}`: answers what grants it, or refuses.",
)

# room kinds with policies (seed 001) ---------------------------------------------------

ROOM_IDENTIFY = _room_command(
    "identify",
    subjects.room_identify,
    Identify,
    IdentifyReply,
    "The room `room:join {kind, data}` names: the kind's policy derives the id "
    "(`POLICY_IDENTIFIER`); the gateway then asks `ROOM_AUTHORIZE` for `{kind}:{id}`. A "
    "kind nobody registered is `NOT_FOUND`, a policy that does not answer `UNAVAILABLE`, "
    "a `ValueError` in the policy `INVALID`.",
)
"""`room:join {kind, data}`: gateway → rooms."""

POLICY_REGISTER = Endpoint(
    name="rooms.policy_register",
    subject=subjects.policy_register(),
    request=RegisterKinds,
    reply=KindsReply,
    queue=subjects.ROOMS_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="rooms",
    callers=("roomcast policy serve",),
    description="A policy worker registers the kinds it serves; the rooms service "
    "remembers them (PostgreSQL), so a registered kind whose policy is down answers "
    "`UNAVAILABLE` rather than `NOT_FOUND`. Idempotent; a reserved kind is `INVALID`.",
)
"""A policy worker starts: worker → rooms."""

POLICY_KINDS = Endpoint(
    name="rooms.policy_kinds",
    subject=subjects.policy_kinds(),
    request=ListKinds,
    reply=KindsReply,
    queue=subjects.ROOMS_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="rooms",
    callers=("roomcast policy list",),
    description="Every registered kind, with the worker that registered it last.",
)
"""`roomcast policy list`: CLI → rooms."""

POLICY_REVOKE = Endpoint(
    name="rooms.policy_revoke",
    subject=subjects.policy_revoke(),
    request=Revoke,
    reply=RevokeReply,
    queue=subjects.ROOMS_QUEUE,
    timeout=REQUEST_TIMEOUT,
    server="rooms",
    callers=("roomcast.sdk.revoke", "roomcast policy revoke"),
    description="Withdraw access to `{kind}:{id}` of a tenant (for one user, or all): "
    "every rooms replica drops its cached decisions (`POLICY_REVOKED`), then the "
    "user's sockets subscribed to the room get `room:left {reason: revoked}` on every "
    "gateway. Replies after both left. A kind nobody registered is `NOT_FOUND`.",
)
"""`revoke(tenant, kind, id, user?)`: policy service → rooms."""


def _policy_question(
    verb: str,
    build: Callable[[str], str],
    request: type[Req],
    reply: type[Rep],
    description: str,
) -> Endpoint[Req, Rep]:
    return Endpoint(
        name=f"policy.{verb}",
        subject=_address(build, ("kind",)),
        request=request,
        reply=reply,
        queue=subjects.POLICY_QUEUE,
        timeout=POLICY_TIMEOUT,
        server="policy",
        callers=("rooms",),
        description=description + " Served by the kind's policy workers (one queue "
        "group per kind). An exception in the policy is answered `FORBIDDEN` with its "
        "message; no answer within the timeout is `UNAVAILABLE`, never allowed.",
        build=build,
        parameters=("kind",),
    )


POLICY_IDENTIFIER = _policy_question(
    "identifier",
    subjects.policy_identifier,
    IdentifierQuestion,
    IdentifierAnswer,
    "`identifier(user, data)`: the room id `room:join {kind, data}` means; a "
    "`ValueError` is answered `INVALID` with its message.",
)
POLICY_CAN_JOIN = _policy_question(
    "can_join",
    subjects.policy_can_join,
    AccessQuestion,
    AccessAnswer,
    "`can_join(user, id)`: may the user subscribe to (and read) the room; the answer "
    "may carry a cache `ttl`.",
)
POLICY_CAN_POST = _policy_question(
    "can_post",
    subjects.policy_can_post,
    AccessQuestion,
    AccessAnswer,
    "`can_post(user, id)`: may the user post in the room (the SDK answers as "
    "`can_join` unless the kind says otherwise); the answer may carry a cache `ttl`.",
)

POLICY_PING = Endpoint(
    name="policy.ping",
    subject=_address(subjects.policy_ping, ("kind",)),
    request=Ping,
    reply=PingReply,
    queue=subjects.POLICY_QUEUE,
    timeout=REGISTER_TIMEOUT,
    server="policy",
    callers=("roomcast policy list",),
    description="Is a worker serving the kind? Answered by the SDK's worker itself, "
    "without calling the kind's code; no answer means no worker runs.",
    build=subjects.policy_ping,
    parameters=("kind",),
)

POLICY_ENDPOINTS: tuple[Endpoint[Any, Any], ...] = (
    ROOM_IDENTIFY,
    POLICY_REGISTER,
    POLICY_KINDS,
    POLICY_REVOKE,
    POLICY_IDENTIFIER,
    POLICY_CAN_JOIN,
    POLICY_CAN_POST,
    POLICY_PING,
)
"""The endpoints of room kinds with policies."""

EXPLICIT_ROOM_ENDPOINTS: tuple[Endpoint[Any, Any], ...] = (
    ROOM_CREATE,
    ROOM_GET,
    ROOM_LIST,
    ROOM_UPDATE,
    ROOM_DELETE,
    ROOM_MEMBERS,
    ROOM_MEMBER_ADD,
    ROOM_MEMBER_ROLE,
    ROOM_MEMBER_REMOVE,
    ROOM_LINK,
    ROOM_UNLINK,
    ROOM_ENTITY_ROOMS,
    ROOM_JOIN,
    ROOM_LEAVE,
    ROOM_AUTHORIZE,
)
"""The explicit-room commands, served by the rooms service."""

ENDPOINTS: tuple[Endpoint[Any, Any], ...] = (
    CHAT_SEND,
    ROOM_SEND,
    DIRECTORY_REGISTER,
    TENANT_SETTINGS_SET,
    TENANT_SETTINGS_GET,
    PRESENCE_REPORT,
    PRESENCE_LIST,
    HISTORY,
    RECOVER,
    *EXPLICIT_ROOM_ENDPOINTS,
    *NOTIFICATION_ENDPOINTS,
    *POLICY_ENDPOINTS,
)
"""Every request/reply command."""

# broadcasts ------------------------------------------------------------------------

TENANT_SETTINGS_CHANGED = Broadcast(
    name="tenant.settings_changed",
    subject=subjects.tenant_settings_changed(),
    payload=TenantSettingsChanged,
    publishers=("rooms",),
    subscribers=("rooms",),
    description="A tenant's settings changed: every rooms replica drops its cached copy "
    "before handling later commands on the same connection.",
)
"""Sent by the replica that handled `TENANT_SETTINGS_SET`."""

POLICY_REVOKED = Broadcast(
    name="policy.revoked",
    subject=subjects.policy_revoked(),
    payload=Revoked,
    publishers=("rooms",),
    subscribers=("rooms",),
    description="A policy revoked access to a room: every rooms replica drops its cached "
    "decisions of that room (of one user, or of all) before handling later commands on "
    "the same connection.",
)
"""Sent by the replica that handled `POLICY_REVOKE`."""

DISCONNECT_USER = Broadcast(
    name="session.disconnect_user",
    subject=subjects.session_disconnect(),
    payload=DisconnectUser,
    publishers=(
        "roomcast.sdk.Publisher.disconnect_user",
        "roomcast disconnect",
        "gateway (POST /api/server/disconnect)",
    ),
    subscribers=("gateway",),
    description="End every socket of one user: every gateway (no queue group: each must "
    "act) sends `session:ended {reason}` to each socket of the user it hosts, on every "
    "namespace, then disconnects it server-side (stock clients do not reconnect); presence "
    "sees ordinary closes. The publisher returns once the NATS server has it (publish, "
    "then flush). A gateway not connected to NATS at that moment misses it.",
)
"""`disconnect_user(tenant, user)`: a backend service → every gateway."""

SECURITY_EVENTS = Broadcast(
    name="security",
    subject=_address(subjects.security_event, ("tenant", "securityKind")),
    payload=SecurityEvent,
    publishers=("gateway", "rooms"),
    subscribers=("audit and SIEM consumers (nothing in roomcast subscribes)",),
    description="A security event (seed 002): a failed authentication (with the reason), "
    "a refused namespace or origin, a cross-tenant attempt, a rate limit hit, an oversized "
    "frame, or an admin action on a room or its members. `{tenant}` is the tenant "
    "concerned, or `~none` when no token was verified. Published fire-and-forget (lost "
    "while NATS is away, never delaying the request), also written to the "
    "`roomcast.security` log and counted in `roomcast_security_events_total{kind}`. "
    "Never carries a token, a secret or a message body.",
    parameters=("tenant", "securityKind"),
    build=subjects.security_event,
)
"""`contracts.security`: subscribe to `subjects.security_all()`."""

BROADCASTS: tuple[Broadcast, ...] = (
    TENANT_SETTINGS_CHANGED,
    POLICY_REVOKED,
    DISCONNECT_USER,
    SECURITY_EVENTS,
)
"""Every broadcast event."""

# deliveries ------------------------------------------------------------------------

DELIVERY_HEADERS: tuple[Header, ...] = (
    Header(delivery.EVENT, "The Socket.IO event name, e.g. `chat:message` (required)."),
    Header(delivery.SKIP_SID, "A socket id not to deliver to: the sender's, which has the ack."),
    Header(
        delivery.SKIP_SUBJECTS,
        "Comma-separated delivery subjects an earlier copy of this message went to; "
        "sockets in any of them are skipped, so each socket gets one copy.",
    ),
    Header(
        delivery.PUBLISHED,
        "When the publisher built the delivery, seconds since the Unix epoch with "
        "microseconds (optional): gateways measure publish-to-socket latency from it.",
    ),
)
"""Headers of every delivery (`contracts.delivery.encode`)."""

_PRESENCE_EVENTS = ((ONLINE_EVENT, PresenceChange), (OFFLINE_EVENT, PresenceChange))
_NOTIFICATION_EVENTS = (("notification:new", Notification), ("app_event", AppEventData))
"""Published by the persistence service to a notification's or app event's target; an
app event travels under its own name (`app_event` here stands for any of them)."""

DELIVER_USER = DeliverySubject(
    name="deliver.user",
    room="user:{userId}",
    build=subjects.deliver_user,
    parameters=("tenant", "userId"),
    events=(
        ("chat:message", ChatMessage),
        *_NOTIFICATION_EVENTS,
        ("notification:count", NotificationCount),
    ),
    publishers=("rooms", "persistence"),
    description="Every socket of one user, on /tenant and /manage.",
)
"""Direct messages to the recipient, and copies to the sender's other sockets."""

DELIVER_TENANT = DeliverySubject(
    name="deliver.tenant",
    room="tenant:{tenant}",
    build=subjects.deliver_tenant,
    parameters=("tenant",),
    events=(*_PRESENCE_EVENTS, *_NOTIFICATION_EVENTS),
    publishers=("presence", "persistence"),
    description="Every /tenant socket of a tenant, and /manage sockets that watch it.",
)
"""Presence changes of a tenant's users."""

DELIVER_TENANT_ROLE = DeliverySubject(
    name="deliver.tenant_role",
    room="tenant:{tenant}:role:{role}",
    build=subjects.deliver_tenant_role,
    parameters=("tenant", "role"),
    events=_NOTIFICATION_EVENTS,
    publishers=("persistence",),
    description="/tenant sockets of one role within a tenant (joined on connect).",
)
"""A role within a tenant."""

DELIVER_TENANT_ADMINS = DeliverySubject(
    name="deliver.tenant_admins",
    room="tenant:{tenant}:admins",
    build=subjects.deliver_tenant_admins,
    parameters=("tenant",),
    events=(("chat:message", ChatMessage), *_NOTIFICATION_EVENTS),
    publishers=("rooms", "persistence"),
    description="/tenant sockets of the tenant's `admin`s.",
)
"""Supervised direct messages (tenant setting `supervise_dms`)."""

DELIVER_ROLE = DeliverySubject(
    name="deliver.role",
    room="role:{role}",
    build=subjects.deliver_role,
    parameters=("role",),
    events=_NOTIFICATION_EVENTS,
    publishers=("persistence",),
    description="/tenant sockets of one role across every tenant (joined on connect).",
)
"""A platform-wide role."""

DELIVER_MANAGE = DeliverySubject(
    name="deliver.manage",
    room="manage:global",
    build=subjects.deliver_manage,
    parameters=(),
    events=(),
    publishers=(),
    description="Every /manage socket (joined on connect; nothing publishes to it in "
    "this release).",
)
"""Platform operators."""

DELIVER_ROOM = DeliverySubject(
    name="deliver.room",
    room="{room}",
    build=subjects.deliver_room,
    parameters=("tenant", "room"),
    events=(("room:message", RoomMessage), ("room:left", RoomLeft), ("app_event", AppEventData)),
    publishers=("rooms", "persistence"),
    description="Sockets that joined an explicit room with `room:join` (after the rooms "
    "service authorized them to read it). `room:left` carries `Rc-Revoke` and takes "
    "the sockets it names out of the room.",
)
"""Messages to an explicit room (`room:send`)."""

DELIVERY_SUBJECTS: tuple[DeliverySubject, ...] = (
    DELIVER_USER,
    DELIVER_ROOM,
    DELIVER_TENANT,
    DELIVER_TENANT_ROLE,
    DELIVER_TENANT_ADMINS,
    DELIVER_ROLE,
    DELIVER_MANAGE,
)
"""Every delivery subject; a gateway subscribes to one while it hosts a socket in the room."""

# JetStream streams -----------------------------------------------------------------

LOG_DM = StreamSubject(
    name="log.dm",
    stream=subjects.LOG_STREAM,
    build=subjects.log_dm,
    parameters=("tenant", "from", "to"),
    payload=LoggedMessage,
    headers=(
        Header(
            "Nats-Msg-Id",
            "`dm|<tenant>|<sender>|<clientId>` when the sender gave a `clientId`: the "
            "stream drops a repeat within its duplicate window.",
        ),
    ),
    publishers=("rooms",),
    consumers=("persistence",),
    description="A direct message, stored before the sender's ack. Its stream sequence "
    "is its `seq`, and its id is `contracts.ids.message_id(epoch, seq)`.",
)
"""The message log (stream `ROOMCAST_LOG`, subjects `subjects.log_all()`)."""

LOG_ROOM = StreamSubject(
    name="log.room",
    stream=subjects.LOG_STREAM,
    build=subjects.log_room,
    parameters=("tenant", "room"),
    payload=LoggedRoomMessage,
    headers=(
        Header(
            "Nats-Msg-Id",
            "`room|<tenant>|<roomId>|<senderTenant>|<sender>|<clientId>` when the sender "
            "gave a `clientId`: the stream drops a repeat within its duplicate window.",
        ),
    ),
    publishers=("rooms",),
    consumers=("persistence",),
    description="A message to an explicit room, stored before the sender's ack. Its "
    "stream sequence is its `seq`, and its id is `contracts.ids.message_id(epoch, seq)`.",
)
"""Room messages in the message log (stream `ROOMCAST_LOG`)."""

DEAD_LETTER = StreamSubject(
    name="dlq",
    stream=subjects.DLQ_STREAM,
    build=subjects.dead_letter,
    parameters=("consumer",),
    payload=None,
    headers=(
        Header(deadletter.REASON, "Why the message was given up."),
        Header(deadletter.SOURCE_STREAM, "Stream the message was read from."),
        Header(deadletter.SOURCE_SUBJECT, "Subject the message was published on."),
        Header(deadletter.SOURCE_SEQ, "Its sequence in the source stream."),
        Header(deadletter.DELIVERIES, "How many times it had been delivered to the consumer."),
        Header(deadletter.DEDUP, "`<consumer>:<stream>:<seq>`: a repeat is stored once."),
    ),
    publishers=("persistence", "rooms"),
    consumers=(),
    description="A message a consumer could never process, body unchanged, kept for "
    "inspection (stream `ROOMCAST_DLQ`).",
)
"""Dead letters (`contracts.deadletter`)."""

ENTITY_CONSUMER = "rooms-entities"
"""The rooms service's durable consumer of `ENTITY_EVENTS` (and its dead-letter subject)."""

ENTITY_EVENTS = StreamSubject(
    name="entity",
    stream=subjects.ENTITY_STREAM,
    build=subjects.entity_event,
    parameters=("tenant", "entityType", "entityId"),
    payload=EntityEvent,
    headers=(),
    publishers=("backend services (SDK `publish_entity_event`, `roomcast entity`)",),
    consumers=("rooms",),
    description="An entity lifecycle event (`contracts/entities.py`): `created` makes the "
    "primary room `{type}:{id}`, `updated` renames it, `deleted` archives it, "
    "`member_added` / `member_removed` keep its members in step. The publisher validates "
    "the event and waits for the stream's acknowledgement; the rooms service applies it "
    "with the durable consumer `rooms-entities` (explicit acks, redelivery with back-off, "
    "an undecodable event dead-lettered to `dlq.rooms-entities`). Events are ordered per "
    "entity and per membership by `occurredAt`, so repeats and reorderings leave the same "
    "state.",
)
"""Entity lifecycle events (stream `ROOMCAST_ENTITIES`, subjects `subjects.entity_all()`)."""

CLIENT_EVENTS = StreamSubject(
    name="client",
    stream=subjects.CLIENT_EVENTS_STREAM,
    build=subjects.client_event,
    parameters=("tenant", "event"),
    payload=ForwardedEvent,
    headers=(),
    publishers=("gateway",),
    consumers=("backend services (their own durable consumers)",),
    description="A client event whose name matches a gateway's allow-list "
    "(`ROOMCAST_FORWARD_EVENTS`, e.g. `progress:*`), stamped with the sender's verified "
    "tenant, user and role (`contracts/client_events.py`). The client's ack comes after "
    "the stream stored it. Gateways create the stream (file storage, "
    "`ROOMCAST_FORWARD_MAX_AGE`, `ROOMCAST_STREAM_REPLICAS`) when their allow-list is not "
    "empty; backend services read it with their own durable consumers, filtered with "
    "`subjects.client_events_of(event)` or by tenant.",
)
"""Client events forwarded to backend services (stream `ROOMCAST_CLIENT_EVENTS`)."""

STREAM_SUBJECTS: tuple[StreamSubject, ...] = (
    LOG_DM,
    LOG_ROOM,
    ENTITY_EVENTS,
    DEAD_LETTER,
    CLIENT_EVENTS,
)
"""Every subject stored by a JetStream stream."""
