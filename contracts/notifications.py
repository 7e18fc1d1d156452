"""Notifications and app events: what backend services publish, and the inbox of a user.

Backend services publish to a **target** (one user, a tenant, a role in a tenant, a
tenant's admins, a platform-wide role, a named room) over request/reply, so every
publication is validated and a refusal comes back with its reason:

- `Notify` (`cmd.notifications.notify`) stores a notification once, whatever the
  target's size, and answers `{ok, id, ts}` after PostgreSQL committed it; the same
  `idempotencyKey` answers the same `id`. Seed 002's form (`tenantId`, `userId`,
  `message`, `type`, `priority`) is accepted as is.
- `AppEvent` (`cmd.notifications.publish`) is ephemeral: `{target, event, data}` is
  delivered as Socket.IO event `event` to the target's sockets. Event names of the
  client protocol (`chat:`, `room:`, `notification:`, ...) are refused.

The inbox requests (`ListNotifications`, `MarkNotifications`, `CountNotifications`)
are what gateways ask on behalf of a verified user. Every model is camelCase on the
wire.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from contracts.client import check_room_name, room_kind
from contracts.errors import Reply
from contracts.explicit_rooms import AUTO_KINDS
from contracts.identity import MAX_ROOM_ID, Identity, RoleName, TenantId, UserId

NEW_EVENT = "notification:new"
COUNT_EVENT = "notification:count"
DEFAULT_EVENT = "notification"
"""`event` of a notification published without one (nor seed 002's `type`)."""

MAX_TITLE = 256
MAX_BODY = 8 * 1024
MAX_DATA_BYTES = 16 * 1024
"""Largest `data` of a notification or an app event, as compact JSON."""
MAX_EVENT = 64
MAX_IDEMPOTENCY_KEY = 128
MAX_IDS = 200
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
UNREAD_CAP = 1000
"""`unread` is exact below this; this value means this many or more (a badge shows
"999+"). Counting stops there, so a count costs at most this many rows per audience."""
MAX_COUNT_VIEWERS = 500
"""Most users one `CountNotifications` asks about."""

RESERVED_PREFIXES = (
    "chat:",
    "room:",
    "notification:",
    "presence:",
    "user:",
    "session:",
    "manage:",
    "auth:",
)
RESERVED_NAMES = frozenset(
    {"connect", "disconnect", "connect_error", "message", "error", "ping", "pong"}
)
_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")
_NOTIFICATION_ID = re.compile(r"^[1-9][0-9]{0,18}$")


def check_event_name(name: str) -> str:
    """Refuse an event name of the client protocol or one Socket.IO reserves.

    Raises:
        ValueError: with the reason.
    """
    if not 1 <= len(name) <= MAX_EVENT or not _EVENT_NAME.match(name):
        raise ValueError(
            f"an event name is 1..{MAX_EVENT} letters, digits, `_`, `.`, `:` or `-`, "
            "starting with a letter"
        )
    lowered = name.lower()
    if lowered in RESERVED_NAMES or lowered.startswith(RESERVED_PREFIXES):
        raise ValueError(f"{name!r} is a name of the roomcast protocol; pick another event name")
    return name


def _notification_id(value: Any) -> Any:
    """Ids are strings of digits; seed 002 clients send them as numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and not _NOTIFICATION_ID.match(value):
        raise ValueError("not a notification id")
    return value


NotificationId = Annotated[str, BeforeValidator(_notification_id)]
"""A notification id: a decimal string (`"123"`; the number `123` is accepted)."""

EventName = Annotated[str, BeforeValidator(check_event_name)]


def _check_data(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    if len(orjson.dumps(value)) > MAX_DATA_BYTES:
        raise ValueError(f"data is over {MAX_DATA_BYTES} bytes of JSON")
    return value


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class TargetKind(StrEnum):
    """Who a publication is for."""

    USER = "user"
    """One user of a tenant (`tenant`, `userId`)."""
    TENANT = "tenant"
    """Every user of a tenant (`tenant`)."""
    ROLE = "role"
    """Users of one role within a tenant (`tenant`, `role`)."""
    ADMINS = "admins"
    """A tenant's `admin`s (`tenant`)."""
    PLATFORM_ROLE = "platform_role"
    """Users of one role in every tenant (`role`; no `tenant`)."""
    ROOM = "room"
    """Sockets that joined an explicit room (`tenant`, `room`)."""


_NEEDS: dict[TargetKind, tuple[str, ...]] = {
    TargetKind.USER: ("tenant", "user_id"),
    TargetKind.TENANT: ("tenant",),
    TargetKind.ROLE: ("tenant", "role"),
    TargetKind.ADMINS: ("tenant",),
    TargetKind.PLATFORM_ROLE: ("role",),
    TargetKind.ROOM: ("tenant", "room"),
}


class Target(_Wire):
    """Who a publication reaches: `kind` and exactly the fields that kind needs."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    kind: TargetKind = Field(
        description="`user`, `tenant`, `role` (in a tenant), `admins` (of a tenant), "
        "`platform_role` (every tenant) or `room` (an explicit room)."
    )
    tenant: TenantId | None = Field(
        default=None, description="Tenant id; every kind but `platform_role`."
    )
    user_id: UserId | None = Field(default=None, description="User id; kind `user` only.")
    role: RoleName | None = Field(
        default=None, description="Role; kinds `role` and `platform_role` only."
    )
    room: str | None = Field(
        default=None,
        max_length=MAX_ROOM_ID * 2 + 1,
        description="Explicit room name (`room:{slug}`, `{entityType}:{entityId}`); kind "
        "`room` only.",
    )

    @field_validator("room")
    @classmethod
    def _explicit_room(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_room_name(value)
        if room_kind(value) in AUTO_KINDS:
            raise ValueError("an automatic room is not a room target: use its target kind")
        return value

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Target:
        needed = _NEEDS[self.kind]
        for name in ("tenant", "user_id", "role", "room"):
            given = getattr(self, name) is not None
            if given != (name in needed):
                wire = to_camel(name)
                verb = "needs" if not given else "does not take"
                raise ValueError(f"a {self.kind} target {verb} `{wire}`")
        return self

    @classmethod
    def user(cls, tenant: str, user_id: str) -> Target:
        return cls(kind=TargetKind.USER, tenant=tenant, user_id=user_id)

    @classmethod
    def of_tenant(cls, tenant: str) -> Target:
        return cls(kind=TargetKind.TENANT, tenant=tenant)

    @classmethod
    def of_role(cls, tenant: str, role: str) -> Target:
        return cls(kind=TargetKind.ROLE, tenant=tenant, role=role)

    @classmethod
    def admins(cls, tenant: str) -> Target:
        return cls(kind=TargetKind.ADMINS, tenant=tenant)

    @classmethod
    def platform_role(cls, role: str) -> Target:
        return cls(kind=TargetKind.PLATFORM_ROLE, role=role)

    @classmethod
    def of_room(cls, tenant: str, room: str) -> Target:
        return cls(kind=TargetKind.ROOM, tenant=tenant, room=room)


class Priority(StrEnum):
    """How urgent a notification is (clients decide what that looks like)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class Notify(_Wire):
    """Service → roomcast (`cmd.notifications.notify`): store and deliver a notification.

    Seed 002's form is accepted: without `target`, `tenantId` (and `userId`) name a
    tenant (or one user of it); `message` stands for `body` and `type` for `event`;
    priorities are case-insensitive (`NORMAL`).
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    target: Target = Field(description="Who the notification is for.")
    event: EventName = Field(
        default=DEFAULT_EVENT,
        description="What kind of notification, e.g. `assignment.due` (seed 002's `type`); "
        f"`{DEFAULT_EVENT}` when absent. Not a protocol event name.",
    )
    title: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE)] | None = Field(
        default=None, description=f"Short title (1..{MAX_TITLE} characters)."
    )
    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY)] | None = Field(
        default=None, description=f"Text (1..{MAX_BODY} characters; seed 002's `message`)."
    )
    data: dict[str, JsonValue] = Field(
        default_factory=dict,
        description=f"Any JSON object for the client (at most {MAX_DATA_BYTES} bytes).",
    )
    priority: Annotated[Priority, BeforeValidator(_lower)] = Field(
        default=Priority.NORMAL, description="`low`, `normal` (default), `high` or `urgent`."
    )
    expires_at: int | None = Field(
        default=None,
        gt=0,
        description="Milliseconds since the epoch after which the notification is no "
        "longer listed nor counted; must be in the future.",
    )
    idempotency_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_IDEMPOTENCY_KEY)] | None
    ) = Field(
        default=None,
        description="Retries with the same key (per tenant) get the same id and store and "
        "deliver nothing more.",
    )

    _data = field_validator("data")(_check_data)

    @model_validator(mode="before")
    @classmethod
    def _seed_002(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for seed, ours in (("message", "body"), ("type", "event")):
            if seed in out:
                if ours in out:
                    raise ValueError(f"give `{ours}` or seed 002's `{seed}`, not both")
                out[ours] = out.pop(seed)
        tenant, user = out.pop("tenantId", None), out.pop("userId", None)
        if tenant is not None or user is not None:
            if "target" in out:
                raise ValueError("give `target` or seed 002's `tenantId`/`userId`, not both")
            if tenant is None:
                raise ValueError("seed 002's `userId` needs `tenantId`")
            out["target"] = (
                {"kind": "user", "tenant": tenant, "userId": user}
                if user is not None
                else {"kind": "tenant", "tenant": tenant}
            )
        return out

    @model_validator(mode="after")
    def _something_to_show(self) -> Notify:
        if self.title is None and self.body is None and not self.data:
            raise ValueError("a notification needs a `title`, a `body` or `data`")
        return self


class NotifyReply(Reply):
    """The outcome of `Notify`: stored (durable) or refused with a reason."""

    id: str | None = Field(default=None, description="Notification id (a decimal string).")
    ts: int | None = Field(default=None, description="Milliseconds since the epoch it was stored.")


class AppEvent(_Wire):
    """Service → roomcast (`cmd.notifications.publish`): an ephemeral event to sockets."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    target: Target = Field(description="Whose sockets receive it.")
    event: EventName = Field(
        description="The Socket.IO event name, e.g. `course:updated`; names of the "
        "roomcast protocol are refused."
    )
    data: dict[str, JsonValue] = Field(
        default_factory=dict,
        description=f"The event's payload (a JSON object, at most {MAX_DATA_BYTES} bytes).",
    )

    _data = field_validator("data")(_check_data)


class AppEventData(BaseModel):
    """An app event as sockets receive it: the publisher's `data` object, unchanged, as
    the Socket.IO event the publisher named."""

    model_config = ConfigDict(extra="allow")


class PublishReply(Reply):
    """The outcome of `AppEvent`: handed to NATS for delivery, or refused."""

    ts: int | None = Field(default=None, description="Milliseconds since the epoch it was sent.")


# what clients see -----------------------------------------------------------------


class Status(StrEnum):
    """A user's state of one notification."""

    UNREAD = "unread"
    READ = "read"
    DISMISSED = "dismissed"


class Notification(_Wire):
    """`notification:new`, and each item of a `notification:list` page."""

    id: str = Field(description="Notification id; later notifications have larger ids.")
    event: str = Field(description="What kind of notification.")
    title: str | None = Field(default=None, description="Short title, if any.")
    body: str | None = Field(default=None, description="Text, if any.")
    data: dict[str, JsonValue] = Field(description="The publisher's JSON object.")
    priority: Priority = Field(description="`low`, `normal`, `high` or `urgent`.")
    ts: int = Field(description="Milliseconds since the epoch it was stored.")
    status: Status = Field(description="This user's state: `unread`, `read` or `dismissed`.")
    expires_at: int | None = Field(
        default=None, description="When it stops being listed (ms since the epoch), if ever."
    )


class NotificationCount(_Wire):
    """`notification:count`: the user's unread count now."""

    unread: int = Field(
        ge=0,
        le=UNREAD_CAP,
        description="Notifications neither read nor dismissed nor expired; exact below "
        f"{UNREAD_CAP}, and {UNREAD_CAP} means {UNREAD_CAP} or more.",
    )


# inbox requests (gateway → persistence) ---------------------------------------------


class ListFilter(StrEnum):
    """Which notifications a page holds (`notification:list` `status`)."""

    UNREAD = "unread"
    READ = "read"
    DISMISSED = "dismissed"
    ALL = "all"
    ACTIVE = "active"
    """Everything not dismissed: the default."""


class ListNotifications(_Wire):
    """Gateway → persistence: one page of a user's notifications, newest first."""

    viewer: Identity = Field(description="The verified user whose inbox this is.")
    status: ListFilter = Field(default=ListFilter.ACTIVE, description="Which notifications.")
    before: NotificationId | None = Field(default=None, description="Exclusive id cursor.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")


class NotificationPage(Reply):
    """Persistence → gateway: a page and the user's unread count."""

    notifications: list[Notification] = Field(default_factory=list, description="Newest first.")
    unread: int = Field(default=0, description="The user's unread count.")


class MarkAction(StrEnum):
    READ = "read"
    DISMISS = "dismiss"


class MarkNotifications(_Wire):
    """Gateway → persistence: mark notifications read or dismissed for one user."""

    viewer: Identity = Field(description="The verified user.")
    action: MarkAction = Field(description="`read` or `dismiss`.")
    ids: list[NotificationId] = Field(
        default_factory=list, max_length=MAX_IDS, description="Notifications to mark."
    )
    all: bool = Field(
        default=False, description="`read` only: every notification the user sees now."
    )

    @model_validator(mode="after")
    def _ids_or_all(self) -> MarkNotifications:
        if self.all == bool(self.ids):
            raise ValueError("give `ids` or `all`, not both nor neither")
        if self.all and self.action is not MarkAction.READ:
            raise ValueError("only `read` takes `all`")
        return self


class CountReply(Reply):
    """Persistence → gateway: the user's unread count after a change."""

    unread: int = Field(default=0, description="The user's unread count.")


class CountNotifications(_Wire):
    """Gateway → persistence: the unread counts of several users at once."""

    viewers: list[Identity] = Field(
        min_length=1, max_length=MAX_COUNT_VIEWERS, description="Users to count for."
    )


class CountsReply(Reply):
    """Persistence → gateway: `unread[i]` is the count of `viewers[i]`."""

    unread: list[int] = Field(default_factory=list, description="One count per viewer, in order.")


# client events ----------------------------------------------------------------------


class _ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class NotificationListIn(_ClientIn):
    """`notification:list`."""

    status: Literal["unread", "read", "dismissed", "all"] | None = Field(
        default=None, description="Filter; default: everything not dismissed."
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size 1..200.")
    before: NotificationId | None = Field(
        default=None, description="Exclusive cursor: an `id` from a previous page."
    )


class NotificationMarkIn(_ClientIn):
    """`notification:read` / `notification:dismiss`: `{id}`, `{ids}` or (`read`) `{all: true}`.

    Seed 002's `{tenantId, notificationId, userId, status}` is accepted; `tenantId` and
    `userId`, when given, must be the caller's (`FORBIDDEN` otherwise).
    """

    id: NotificationId | None = Field(default=None, description="One notification.")
    ids: list[NotificationId] | None = Field(
        default=None, min_length=1, max_length=MAX_IDS, description="Several (1..200)."
    )
    all: Literal[True] | None = Field(
        default=None, description="`notification:read` only: every notification."
    )
    notification_id: NotificationId | None = Field(
        default=None, alias="notificationId", description="Seed 002: one notification."
    )
    tenant_id: str | None = Field(
        default=None, alias="tenantId", description="Seed 002: the caller's tenant."
    )
    user_id: str | None = Field(
        default=None, alias="userId", description="Seed 002: the caller's user id."
    )
    status: str | None = Field(
        default=None, max_length=32, description="Seed 002: `READ` (or `DISMISSED`)."
    )

    @model_validator(mode="after")
    def _one_selection(self) -> NotificationMarkIn:
        given = [self.id, self.ids, self.all, self.notification_id]
        if sum(v is not None for v in given) != 1:
            raise ValueError("give exactly one of `id`, `ids`, `all` or `notificationId`")
        return self

    def selected(self) -> list[str]:
        """The ids this payload names (empty for `all`)."""
        if self.ids is not None:
            return list(dict.fromkeys(self.ids))
        one = self.id or self.notification_id
        return [one] if one else []


class NotificationListAck(BaseModel):
    """The ack of `notification:list`: a page, newest first, and the unread count."""

    ok: Literal[True] = Field(description="Always true.")
    notifications: list[Notification] = Field(description="Newest first.")
    unread: int = Field(description="The caller's unread count.")


class UnreadAck(BaseModel):
    """The ack of `notification:read`, `notification:dismiss` and `notification:count`."""

    ok: Literal[True] = Field(description="Always true.")
    unread: int = Field(description="The caller's unread count after the change.")
