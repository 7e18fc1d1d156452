"""Client events forwarded to backend services (seed 002's progress tracking).

A gateway configured with an allow-list (`ROOMCAST_FORWARD_EVENTS`, e.g.
`progress:*,quiz:answer`) forwards each client event whose name matches it: the payload
(a JSON object) is wrapped in a `ForwardedEvent` stamped with the identity the gateway
verified — never with anything the payload claims — and stored in the JetStream
stream `ROOMCAST_CLIENT_EVENTS` on `client.<tenant>.<event>`. The client's ack
`{ok: true}` comes once JetStream stored it, so a backend consumer that is down reads
it later. Event names of the client protocol are never forwarded.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

from contracts.identity import RoleName, TenantId, UserId
from contracts.notifications import RESERVED_NAMES, RESERVED_PREFIXES, check_event_name

DEFAULT_MAX_BYTES = 8 * 1024
"""Largest forwarded payload by default (`ROOMCAST_FORWARD_MAX_BYTES`), compact JSON."""


class ForwardedEvent(BaseModel):
    """One client event as backend services read it from `ROOMCAST_CLIENT_EVENTS`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    tenant: TenantId = Field(description="The sender's tenant, from its verified token.")
    user_id: UserId = Field(description="The sender's user id, from its verified token.")
    role: RoleName = Field(description="The sender's role, from its verified token.")
    event: str = Field(description="The Socket.IO event name, e.g. `progress:video`.")
    data: dict[str, JsonValue] = Field(
        description="The client's payload, a JSON object, unchanged (ids it claims are "
        "the client's word; trust `tenant`, `userId` and `role`)."
    )
    ts: int = Field(description="Milliseconds since the epoch the gateway received it.")
    sid: str | None = Field(default=None, description="The sending socket's Socket.IO id.")
    namespace: str | None = Field(
        default=None, description="The sending socket's namespace (`/tenant`, `/`, `/manage`)."
    )


def is_protocol_name(event: str) -> bool:
    """True for a name of the client protocol or one Socket.IO reserves."""
    lowered = event.lower()
    return lowered in RESERVED_NAMES or lowered.startswith(RESERVED_PREFIXES)


def check_patterns(patterns: list[str]) -> list[str]:
    """Validate an allow-list: fnmatch patterns that can match a non-protocol name.

    Raises:
        ValueError: an empty pattern, or one that only names protocol events.
    """
    for pattern in patterns:
        if not pattern.strip() or pattern != pattern.strip():
            raise ValueError("an allow-list entry is a non-empty pattern without spaces")
        if is_protocol_name(pattern):
            raise ValueError(f"{pattern!r} names events of the roomcast protocol")
    return patterns


def forwardable(event: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """Whether `event` is forwarded under `patterns` (case-sensitive fnmatch); a protocol
    name or a malformed one never is."""
    if not patterns:
        return False
    try:
        check_event_name(event)
    except ValueError:
        return False
    return any(fnmatchcase(event, pattern) for pattern in patterns)
