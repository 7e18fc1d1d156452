"""Security events: refused access, tenant isolation violations, admin actions (seed 002).

A gateway or the rooms service publishes one `SecurityEvent` per occurrence on
`contracts.subjects.security_event(tenant, kind)` (`endpoints.SECURITY_EVENTS`), writes
it as a log line on the `roomcast.security` logger and counts it in
`roomcast_security_events_total{kind}` (`roomcast.platform.security`). Subscribe to
`roomcast.v1.security.>` for all of them, `roomcast.v1.security.<tenant>.>` for one
tenant's (`~none` stands for no known tenant: a refused token, an unknown namespace),
or `roomcast.v1.security.*.auth_failed` for one kind.

An event never carries a token, a password, a secret or a message body: only who (when
known from a verified token), where, what and why. Publishing is fire-and-forget: an
event may be lost while NATS is away (it is still logged and counted).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from contracts.errors import ErrorCode

MAX_TEXT = 256
"""Longest text field of an event (reasons, origins, room names are cut to it)."""


class SecurityKind(StrEnum):
    """What happened; the last token of the subject and the `kind` label of the counter."""

    AUTH_FAILED = "auth_failed"
    """A connection or HTTP request without a valid token (`UNAUTHENTICATED`)."""
    NAMESPACE_REFUSED = "namespace_refused"
    """A connection to a namespace the role may not use, or to an unknown one."""
    CROSS_TENANT = "cross_tenant"
    """A request naming a tenant other than the caller's, refused `FORBIDDEN`."""
    ORIGIN_REFUSED = "origin_refused"
    """A browser request or connection from an origin the gateway does not allow."""
    RATE_LIMITED = "rate_limited"
    """A client over its rate limit (`RATE_LIMITED`)."""
    FRAME_TOO_LARGE = "frame_too_large"
    """A frame or request body over `ROOMCAST_MAX_FRAME_BYTES` (`TOO_LARGE`)."""
    ADMIN_ACTION = "admin_action"
    """A change to a room or its members (create, update, archive, delete, entity link
    and unlink, member add, remove, role change), after it succeeded."""


REFUSALS = frozenset(SecurityKind) - {SecurityKind.ADMIN_ACTION}
"""Kinds that record a refusal (logged at WARNING); admin actions are logged at INFO."""


class AdminAction(StrEnum):
    """The admin actions on rooms and members recorded as `admin_action` events."""

    ROOM_CREATE = "room.create"
    ROOM_UPDATE = "room.update"
    ROOM_ARCHIVE = "room.archive"
    ROOM_UNARCHIVE = "room.unarchive"
    ROOM_DELETE = "room.delete"
    ROOM_LINK = "room.link"
    ROOM_UNLINK = "room.unlink"
    MEMBER_ADD = "member.add"
    MEMBER_REMOVE = "member.remove"
    MEMBER_ROLE = "member.role"


class SecurityEvent(BaseModel):
    """One security event (`roomcast.v1.security.<tenant>.<kind>`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    kind: SecurityKind = Field(description="What happened (also the subject's last token).")
    ts: int = Field(description="When, in milliseconds since the Unix epoch.")
    service: str = Field(description="The process kind that saw it: `gateway` or `rooms`.")
    instance: str = Field(default="", description="The replica that saw it (instance name).")
    tenant: str | None = Field(
        default=None,
        description="The tenant concerned: the caller's (or, for a cross-tenant attempt, "
        "the one it named: see `targetTenant`); absent when no token was verified.",
    )
    user_id: str | None = Field(
        default=None, description="The caller, from a verified token; absent otherwise."
    )
    role: str | None = Field(default=None, description="The caller's role, from a verified token.")
    code: ErrorCode | None = Field(
        default=None, description="The error code the client was answered with, for a refusal."
    )
    reason: str = Field(
        default="",
        description="Why, as the client was told (e.g. `the token has expired`); never the "
        "token or a claim's value.",
    )
    transport: str = Field(
        default="",
        description="Where: `socketio` (connect or event), `http` (the HTTP API) or `nats` "
        "(a command to a service).",
    )
    namespace: str | None = Field(default=None, description="The Socket.IO namespace asked for.")
    event: str | None = Field(
        default=None, description="The client event or HTTP route, when the refusal was of one."
    )
    origin: str | None = Field(default=None, description="The refused `Origin` header.")
    remote: str | None = Field(
        default=None, description="The client's address as the gateway saw it (`host:port`)."
    )
    target_tenant: str | None = Field(
        default=None, description="Cross-tenant attempts: the tenant the caller named."
    )
    action: AdminAction | None = Field(default=None, description="Admin actions: what was done.")
    room: str | None = Field(
        default=None, description="Admin actions: the room (`room:{slug}`) acted on."
    )
    target_user_id: str | None = Field(
        default=None, description="Admin actions on members: the member added, removed or changed."
    )
    target_role: str | None = Field(
        default=None, description="Admin actions on members: the member's role after the change."
    )
    via_manage: bool = Field(
        default=False, description="The caller acted from /manage (a super_admin in any tenant)."
    )
