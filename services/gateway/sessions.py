"""What the gateway knows about each live socket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from contracts.identity import Identity
from contracts.rooms import Room
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
    expiry: asyncio.TimerHandle | None = None

    @property
    def on_manage(self) -> bool:
        return self.namespace == MANAGE


def auto_rooms(identity: Identity, namespace: str) -> list[Room]:
    """Rooms a socket joins on connect (PROTOCOL.md, "Namespaces")."""
    t, u = identity.tenant, identity.user_id
    if namespace == MANAGE:
        return [Room.manage(), Room.user(t, u)]
    rooms = [
        Room.user(t, u),
        Room.tenant(t),
        Room.tenant_role(t, identity.role),
        Room.role(identity.role),
    ]
    if identity.role == "admin":
        rooms.append(Room.tenant_admins(t))
    return rooms
