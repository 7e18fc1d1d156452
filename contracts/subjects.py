"""Every NATS subject roomcast uses, built from one versioned prefix.

No service writes a subject literal: they call these builders. Every id is passed
through `encode_token`, so client-controlled text cannot add tokens or wildcards, and
no subject is longer than `MAX_SUBJECT_LENGTH` whatever the ids hold (each encoded id
is at most `contracts.tokens.MAX_TOKEN_LENGTH` characters; a property test checks every
builder with the longest ids). NATS closes a client's whole connection when a protocol
line (`PUB <subject> <reply> <size>`) is over its `max_control_line` (4,096 bytes by
default), so this bound keeps one client's id from cutting off a service.

Layout (prefix `roomcast.v1`):

- `cmd.<service>.<verb>`: request/reply commands, served by a queue group.
- `evt.<domain>.<what>`: broadcast events (every replica sees them).
- `deliver.<scope>...`: what gateways deliver to sockets; a gateway subscribes to a
  room's subject only while it hosts a socket in that room.
- `log.<tenant>...`: the JetStream message log (durability point, per-room `seq`).
- `entity.<tenant>.<type>.<id>`: entity lifecycle events (JetStream).
- `client.<tenant>.<event>`: client events forwarded to backend services (JetStream).
- `security.<tenant>.<kind>`: security events (`contracts.security`), plain publishes.
"""

from __future__ import annotations

from contracts.tokens import encode_token

PREFIX = "roomcast.v1"

MAX_SUBJECT_LENGTH = 1024
"""No subject built here is longer (bytes; subjects are ASCII)."""

LOG_STREAM = "ROOMCAST_LOG"
"""JetStream stream holding every chat and room message."""

DLQ_STREAM = "ROOMCAST_DLQ"
"""JetStream stream keeping dead letters (messages a service could never process)."""

ENTITY_STREAM = "ROOMCAST_ENTITIES"
"""JetStream stream holding entity lifecycle events until the rooms service applied them."""

CLIENT_EVENTS_STREAM = "ROOMCAST_CLIENT_EVENTS"
"""JetStream stream holding client events forwarded to backend services (`progress:*`)."""

ROOMS_QUEUE = "rooms"
PRESENCE_QUEUE = "presence"
PERSISTENCE_QUEUE = "persistence"
NOTIFICATIONS_QUEUE = "notifications"
POLICY_QUEUE = "policy"
"""Queue group of a kind's policy workers (one per kind, as subjects carry the kind)."""


def _join(*parts: str) -> str:
    return ".".join((PREFIX, *parts))


# commands ------------------------------------------------------------------------


def chat_send() -> str:
    """Gateway → rooms: a direct message to authorize, log and route."""
    return _join("cmd", "rooms", "chat_send")


def directory_register() -> str:
    """Gateway → rooms: a user connected; record them in the tenant directory."""
    return _join("cmd", "rooms", "directory_register")


def tenant_settings_set() -> str:
    """CLI/SDK → rooms: change one tenant's settings."""
    return _join("cmd", "rooms", "tenant_settings_set")


def tenant_settings_get() -> str:
    """CLI/SDK → rooms: read one tenant's settings."""
    return _join("cmd", "rooms", "tenant_settings_get")


def tenant_settings_changed() -> str:
    """Rooms → every rooms replica: drop cached settings of a tenant."""
    return _join("evt", "tenant", "settings_changed")


def presence_report() -> str:
    """Gateway → presence: a batch of connection changes, heartbeats and the lease."""
    return _join("cmd", "presence", "report")


def presence_list() -> str:
    """Gateway → presence: the online users of a tenant."""
    return _join("cmd", "presence", "list")


def history() -> str:
    """Gateway → persistence: one page of a conversation's stored messages."""
    return _join("cmd", "persistence", "history")


def recover() -> str:
    """Gateway → persistence: messages a reconnecting socket missed (chunked reply)."""
    return _join("cmd", "persistence", "recover")


# notifications and app events (cmd.notifications.<verb>) -------------------------


def notify() -> str:
    """Service/SDK/CLI → notifications: store and deliver a notification."""
    return _join("cmd", "notifications", "notify")


def publish() -> str:
    """Service/SDK/CLI → notifications: deliver an ephemeral app event."""
    return _join("cmd", "notifications", "publish")


def notification_list() -> str:
    """Gateway → notifications: one page of a user's notifications."""
    return _join("cmd", "notifications", "list")


def notification_mark() -> str:
    """Gateway → notifications: mark a user's notifications read or dismissed."""
    return _join("cmd", "notifications", "mark")


def notification_counts() -> str:
    """Gateway → notifications: the unread counts of users."""
    return _join("cmd", "notifications", "counts")


# explicit rooms (cmd.rooms.<verb>) ------------------------------------------------


def room_create() -> str:
    """Gateway/SDK → rooms: create an explicit room."""
    return _join("cmd", "rooms", "create")


