"""Room kinds with policies (seed 001): questions the rooms service asks a kind's policy.

A kind (`course`) that no explicit room answers can be served by a policy another
service runs (`roomcast.sdk.RoomKind`, `roomcast policy serve`). The rooms service
asks it over NATS request/reply, on subjects that carry the kind
(`contracts.subjects.policy_can_join("course")`), answered by one replica of the
policy's queue group:

- `identifier(user, data) → id`, for `room:join {kind, data}`;
- `can_join(user, id) → allow` and `can_post(user, id) → allow`.

Answers may carry `ttl`: the rooms service caches the decision per (tenant, user,
kind, id) for at most that long (`revoke` drops it at once on every replica). A policy
that fails answers with an error: `INVALID` (a `ValueError` from `identifier`) or
`FORBIDDEN` (any other exception), each with its message. No answer in time is
`UNAVAILABLE`: never allowed.

Workers register their kinds with the rooms service when they start
(`RegisterKinds`), which remembers them: a registered kind whose policy does not
answer is `UNAVAILABLE`, a kind nobody registered `NOT_FOUND`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, JsonValue, StringConstraints, field_validator

from contracts.claims import Claims
from contracts.errors import Reply
from contracts.explicit_rooms import AUTO_KINDS, ROOM_KIND, Camel, RoomCommand
from contracts.identity import (
    MAX_ROOM_ID,
    NO_SPACE_OR_CONTROL,
    DisplayName,
    Identity,
    RoleName,
    TenantId,
    UserId,
)

KIND_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"

KindName = Annotated[str, StringConstraints(pattern=KIND_PATTERN)]
"""A room kind: 1..32 lowercase letters, digits, `_` and `-`, starting with a letter."""

RoomId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ROOM_ID, pattern=NO_SPACE_OR_CONTROL)
]
"""The id of a room within its kind (`42` of `course:42`): 1..128, no whitespace or control."""

RESERVED_KINDS = AUTO_KINDS | {ROOM_KIND}
"""Kinds no policy may serve: the automatic rooms and rooms made by hand."""

MAX_DATA_BYTES = 4096
"""Largest `data` of `room:join {kind, data}`, as compact JSON."""

MAX_TTL = 86_400.0
"""Largest `ttl` a policy may give (the rooms service may cap it lower)."""

MAX_KINDS = 64
"""Most kinds one worker registers at once."""

POLICY_GRANT = "policy"
"""What grants access to a policy room: the `role` of `ROOM_AUTHORIZE` replies and acks."""


def check_data(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse `data` whose compact JSON is over `MAX_DATA_BYTES`."""
    try:
        size = len(json.dumps(value, separators=(",", ":")))
    except (RecursionError, ValueError, TypeError):
        raise ValueError("data is not plain JSON") from None
    if size > MAX_DATA_BYTES:
        raise ValueError(f"data is over {MAX_DATA_BYTES} bytes")
    return value


def check_kind(value: str) -> str:
    """Refuse the reserved kinds (`room`, `user`, `tenant`, `role`, `manage`)."""
    if value in RESERVED_KINDS:
        raise ValueError(f"{value!r} is a reserved room kind")
    return value


class PolicyUser(Camel):
    """The caller as a policy sees it: from the gateway's verified token."""

    id: UserId = Field(description="User id, unique within the user's tenant.")
    tenant: TenantId = Field(description="The user's own tenant.")
    role: RoleName = Field(description="Role claim, e.g. `member`, `admin`.")
    name: DisplayName | None = Field(default=None, description="Display name, if any.")
    claims: Claims = Field(
        default_factory=dict,
        description="The token's claims the gateway forwards (`ROOMCAST_POLICY_CLAIMS`; "
        "none by default, and none for `chat:history`, which persistence authorizes).",
    )

    @classmethod
    def of(cls, identity: Identity, claims: dict[str, Any] | None = None) -> PolicyUser:
        """The policy's view of a verified identity and its forwarded claims."""
        return cls(
            id=identity.user_id,
            tenant=identity.tenant,
            role=identity.role,
            name=identity.name,
            claims=claims or {},
        )


# rooms → policy -----------------------------------------------------------------------


