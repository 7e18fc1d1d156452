"""Message history: `chat:history` as clients send it, and the gateway → persistence query.

The persistence service answers `cmd.persistence.history` (request/reply, queue group
`persistence`) from PostgreSQL. A page is newest first; `before` is the exclusive id
cursor (ids sort in send order). A requester only ever reads conversations it is part
of, within one tenant.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.errors import Reply
from contracts.identity import Id, Identity, TenantId

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class ChatHistoryIn(BaseModel):
    """`chat:history` on `/tenant`: exactly one of `with` or `room`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    with_: Id | None = Field(
        default=None, alias="with", description="The other user of a direct conversation."
    )
    room: Id | None = Field(
        default=None,
        description="A room: your own `user:{userId}` (every direct message you sent or "
        "received), for admins `tenant:{tenantId}:admins` (supervised messages), or an "
        "explicit room you may read (`room:{slug}`, `{entityType}:{entityId}`).",
    )
    before: str | None = Field(
        default=None, max_length=64, description="Exclusive cursor: an `id` from a previous page."
    )
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Messages per page (1..200)."
    )

    @model_validator(mode="after")
    def _one_target(self) -> ChatHistoryIn:
        if (self.with_ is None) == (self.room is None):
            raise ValueError("give exactly one of `with` or `room`")
        return self


class ManageChatHistoryIn(ChatHistoryIn):
    """`chat:history` on `/manage`: a super_admin names the tenant."""

    tenant: TenantId = Field(description="Tenant of the conversation.")


class HistoryQuery(BaseModel):
    """Gateway → persistence (`cmd.persistence.history`): one page of a conversation."""

    requester: Identity = Field(description="Verified requester, from the gateway's token check.")
    tenant: TenantId = Field(
        description="Tenant of the conversation (the requester's, on /tenant)."
    )
    with_user: Id | None = Field(default=None, description="Other user of a direct conversation.")
    room: Id | None = Field(default=None, description="Room name, when not a direct conversation.")
    before: str | None = Field(default=None, description="Exclusive id cursor.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")


class StoredMessage(BaseModel):
    """One message of a history page (the fields of `chat:message`, without `room`)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(description="Message id; sorts in send order.")
    tenant: str = Field(description="Tenant of the conversation.")
    from_: str = Field(alias="from", description="Sender user id.")
    to: str | None = Field(default=None, description="Recipient user id (direct messages).")
    room: str | None = Field(default=None, description="Room name (room messages).")
    body: str = Field(description="Message text.")
    ts: int = Field(description="Milliseconds since the epoch, as acknowledged to the sender.")
    seq: int = Field(description="Position in the message log; usable as a recovery `since`.")


class HistoryReply(Reply):
    """Persistence → gateway: a page, newest first, or why not."""

    messages: list[StoredMessage] = Field(default_factory=list, description="Newest first.")
