"""Client events `presence:heartbeat` and `presence:list` (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from contracts import endpoints
from contracts.client import EmptyIn, TenantIn
from contracts.errors import ErrorCode, ServiceError
from contracts.presence import PresenceListRequest
from roomcast.platform import bus
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session, scoped


async def presence_heartbeat(gw: Context, s: Session, data: Any) -> Ack:
    """`presence:heartbeat`: keeps this connection online (clients send it every 60 s)."""
    EmptyIn.model_validate(data)
    if s.on_manage:
        return ok()
    gw.presence.heartbeat(s.sid)
    if not gw.presence.healthy:
        raise ServiceError(
            ErrorCode.UNAVAILABLE, "presence is unavailable; this heartbeat counts once it is back"
        )
    return ok()


async def presence_list(gw: Context, s: Session, data: Any) -> Ack:
    """`presence:list`: online users of the caller's tenant (`/manage`: of `tenant`)."""
    wait = gw.settings.request_timeout
    _, tenant = scoped(s, data, EmptyIn, TenantIn)
    if not s.on_manage:
        await gw.presence.wait_reported(s.sid, wait)
    query = PresenceListRequest(tenant=tenant)
    reply = (await bus.request(gw.nc, endpoints.PRESENCE_LIST, query, wait=wait)).checked()
    return ok(users=[u.model_dump(mode="json", by_alias=True) for u in reply.users])
