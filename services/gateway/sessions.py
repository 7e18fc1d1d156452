"""What the gateway knows about each live socket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from pydantic import BaseModel

from contracts.identity import Identity
from services.gateway.limits import TokenBucket

MANAGE = "/manage"
TENANT_NAMESPACES = ("/", "/tenant")
NAMESPACES = (*TENANT_NAMESPACES, MANAGE)


@dataclass(slots=True)
class Session:
    """One Socket.IO connection (one namespace of one client)."""

    sid: str
    namespace: str
    identity: Identity
    exp: int
    bucket: TokenBucket
    subjects: set[str] = field(default_factory=set)
    joined: dict[tuple[str, str], str] = field(default_factory=dict)
    """Explicit rooms joined: `(tenant, name as asked or canonical)` → delivery subject."""
    claims: dict[str, Any] = field(default_factory=dict)
    """Token claims forwarded to room-kind policies (`policy_claims`), from the connect."""
    expiry: asyncio.TimerHandle | None = None

    @property
    def on_manage(self) -> bool:
        return self.namespace == MANAGE


class _NamesTenant(Protocol):
    tenant: str


P = TypeVar("P", bound=BaseModel)


def scoped(s: Session, data: Any, own: type[P], manage: type[P]) -> tuple[P, str]:
    """Validate a payload for the caller's namespace and say which tenant it acts in.

    On `/manage` a super_admin names the tenant (`manage` has a `tenant` field);
    everywhere else it is the caller's own tenant.
    """
    if s.on_manage:
        payload = manage.model_validate(data)
        return payload, cast(_NamesTenant, payload).tenant
    return own.model_validate(data), s.identity.tenant