def room_get() -> str:
    """Gateway/SDK → rooms: one explicit room's details."""
    return _join("cmd", "rooms", "get")


def room_list() -> str:
    """Gateway/SDK → rooms: a page of a tenant's explicit rooms."""
    return _join("cmd", "rooms", "list")


def room_update() -> str:
    """Gateway/SDK → rooms: change a room's name, description, visibility, status, settings."""
    return _join("cmd", "rooms", "update")


def room_delete() -> str:
    """Gateway/SDK → rooms: archive a room, or mark it deleted."""
    return _join("cmd", "rooms", "delete")


def room_members() -> str:
    """Gateway/SDK → rooms: a page of a room's members."""
    return _join("cmd", "rooms", "members")


def room_member_add() -> str:
    """Gateway/SDK → rooms: add a member to a room."""
    return _join("cmd", "rooms", "member_add")


def room_member_role() -> str:
    """Gateway/SDK → rooms: change a member's role."""
    return _join("cmd", "rooms", "member_role")


def room_member_remove() -> str:
    """Gateway/SDK → rooms: remove a member from a room."""
    return _join("cmd", "rooms", "member_remove")


def room_link() -> str:
    """Gateway/SDK → rooms: link a room to an entity."""
    return _join("cmd", "rooms", "link")


def room_unlink() -> str:
    """Gateway/SDK → rooms: remove an entity link."""
    return _join("cmd", "rooms", "unlink")


def room_entity_rooms() -> str:
    """Gateway/SDK → rooms: the rooms linked to an entity."""
    return _join("cmd", "rooms", "entity_rooms")


def room_join() -> str:
    """Gateway/SDK → rooms: become a member of a public room."""
    return _join("cmd", "rooms", "join")


def room_leave() -> str:
    """Gateway/SDK → rooms: end one's own membership."""
    return _join("cmd", "rooms", "leave")


def room_authorize() -> str:
    """Gateway/SDK → rooms: may this identity subscribe to / post in a room."""
    return _join("cmd", "rooms", "authorize")


def room_send() -> str:
    """Gateway → rooms: a message to an explicit room, to authorize, log and deliver."""
    return _join("cmd", "rooms", "room_send")


# room kinds with policies -------------------------------------------------------


def room_identify() -> str:
    """Gateway → rooms: the room `room:join {kind, data}` names (asks the kind's policy)."""
    return _join("cmd", "rooms", "identify")


def policy_register() -> str:
    """Policy worker → rooms: register the kinds it serves."""
    return _join("cmd", "rooms", "policy_register")


def policy_kinds() -> str:
    """CLI → rooms: every registered kind."""
    return _join("cmd", "rooms", "policy_kinds")


def policy_revoke() -> str:
    """Policy worker/SDK → rooms: withdraw access to a policy room."""
    return _join("cmd", "rooms", "policy_revoke")


def policy_revoked() -> str:
    """Rooms → every rooms replica: drop cached decisions of a room."""
    return _join("evt", "policy", "revoked")


def policy_identifier(kind: str) -> str:
    """Rooms → the kind's policy: `identifier(user, data)`."""
    return _join("cmd", "policy", encode_token(kind), "identifier")


def policy_can_join(kind: str) -> str:
    """Rooms → the kind's policy: `can_join(user, id)`."""
    return _join("cmd", "policy", encode_token(kind), "can_join")


def policy_can_post(kind: str) -> str:
    """Rooms → the kind's policy: `can_post(user, id)`."""
    return _join("cmd", "policy", encode_token(kind), "can_post")


def policy_ping(kind: str) -> str:
    """CLI → the kind's policy workers: is one serving?"""
    return _join("cmd", "policy", encode_token(kind), "ping")


# sessions ------------------------------------------------------------------------


def session_disconnect() -> str:
    """Service/SDK/CLI/gateway → every gateway: end every socket of one user."""
    return _join("evt", "session", "disconnect_user")


# delivery ------------------------------------------------------------------------


def deliver_user(tenant: str, user_id: str) -> str:
    """Sockets of one user (`user:{userId}`)."""
    return _join("deliver", "t", encode_token(tenant), "user", encode_token(user_id))


def deliver_tenant(tenant: str) -> str:
    """Every socket of a tenant (`tenant:{tenantId}`)."""
    return _join("deliver", "t", encode_token(tenant), "all")


def deliver_tenant_role(tenant: str, role: str) -> str:
    """Sockets of one role within a tenant (`tenant:{t}:role:{role}`)."""
    return _join("deliver", "t", encode_token(tenant), "role", encode_token(role))


def deliver_tenant_admins(tenant: str) -> str:
    """Admin sockets of a tenant (`tenant:{t}:admins`)."""
    return _join("deliver", "t", encode_token(tenant), "admins")


def deliver_role(role: str) -> str:
    """A platform-wide role (`role:{role}`), across tenants."""
    return _join("deliver", "g", "role", encode_token(role))


