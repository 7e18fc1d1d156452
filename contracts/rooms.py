"""Rooms as clients name them, and the delivery subject behind each.

A client sees `user:bob`; two tenants can both have a `bob`, so the gateway keys its
Socket.IO rooms by the delivery subject, which always carries the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts import subjects


class RoomKind(StrEnum):
    """The kinds of rooms a socket joins on connect (docs/protocol.md, "Namespaces")."""

    USER = "user"
    """`user:{userId}`: one user's sockets."""
    TENANT = "tenant"
    """`tenant:{tenantId}`: every socket of a tenant."""
    TENANT_ROLE = "tenant_role"
    """`tenant:{tenantId}:role:{role}`: one role within a tenant."""
    TENANT_ADMINS = "tenant_admins"
    """`tenant:{tenantId}:admins`: a tenant's admins."""
    ROLE = "role"
    """`role:{role}`: one role across tenants."""
    MANAGE = "manage"
    """`manage:global`: every `/manage` socket."""
    EXPLICIT = "explicit"
    """`room:{slug}` or `{entityType}:{entityId}`: an explicit room, joined with `room:join`."""


@dataclass(frozen=True, slots=True)
class Room:
    """A room: the name clients see, the subject that delivers to it, and its kind."""

    name: str
    subject: str
    kind: RoomKind

    @classmethod
    def user(cls, tenant: str, user_id: str) -> Room:
        return cls(f"user:{user_id}", subjects.deliver_user(tenant, user_id), RoomKind.USER)

    @classmethod
    def tenant(cls, tenant: str) -> Room:
        return cls(f"tenant:{tenant}", subjects.deliver_tenant(tenant), RoomKind.TENANT)

    @classmethod
    def tenant_role(cls, tenant: str, role: str) -> Room:
        return cls(
            f"tenant:{tenant}:role:{role}",
            subjects.deliver_tenant_role(tenant, role),
            RoomKind.TENANT_ROLE,
        )

    @classmethod
    def tenant_admins(cls, tenant: str) -> Room:
        return cls(
            f"tenant:{tenant}:admins",
            subjects.deliver_tenant_admins(tenant),
            RoomKind.TENANT_ADMINS,
        )

    @classmethod
    def role(cls, role: str) -> Room:
        return cls(f"role:{role}", subjects.deliver_role(role), RoomKind.ROLE)

    @classmethod
    def explicit(cls, tenant: str, name: str) -> Room:
        """An explicit room by its canonical name (as the rooms service answers it)."""
        return cls(name, subjects.deliver_room(tenant, name), RoomKind.EXPLICIT)

    @classmethod
    def manage(cls) -> Room:
        return cls("manage:global", subjects.deliver_manage(), RoomKind.MANAGE)