class PolicyQuestion(Camel):
    """What every question to a policy carries."""

    kind: KindName = Field(description="The room kind asked about, e.g. `course`.")
    tenant: TenantId = Field(
        description="Tenant of the room; equal to `user.tenant` except for a "
        "`super_admin` acting from /manage."
    )
    user: PolicyUser = Field(description="Who asks.")


class IdentifierQuestion(PolicyQuestion):
    """`identifier(user, data)`: which room of the kind `room:join {kind, data}` means."""

    data: dict[str, JsonValue] = Field(description="The client's `data`, unchanged.")


class IdentifierAnswer(Reply):
    """The room id derived from the data; `INVALID` with a message when the data is wrong."""

    id: RoomId | None = Field(default=None, description="Room id within the kind, e.g. `42`.")


class AccessQuestion(PolicyQuestion):
    """`can_join(user, id)` or `can_post(user, id)`."""

    id: RoomId = Field(description="Room id within the kind (`42` of `course:42`).")


class AccessAnswer(Reply):
    """The decision; `ok` false (with `FORBIDDEN` and the policy's message) when it failed."""

    allow: bool = Field(default=False, description="True lets the user in (or post).")
    ttl: float | None = Field(
        default=None,
        ge=0,
        le=MAX_TTL,
        description="Seconds the rooms service may reuse this decision for the same "
        "tenant, user, kind and id; none or 0: ask every time.",
    )
    reason: str | None = Field(
        default=None, max_length=500, description="Why access is refused, shown to the user."
    )


# policy workers and tools → rooms -------------------------------------------------------


class KindSpec(Camel):
    """One kind a policy worker serves."""

    kind: KindName = Field(description="The kind, e.g. `course`; not a reserved one.")
    description: str | None = Field(
        default=None, max_length=500, description="What rooms of the kind are."
    )

    _kind = field_validator("kind")(check_kind)


class RegisterKinds(Camel):
    """A policy worker announces the kinds it serves (when it starts)."""

    kinds: list[KindSpec] = Field(
        min_length=1, max_length=MAX_KINDS, description="The kinds, 1..64."
    )
    worker: str = Field(
        min_length=1, max_length=255, description="Name of the worker process (for `list`)."
    )


class ListKinds(Camel):
    """Every registered kind."""


class KindView(Camel):
    """A registered kind as the rooms service remembers it."""

    kind: str = Field(description="The kind.")
    description: str | None = Field(default=None, description="What rooms of the kind are.")
    worker: str = Field(description="The worker that registered it last.")
    registered_at: datetime = Field(description="When it was first registered.")
    seen_at: datetime = Field(description="When a worker registered it last.")


class KindsReply(Reply):
    """The registered kinds, by name."""

    kinds: list[KindView] = Field(default_factory=list, description="Sorted by kind.")


class Revoke(Camel):
    """Withdraw access to a policy room: drop cached decisions and take sockets out."""

    tenant: TenantId = Field(description="Tenant of the room.")
    kind: KindName = Field(description="The room's kind.")
    id: RoomId = Field(description="Room id within the kind.")
    user_id: UserId | None = Field(
        default=None, description="Only this user of the tenant; every user when absent."
    )


class RevokeReply(Reply):
    """The revocation reached every rooms replica and every gateway hosting the room."""

    room: str | None = Field(default=None, description="The room's name, `{kind}:{id}`.")


class Identify(RoomCommand):
    """Gateway → rooms: the room `room:join {kind, data}` names, from the kind's policy."""

    kind: KindName = Field(description="The room kind, e.g. `course`.")
    data: dict[str, JsonValue] = Field(description="The client's data (at most 4 KiB as JSON).")
    claims: Claims | None = Field(
        default=None, description="Token claims the gateway forwards to the policy."
    )

    _data = field_validator("data")(check_data)


class IdentifyReply(Reply):
    """The canonical room name (`{kind}:{id}`), before any access check."""

    room: str | None = Field(default=None, description="The room's name.")


class Ping(Camel):
    """Is a worker serving this kind?"""

    kind: KindName = Field(description="The kind asked about.")


class PingReply(Reply):
    """A worker serving the kind answered."""

    worker: str | None = Field(default=None, description="Name of the worker that answered.")


class Revoked(Revoke):
    """Rooms → every rooms replica: drop cached decisions of this room (and user)."""
