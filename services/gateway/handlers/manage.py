"""`manage:watch` / `manage:unwatch`: a super_admin on /manage follows a tenant."""

from __future__ import annotations

from typing import Any

from contracts.client import TenantIn
from contracts.errors import ErrorCode, ServiceError
from contracts.rooms import Room
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session


async def manage_watch(gw: Context, s: Session, data: Any) -> Ack:
    """`manage:watch`: `{tenant}`; the socket joins `tenant:{tenant}`."""
    room = Room.tenant(_manage_tenant(s, data))
    if room.subject not in s.subjects:
        s.subjects.add(room.subject)
        await gw.fanout.join(s.sid, s.namespace, [room.subject])
    return ok()


async def manage_unwatch(gw: Context, s: Session, data: Any) -> Ack:
    """`manage:unwatch`: `{tenant}`; the socket leaves `tenant:{tenant}`."""
    room = Room.tenant(_manage_tenant(s, data))
    if room.subject in s.subjects:
        s.subjects.discard(room.subject)
        await gw.fanout.leave(s.sid, s.namespace, [room.subject])
    return ok()


def _manage_tenant(s: Session, data: Any) -> str:
    if not s.on_manage:
        raise ServiceError(ErrorCode.FORBIDDEN, "only available on /manage")
    return TenantIn.model_validate(data).tenant
