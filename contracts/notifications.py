"""Notifications and app events: what backend services publish.

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

A user's inbox (what clients see, and what gateways ask for them) is
`contracts.inbox`. Every model is camelCase on the wire.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

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
from contracts.identity import MAX_ROOM_ID, RoleName, TenantId, UserId

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
