"""Tenant directory and run-time tenant settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import Reply
from contracts.identity import Identity, TenantId


class TenantSettings(BaseModel):
    """Settings a platform operator changes at run time (`roomcast tenant set`)."""

    model_config = ConfigDict(extra="forbid")

    supervise_dms: bool = Field(
        default=False,
        description="Copy direct messages from non-admins to the tenant's admins (seed 000).",
    )


class RegisterMember(BaseModel):
    """Gateway → rooms: this user connected, so they are a member of their tenant."""

    identity: Identity = Field(description="The connecting user.")


class SetTenantSettings(BaseModel):
    """CLI/SDK → rooms: change settings; unknown keys are refused."""

    tenant: TenantId = Field(description="Tenant to change.")
    values: dict[str, object] = Field(description="Keys of `TenantSettings` and new values.")


class GetTenantSettings(BaseModel):
    """CLI/SDK → rooms: read one tenant's settings."""

    tenant: TenantId = Field(description="Tenant to read.")


class TenantSettingsReply(Reply):
    """Rooms → caller: the settings now in force, or why not."""

    tenant: str | None = Field(default=None, description="Tenant the settings belong to.")
    settings: TenantSettings | None = Field(default=None, description="Settings in force.")


class TenantSettingsChanged(BaseModel):
    """Broadcast to every rooms replica: forget cached settings of `tenant`."""

    tenant: TenantId = Field(description="Tenant whose settings changed.")


class OkReply(Reply):
    """A plain acknowledgement of a command."""
