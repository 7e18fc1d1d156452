"""Payloads clients send (PROTOCOL.md, "Client → server events").

Every model forbids unknown fields so that typos surface as `INVALID` instead of
being ignored. `body` size is checked by the gateway against its configured limit.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.identity import ClientId, Id, TenantId


class ClientModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ChatSendIn(ClientModel):
    """`chat:send` on `/tenant`."""

    to: Id = Field(description="Recipient user id in the sender's tenant.")
    body: str = Field(
        min_length=1,
        pattern=r"^[^\x00]*$",
        description="Message text (no NUL characters: PostgreSQL text cannot store them).",
    )
    client_id: ClientId | None = Field(
        default=None, alias="clientId", description="Idempotency key."
    )


class ManageChatSendIn(ChatSendIn):
    """`chat:send` on `/manage`: a super_admin names the tenant."""

    tenant: TenantId = Field(description="Tenant of the recipient.")


class TenantIn(ClientModel):
    """`manage:watch`, `manage:unwatch`, `presence:list` on `/manage`."""

    tenant: TenantId = Field(description="Tenant to act on.")


class RefreshIn(ClientModel):
    """`auth:refresh`."""

    token: str = Field(min_length=1, max_length=16384, description="A fresh JWT.")


class EmptyIn(ClientModel):
    """Events that take `{}`."""
