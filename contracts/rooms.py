"""Rooms as clients name them, and the delivery subject behind each.

A client sees `user:bob`; two tenants can both have a `bob`, so the gateway keys its
Socket.IO rooms by the delivery subject, which always carries the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import subjects


@dataclass(frozen=True, slots=True)
class Room:
    """A room: the name clients see and the subject that delivers to it."""

    name: str
    subject: str

    @classmethod
    def user(cls, tenant: str, user_id: str) -> Room:
        return cls(f"user:{user_id}", subjects.deliver_user(tenant, user_id))

    @classmethod
    def tenant(cls, tenant: str) -> Room:
        return cls(f"tenant:{tenant}", subjects.deliver_tenant(tenant))

    @classmethod
    def tenant_role(cls, tenant: str, role: str) -> Room:
        return cls(f"tenant:{tenant}:role:{role}", subjects.deliver_tenant_role(tenant, role))

    @classmethod
    def tenant_admins(cls, tenant: str) -> Room:
        return cls(f"tenant:{tenant}:admins", subjects.deliver_tenant_admins(tenant))

    @classmethod
    def role(cls, role: str) -> Room:
        return cls(f"role:{role}", subjects.deliver_role(role))

    @classmethod
    def manage(cls) -> Room:
        return cls("manage:global", subjects.deliver_manage())
