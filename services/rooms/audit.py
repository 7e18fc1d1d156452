"""Security events of the rooms service: admin actions and cross-tenant attempts.

`audited(serve, security)` is `roomcast.platform.bus.serve` with every handler wrapped:

- a command that succeeded and changed a room or its members (create, update,
  archive/unarchive, delete, entity link/unlink, member add/remove/role change) is an
  `admin_action` event
  naming who did it, in which tenant, on which room and member;
- a command refused `FORBIDDEN` while it named a tenant other than the caller's (and did
  not come from /manage) is a `cross_tenant` event.

With `RoomsMetrics`, each command's duration and outcome is observed too. The handlers
themselves know nothing of it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from contracts import explicit_rooms as x
from contracts.endpoints import Endpoint
from contracts.errors import ErrorCode, Reply, ServiceError
from contracts.security import AdminAction, SecurityKind
from roomcast.platform.bus import Served
from roomcast.platform.security import SecurityEvents
from services.rooms.metrics import RoomsMetrics

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=Reply)
Handler = Callable[[Req], Awaitable[Rep]]
Serve = Callable[..., Awaitable[Served]]


def _update_action(cmd: Any) -> AdminAction:
    if cmd.status is x.RoomStatus.ARCHIVED:
        return AdminAction.ROOM_ARCHIVE
    if cmd.status is x.RoomStatus.ACTIVE:
        return AdminAction.ROOM_UNARCHIVE
    return AdminAction.ROOM_UPDATE


ADMIN_ACTIONS: dict[str, Callable[[Any], AdminAction]] = {
    "rooms.create": lambda cmd: AdminAction.ROOM_CREATE,
    "rooms.update": _update_action,
    "rooms.delete": lambda cmd: (
        AdminAction.ROOM_DELETE if cmd.permanent else AdminAction.ROOM_ARCHIVE
    ),
    "rooms.link": lambda cmd: AdminAction.ROOM_LINK,
    "rooms.unlink": lambda cmd: AdminAction.ROOM_UNLINK,
    "rooms.member_add": lambda cmd: AdminAction.MEMBER_ADD,
    "rooms.member_role": lambda cmd: AdminAction.MEMBER_ROLE,
    "rooms.member_remove": lambda cmd: AdminAction.MEMBER_REMOVE,
}
"""Endpoint name → the admin action a successful command of it is."""


class RoomAudit:
    """Turns explicit-room commands into security events."""

    def __init__(self, security: SecurityEvents, metrics: RoomsMetrics | None = None) -> None:
        self.security = security
        self.metrics = metrics

    def wrap(self, endpoint: Endpoint[Req, Rep], handler: Handler[Req, Rep]) -> Handler[Req, Rep]:
        """`handler`, reporting admin actions and cross-tenant refusals."""
        action = ADMIN_ACTIONS.get(endpoint.name)

        async def audited(cmd: Req) -> Rep:
            started = time.perf_counter()
            outcome = ErrorCode.INTERNAL.value
            try:
                reply = await handler(cmd)
                outcome = "ok" if reply.ok else (reply.error.code.value if reply.error else outcome)
            except ServiceError as exc:
                outcome = exc.code.value
                if exc.code is ErrorCode.FORBIDDEN:
                    self.refused(endpoint.name, cmd, exc)
                raise
            finally:
                if self.metrics is not None:
                    self.metrics.command(endpoint.name, outcome, time.perf_counter() - started)
            if action is not None and reply.ok:
                self.admin(action(cmd), cmd, reply)
            return reply

        return audited

    def admin(self, action: AdminAction, cmd: Any, reply: Any) -> None:
        """Record one successful admin action."""
        who = cmd.identity
        room_view = getattr(reply, "room", None)
        room = room_view.room if isinstance(room_view, x.RoomView) else getattr(cmd, "room", None)
        role = getattr(cmd, "role", None)
        self.security.emit(
            SecurityKind.ADMIN_ACTION,
            tenant=cmd.tenant,
            user_id=who.user_id,
            role=who.role,
            transport="nats",
            action=action,
            room=room,
            target_user_id=getattr(cmd, "user_id", None),
            target_role=role.value if role is not None else None,
            via_manage=cmd.via_manage,
        )

    def refused(self, name: str, cmd: Any, exc: ServiceError) -> None:
        """A `FORBIDDEN` refusal: a cross-tenant attempt when it named another tenant."""
        who = getattr(cmd, "identity", None)
        tenant = getattr(cmd, "tenant", None)
        if who is None or tenant is None or cmd.via_manage or tenant == who.tenant:
            return
        self.security.emit(
            SecurityKind.CROSS_TENANT,
            tenant=who.tenant,
            user_id=who.user_id,
            role=who.role,
            code=ErrorCode.FORBIDDEN,
            reason=exc.message,
            transport="nats",
            event=name,
            target_tenant=tenant,
        )


def audited(serve: Serve, audit: RoomAudit | None) -> Serve:
    """`serve` (`roomcast.platform.bus.serve`) wrapping each handler with `audit`."""
    if audit is None:
        return serve

    async def serving(nc: Any, endpoint: Endpoint[Any, Any], handler: Any, *args: Any) -> Served:
        return await serve(nc, endpoint, audit.wrap(endpoint, handler), *args)

    return serving
