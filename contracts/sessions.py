"""Ending a user's sessions from a backend service (`disconnect_user`).

A service (the SDK's `Publisher.disconnect_user`, `roomcast disconnect`, or
`POST /api/server/disconnect`) publishes `DisconnectUser` as a broadcast that every
gateway receives: each one ends the sockets of that user it hosts, on every namespace.
Each socket first gets `session:ended {reason}`, then a server-side Socket.IO
disconnect, which stock clients do not retry (Socket.IO's `io server disconnect`).
Presence sees an ordinary close.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from contracts.errors import Reply
from contracts.identity import TenantId, UserId

ENDED_EVENT = "session:ended"
"""What each socket of the user receives just before the server disconnects it."""

DEFAULT_REASON = "disconnected"
MAX_REASON = 64
_REASON = re.compile(r"^[A-Za-z0-9_.:-]+$")


def _check_reason(value: str) -> str:
    if not 1 <= len(value) <= MAX_REASON or not _REASON.match(value):
        raise ValueError(f"a reason is 1..{MAX_REASON} letters, digits, `_`, `.`, `:` or `-`")
    return value


Reason = Annotated[str, AfterValidator(_check_reason)]


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class DisconnectRequest(_Wire):
    """End every socket of one user: what a service asks (`POST /api/server/disconnect`)."""

    tenant: TenantId = Field(description="The user's tenant.")
    user_id: UserId = Field(description="The user whose sockets end.")
    reason: Reason = Field(
        default=DEFAULT_REASON,
        description="A short code for the client (`session:ended {reason}`), e.g. "
        "`logged_out`, `banned`; letters, digits, `_.:-`, at most 64.",
    )


class DisconnectUser(DisconnectRequest):
    """End every socket of one user, on every gateway (the broadcast)."""

    ts: int = Field(default=0, description="Milliseconds since the epoch it was published.")


class SessionEnded(_Wire):
    """`session:ended`: the server is about to disconnect this socket and wants no retry."""

    reason: str = Field(description="The publisher's reason, `disconnected` by default.")


class DisconnectReply(Reply):
    """The outcome of a disconnect over HTTP: handed to NATS, or refused."""

    ts: int | None = Field(
        default=None,
        description="Milliseconds since the epoch it was published; the NATS server had it "
        "then, and every gateway connected to NATS ends the user's sockets.",
    )
