"""Payloads clients send (docs/protocol.md, "Client → server events").

Every model forbids unknown fields so that typos surface as `INVALID` instead of
being ignored. `body` size is checked by the gateway against its configured limit.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from contracts.identity import ClientId, Id, TenantId

_CLIENT_ID: TypeAdapter[str] = TypeAdapter(ClientId)


def echoable_client_id(value: Any) -> str | None:
    """`value` if it is a valid `ClientId`, else None: all `chat:error` may echo."""
    if not isinstance(value, str):
        return None
    try:
        return _CLIENT_ID.validate_python(value)
    except ValidationError:
        return None


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
        default=None, alias="clientId", description="Idempotency key (1-128 characters)."
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
