"""HS256 JWTs for development, tests and benchmarks: the one minter.

`roomcast token`, the test clients and the benchmarks build their tokens here, in
the shape the gateway expects by default (`sub`, `tenant`, `role`, `name`). Tests
that forge malformed or hostile tokens build them by hand instead: they test the
verifier, not this.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt


@dataclass(frozen=True)
class ClaimNames:
    """Which claims carry the identity (the gateway's `ROOMCAST_JWT_CLAIM_*`)."""

    user: str = "sub"
    tenant: str = "tenant"
    role: str = "role"
    name: str = "name"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ClaimNames:
        """The names configured in `ROOMCAST_JWT_CLAIM_USER` / `_TENANT` / `_ROLE` / `_NAME`."""
        default = cls()
        return cls(
            user=environ.get("ROOMCAST_JWT_CLAIM_USER") or default.user,
            tenant=environ.get("ROOMCAST_JWT_CLAIM_TENANT") or default.tenant,
            role=environ.get("ROOMCAST_JWT_CLAIM_ROLE") or default.role,
            name=environ.get("ROOMCAST_JWT_CLAIM_NAME") or default.name,
        )


def mint(
    secret: str,
    user: str,
    tenant: str,
    role: str = "member",
    *,
    name: str | None = None,
    ttl: float = 3600,
    audience: str | None = None,
    issuer: str | None = None,
    now: float | None = None,
    names: ClaimNames | None = None,
    **claims: Any,
) -> str:
    """An HS256 JWT for `user` of `tenant`.

    Args:
        secret: The shared HS256 secret.
        user: User id.
        tenant: Tenant id.
        role: Role, e.g. `member` or `admin`.
        name: Display name; no name claim if None.
        ttl: Seconds from `iat` to `exp`.
        audience: The `aud` claim, if any.
        issuer: The `iss` claim, if any.
        now: Issue time (default: the current time).
        names: The claim names of user, tenant, role and name (default: `ClaimNames()`).
        **claims: More claims; they replace the ones above, and a claim given as
            None is left out (e.g. `iat=None`).

    Returns:
        The encoded token.
    """
    names = names or ClaimNames()
    issued = time.time() if now is None else now
    payload: dict[str, Any] = {
        names.user: user,
        names.tenant: tenant,
        names.role: role,
        "iat": int(issued),
        "exp": int(issued + ttl),
    }
    if name is not None:
        payload[names.name] = name
    if audience:
        payload["aud"] = audience
    if issuer:
        payload["iss"] = issuer
    payload.update(claims)
    present = {key: value for key, value in payload.items() if value is not None}
    return jwt.encode(present, secret, algorithm="HS256")
