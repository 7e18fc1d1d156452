"""`auth:refresh`: replace the connection's token before it expires."""

from __future__ import annotations

from typing import Any

from contracts.client import RefreshIn
from contracts.errors import ErrorCode, ServiceError
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session


async def auth_refresh(gw: Context, s: Session, data: Any) -> Ack:
    """`auth:refresh`: `{token}` → `{ok, exp}`.

    The new token must name the same user, tenant and role: rooms and namespace
    rights were decided from them at connect, so another role means reconnecting.
    """
    payload = RefreshIn.model_validate(data)
    verified = await gw.verify(payload.token)
    new, old = verified.identity, s.identity
    if (new.tenant, new.user_id) != (old.tenant, old.user_id):
        raise ServiceError(ErrorCode.FORBIDDEN, "the token is for another user or tenant")
    if new.role != old.role:
        raise ServiceError(
            ErrorCode.FORBIDDEN, "the token has another role; reconnect to change roles"
        )
    gw.schedule_expiry(s, verified.exp)
    return ok(exp=verified.exp)
