"""From verified JWT claims to an `Identity`, with configurable claim names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts.identity import Id, Identity
from services.gateway.auth.errors import AuthError
from services.gateway.settings import GatewaySettings

MAX_NAME_LENGTH = 256

_ID = TypeAdapter(Id)


class ClaimMapper:
    """Reads user, tenant, role and name from claims named by the settings."""

    __slots__ = ("_default_role", "_default_tenant", "_name", "_role", "_tenant", "_user")

    def __init__(self, settings: GatewaySettings) -> None:
        self._user = settings.jwt_claim_user
        self._tenant = settings.jwt_claim_tenant
        self._role = settings.jwt_claim_role
        self._name = settings.jwt_claim_name
        self._default_tenant = _configured_id("default_tenant", settings.default_tenant or None)
        self._default_role = _configured_id("default_role", settings.default_role)

    def identity(self, claims: Mapping[str, Any]) -> Identity:
        """Build the identity a verified token asserts.

        A missing (or null) tenant claim falls back to the configured default
        tenant, a missing role to the default role. Ids may be strings or
        integers; anything else, or an id that is empty, too long or holds
        control characters, is refused. A display name that is not a string is
        dropped and a long one is cut to 256 characters.

        Args:
            claims: the payload of a token whose signature and times are checked.

        Returns:
            The identity.

        Raises:
            AuthError: UNAUTHENTICATED when a required claim is missing or invalid.
        """
        user_id = _id_claim(claims, self._user)
        if user_id is None:
            raise AuthError(f"token lacks the {self._user!r} claim")
        tenant = _id_claim(claims, self._tenant) or self._default_tenant
        if tenant is None:
            raise AuthError(f"token lacks the {self._tenant!r} claim")
        role = _id_claim(claims, self._role) or self._default_role
        return Identity(tenant=tenant, user_id=user_id, role=role, name=_name(claims, self._name))


def _configured_id(setting: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return _ID.validate_python(value, strict=True)
    except ValidationError:
        raise ValueError(f"{setting} is not a valid id") from None


def _id_claim(claims: Mapping[str, Any], claim: str) -> str | None:
    value = claims.get(claim)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    try:
        return _ID.validate_python(value, strict=True)
    except ValidationError:
        raise AuthError(f"token claim {claim!r} is not a valid id") from None


def _name(claims: Mapping[str, Any], claim: str) -> str | None:
    value = claims.get(claim)
    if not isinstance(value, str) or not value:
        return None
    return value[:MAX_NAME_LENGTH]
