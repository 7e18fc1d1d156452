"""From verified JWT claims to an `Identity`, with configurable claim names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts.identity import (
    MAX_NAME,
    MAX_ROLE,
    MAX_TENANT_ID,
    MAX_USER_ID,
    DisplayName,
    Identity,
    RoleName,
    TenantId,
    UserId,
)
from services.gateway.auth.errors import AuthError
from services.gateway.settings import GatewaySettings

_USER: TypeAdapter[str] = TypeAdapter(UserId)
_TENANT: TypeAdapter[str] = TypeAdapter(TenantId)
_ROLE: TypeAdapter[str] = TypeAdapter(RoleName)
_NAME: TypeAdapter[str] = TypeAdapter(DisplayName)


class ClaimMapper:
    """Reads user, tenant, role and name from claims named by the settings."""

    __slots__ = ("_default_role", "_default_tenant", "_name", "_role", "_tenant", "_user")

    def __init__(self, settings: GatewaySettings) -> None:
        self._user = settings.jwt_claim_user
        self._tenant = settings.jwt_claim_tenant
        self._role = settings.jwt_claim_role
        self._name = settings.jwt_claim_name
        self._default_tenant = _configured(
            "default_tenant", settings.default_tenant or None, _TENANT
        )
        self._default_role = _configured("default_role", settings.default_role, _ROLE)

    def identity(self, claims: Mapping[str, Any]) -> Identity:
        """Build the identity a verified token asserts.

        A missing (or null) tenant claim falls back to the configured default
        tenant, a missing role to the default role. Ids may be strings or
        integers; anything else, or an id that is empty, too long or holds
        control characters, is refused naming the claim: a user id has at most
        255 characters, a tenant and a role at most 128, a display name at most
        256. A display name that is not a string, or is empty, is ignored.

        Args:
            claims: the payload of a token whose signature and times are checked.

        Returns:
            The identity.

        Raises:
            AuthError: UNAUTHENTICATED when a required claim is missing or invalid.
        """
        user_id = _id_claim(claims, self._user, _USER, MAX_USER_ID)
        if user_id is None:
            raise AuthError(f"token lacks the {self._user!r} claim")
        tenant = _id_claim(claims, self._tenant, _TENANT, MAX_TENANT_ID) or self._default_tenant
        if tenant is None:
            raise AuthError(f"token lacks the {self._tenant!r} claim")
        role = _id_claim(claims, self._role, _ROLE, MAX_ROLE) or self._default_role
        return Identity(tenant=tenant, user_id=user_id, role=role, name=_name(claims, self._name))


def _configured(setting: str, value: str | None, adapter: TypeAdapter[str]) -> str | None:
    if value is None:
        return None
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError:
        raise ValueError(f"{setting} is not a valid id") from None


def _id_claim(
    claims: Mapping[str, Any], claim: str, adapter: TypeAdapter[str], limit: int
) -> str | None:
    value = claims.get(claim)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError:
        raise AuthError(
            f"token claim {claim!r} must be a string of 1 to {limit} characters"
            " without control characters"
        ) from None


def _name(claims: Mapping[str, Any], claim: str) -> str | None:
    value = claims.get(claim)
    if not isinstance(value, str) or not value:
        return None
    try:
        return _NAME.validate_python(value, strict=True)
    except ValidationError:
        raise AuthError(
            f"token claim {claim!r} must be at most {MAX_NAME} characters"
            " without control characters"
        ) from None
