"""`POST /api/server/disconnect`: `disconnect_user` for services that do not speak NATS.

Authenticated with a service API key as `/api/server/publish` (`service_keys`): a key
bound to a tenant may only disconnect users of that tenant. The gateway publishes
`endpoints.DISCONNECT_USER` to every gateway and answers `{ok, ts}` once the NATS
server has it.
"""

from __future__ import annotations

import time
from typing import cast

from fastapi import APIRouter, Request

from contracts import endpoints
from contracts.errors import ErrorCode, ServiceError
from contracts.sessions import DisconnectReply, DisconnectRequest, DisconnectUser
from roomcast.platform.announce import announce
from services.gateway.http.deps import GatewayDep
from services.gateway.service_keys import ServiceKey

router = APIRouter(prefix="/api/server", tags=["server"])


@router.post(
    "/disconnect",
    summary="End every socket of a user on every gateway (service API key)",
    response_model=DisconnectReply,
    response_model_exclude_none=True,
)
async def disconnect(request: Request, gw: GatewayDep, body: DisconnectRequest) -> DisconnectReply:
    """`Authorization: Bearer <service API key>`. Each socket of the user gets
    `session:ended {reason}` and a server-side disconnect (clients do not reconnect by
    themselves). A key bound to another tenant gets `FORBIDDEN`."""
    key = cast(ServiceKey, request.scope["state"]["service_key"])
    if not key.may_publish_to(body.tenant):
        raise ServiceError(ErrorCode.FORBIDDEN, f"key {key.name!r} may not act in {body.tenant}")
    order = DisconnectUser(**body.model_dump(), ts=int(time.time() * 1000))
    await announce(gw.nc, endpoints.DISCONNECT_USER, order, wait=gw.settings.request_timeout)
    return DisconnectReply(ok=True, ts=order.ts)
