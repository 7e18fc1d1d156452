"""Presence: what gateways report, what the presence service answers and delivers.

A gateway reports its connections in batches (`GatewayReport`, request/reply on
`cmd.presence.report`): connections opened and closed since the last report, the
heartbeats it saw, and its own liveness lease. Every report renews the lease, so a
gateway that stops reporting (SIGKILL, partition) loses its connections when the
lease runs out. The service answers with a `ReportReply`; `resync` asks the gateway
to send every live connection again (state lost, or the gateway's lease was reaped).

Sockets receive `user:online` / `user:offline` (`PresenceChange`) on the tenant room,
once per user, and `presence:list` answers `PresenceListReply`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import Reply
from contracts.identity import Id, TenantId


class OfflineReason(StrEnum):
    """Why a user went offline (docs/protocol.md, `user:offline`)."""

    DISCONNECT = "disconnect"
    """The last connection closed (after the grace window)."""
    TIMEOUT = "timeout"
    """The last connection sent no heartbeat within the presence TTL."""
    GATEWAY_LOST = "gateway_lost"
    """The gateway hosting the last connection stopped renewing its lease."""


ONLINE_EVENT = "user:online"
OFFLINE_EVENT = "user:offline"


class OpenedConnection(BaseModel):
    """A live connection, as the gateway knows it."""

    model_config = ConfigDict(frozen=True)

    sid: str = Field(min_length=1, max_length=128, description="Socket id, unique per socket.")
    tenant: TenantId = Field(description="Tenant of the connected user.")
    user_id: Id = Field(description="Connected user.")
    name: str | None = Field(default=None, max_length=256, description="Display name, if any.")
    age_ms: int = Field(ge=0, description="Milliseconds since the socket connected.")
    idle_ms: int = Field(ge=0, description="Milliseconds since its last heartbeat (or connect).")
    acked: bool = Field(
        default=False,
        description="A report holding this connection was acknowledged before: when state "
        "is restored after a loss, it is added without announcing `user:online` again.",
    )


class ClosedConnection(BaseModel):
    """A connection that closed after the service may have learnt of it."""

    model_config = ConfigDict(frozen=True)

    sid: str = Field(min_length=1, max_length=128, description="Socket id.")
    tenant: TenantId = Field(description="Tenant of the user.")
    user_id: Id = Field(description="User whose connection closed.")
    name: str | None = Field(default=None, max_length=256, description="Display name, if any.")


class GatewayReport(BaseModel):
    """Gateway → presence (`cmd.presence.report`, request/reply): one batch.

    Items are applied in order: lease, `opened`, `closed`, `alive`.
    """

    gateway: Id = Field(description="Gateway id, unique per gateway process.")
    epoch: str = Field(
        default="",
        max_length=64,
        description="Presence state epoch the gateway last saw ('' when it has none).",
    )
    lease_ttl_ms: int = Field(
        gt=0, description="The gateway's lease lasts this long from the report's arrival."
    )
    resync: bool = Field(
        default=False,
        description="`opened` restates live connections after a `resync` request; applied "
        "even when the epoch or lease does not match.",
    )
    leaving: bool = Field(
        default=False, description="The gateway is stopping: its lease ends after this report."
    )
    opened: list[OpenedConnection] = Field(default_factory=list, description="New connections.")
    closed: list[ClosedConnection] = Field(default_factory=list, description="Closed ones.")
    alive: dict[str, int] = Field(
        default_factory=dict,
        description="Socket id → milliseconds since its latest `presence:heartbeat`.",
    )


class ReportReply(Reply):
    """Presence → gateway: the outcome of a `GatewayReport`."""

    epoch: str = Field(default="", description="Current presence state epoch.")
    resync: bool = Field(
        default=False,
        description="Not applied: send every live connection again with `resync: true`.",
    )
    unknown: list[str] = Field(
        default_factory=list,
        description="Sockets in `alive` the service does not know (they timed out): report "
        "them as opened again.",
    )


class PresenceListRequest(BaseModel):
    """Gateway → presence (`cmd.presence.list`, request/reply): a tenant's online users."""

    tenant: TenantId = Field(description="Tenant to list.")


class OnlineUser(BaseModel):
    """One online user (docs/protocol.md, `presence:list`)."""

    model_config = ConfigDict(populate_by_name=True)

    user_id: str = Field(alias="userId", description="User id.")
    name: str | None = Field(default=None, description="Display name, if any.")
    since: int = Field(description="Online since, milliseconds since the epoch.")


class PresenceListReply(Reply):
    """Presence → gateway: the online users of a tenant, or why not."""

    users: list[OnlineUser] = Field(default_factory=list, description="Online users.")


class PresenceChange(BaseModel):
    """What sockets receive as `user:online` / `user:offline` on `tenant:{t}`."""

    model_config = ConfigDict(populate_by_name=True)

    user_id: str = Field(alias="userId", description="User id.")
    tenant: str = Field(description="Tenant of the user.")
    ts: int = Field(description="When the change was decided, milliseconds since the epoch.")
    reason: OfflineReason | None = Field(
        default=None, description="`user:offline` only: why the user went offline."
    )
