"""Payloads clients send (PROTOCOL.md, "Client → server events").

Every model forbids unknown fields so that typos surface as `INVALID` instead of
being ignored. `body` size is checked by the gateway against its configured limit.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.identity import Id

MAX_CLIENT_ID_LENGTH = 128
_CONTROL = r"\x00-\x1f\x7f"
_HAS_CONTROL = re.compile(f"[{_CONTROL}]")

ClientId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_CLIENT_ID_LENGTH, pattern=f"^[^{_CONTROL}]+$"),
]
"""A sender's idempotency key: 1 to 128 characters, no control characters."""


def echoable_client_id(value: Any) -> str | None:
    """`value` if it is a valid `ClientId`, else None: all `chat:error` may echo."""
    if (
        isinstance(value, str)
        and 0 < len(value) <= MAX_CLIENT_ID_LENGTH
        and not _HAS_CONTROL.search(value)
    ):
        return value
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

    tenant: Id = Field(description="Tenant of the recipient.")


class TenantIn(ClientModel):
    """`manage:watch`, `manage:unwatch`, `presence:list` on `/manage`."""

    tenant: Id = Field(description="Tenant to act on.")


class RefreshIn(ClientModel):
    """`auth:refresh`."""

    token: str = Field(min_length=1, max_length=16384, description="A fresh JWT.")


class EmptyIn(ClientModel):
    """Events that take `{}`."""