def deliver_manage() -> str:
    """Every `/manage` socket (`manage:global`)."""
    return _join("deliver", "g", "manage")


def deliver_room(tenant: str, room: str) -> str:
    """Sockets that joined an explicit room (`room:{slug}`, `{entityType}:{entityId}`)."""
    return _join("deliver", "t", encode_token(tenant), "room", encode_token(room))


def deliver_all() -> str:
    """Wildcard over every delivery subject (for tools and tests, not gateways)."""
    return _join("deliver", ">")


# message log (JetStream) ---------------------------------------------------------


def log_all() -> str:
    """Every subject of the message log stream."""
    return _join("log", ">")


def log_dm(tenant: str, sender: str, recipient: str) -> str:
    """A direct message from `sender` to `recipient` within `tenant`."""
    return _join("log", encode_token(tenant), "dm", encode_token(sender), encode_token(recipient))


def log_room(tenant: str, room: str) -> str:
    """A message to the explicit room named `room` (its canonical name) within `tenant`."""
    return _join("log", encode_token(tenant), "room", encode_token(room))


def log_dm_of_user(tenant: str, user_id: str) -> list[str]:
    """Filters matching every direct message a user sent or received."""
    t, u = encode_token(tenant), encode_token(user_id)
    return [_join("log", t, "dm", u, "*"), _join("log", t, "dm", "*", u)]


def log_dm_of_tenant(tenant: str) -> str:
    """Filter matching every direct message of a tenant."""
    return _join("log", encode_token(tenant), "dm", ">")


def log_kind(subject: str) -> str | None:
    """The kind of a log subject (`dm` for `log_dm`, `room` for `log_room` subjects), or
    None if not a log subject."""
    parts = subject.split(".")
    if len(parts) < 5 or ".".join(parts[:3]) != _join("log"):
        return None
    return parts[4]


# entity lifecycle (JetStream) ----------------------------------------------------


def entity_event(tenant: str, entity_type: str, entity_id: str) -> str:
    """Lifecycle events (`created`, `member_added`, ...) of one entity, in stream order."""
    return _join("entity", encode_token(tenant), encode_token(entity_type), encode_token(entity_id))


def entity_all() -> str:
    """Every subject of the entity event stream."""
    return _join("entity", ">")


# client events forwarded to backend services (JetStream) --------------------------


def client_event(tenant: str, event: str) -> str:
    """A client event `event` (e.g. `progress:video`) sent by a user of `tenant`."""
    return _join("client", encode_token(tenant), encode_token(event))


def client_events_of(event: str) -> str:
    """Filter matching one client event of every tenant (for consumers)."""
    return _join("client", "*", encode_token(event))


def client_event_all() -> str:
    """Every subject of the client event stream."""
    return _join("client", ">")


# dead letters (JetStream) --------------------------------------------------------


def dead_letter(source: str) -> str:
    """Dead letters of one consumer, e.g. `dead_letter("persistence")`."""
    return _join("dlq", encode_token(source))


def dead_letter_all() -> str:
    """Every subject of the dead-letter stream."""
    return _join("dlq", ">")


# security events -----------------------------------------------------------------

NO_TENANT = "~none"
"""The tenant token of a security event with no known tenant (a refused token, an
unknown namespace). `encode_token` never produces it (there `~` is always followed by two
hex digits), so it cannot be mistaken for a tenant's token."""


def security_event(tenant: str | None, kind: str) -> str:
    """A security event (`contracts.security.SecurityEvent`) of `kind` about `tenant`."""
    token = encode_token(tenant) if tenant else NO_TENANT
    return _join("security", token, encode_token(kind))


def security_all() -> str:
    """Every security event."""
    return _join("security", ">")


def delivery_kind(subject: str) -> str:
    """The kind of room a delivery subject names: `user`, `tenant`, `tenant_role`,
    `tenant_admins`, `room`, `role`, `manage`, or `other` (for metrics labels)."""
    parts = subject.split(".", 6)
    if len(parts) < 5 or parts[2] != "deliver":
        return "other"
    if parts[3] == "t" and len(parts) > 5:
        return _TENANT_ROOM_KINDS.get(parts[5], "other")
    if parts[3] == "g":
        return _GLOBAL_ROOM_KINDS.get(parts[4], "other")
    return "other"


_TENANT_ROOM_KINDS = {
    "user": "user",
    "all": "tenant",
    "role": "tenant_role",
    "admins": "tenant_admins",
    "room": "room",
}
_GLOBAL_ROOM_KINDS = {"role": "role", "manage": "manage"}
DELIVERY_KINDS = (*_TENANT_ROOM_KINDS.values(), *_GLOBAL_ROOM_KINDS.values(), "other")
"""Every value `delivery_kind` returns."""


# JetStream API -------------------------------------------------------------------


def jetstream_pull_next(stream: str, consumer: str, api_prefix: str = "$JS.API") -> str:
    """JetStream's request subject for the next messages of a pull consumer."""
    return f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
