"""`POST /api/server/publish`: notifications and app events from services that do not
speak NATS, authenticated with a service API key (`service_keys`), not a user's JWT.

The body is `{notification: ...}` or `{event: ...}`: a notification or an app event
exactly as published over NATS (`contracts.notifications.Notify` / `AppEvent`, seed
002's `message`/`type` included). A key bound
to a tenant may only publish to that tenant; platform-wide targets need an any-tenant
key. The reply is the publishing endpoint's: `{ok, id, ts}` for a notification (stored
once, delivered live), `{ok, ts}` for an app event.
"""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import endpoints
from contracts.errors import ErrorCode, ServiceError
from contracts.notifications import AppEvent, Notify, NotifyReply, PublishReply
from services.gateway.commands import ask
from services.gateway.http.deps import GatewayDep
from services.gateway.service_keys import ServiceKey

router = APIRouter(prefix="/api/server", tags=["server"])


class PublishIn(BaseModel):
    """Exactly one of `notification` and `event`."""

    model_config = ConfigDict(extra="forbid")

    notification: Notify | None = Field(
        default=None, description="A notification: stored once, counted, delivered live."
    )
    event: AppEvent | None = Field(
        default=None, description="An app event: delivered to the target's sockets, not stored."
    )

    @model_validator(mode="after")
    def _one(self) -> PublishIn:
        if (self.notification is None) == (self.event is None):
            raise ValueError("give exactly one of `notification` and `event`")
        return self


@router.post(
    "/publish",
    summary="Publish a notification or an app event (service API key)",
    response_model=NotifyReply | PublishReply,
    response_model_exclude_none=True,
)
async def publish(request: Request, gw: GatewayDep, body: PublishIn) -> NotifyReply | PublishReply:
    """`Authorization: Bearer <service API key>`. A key bound to one tenant gets
    `FORBIDDEN` for any other tenant's target and for platform-wide ones."""
    key = cast(ServiceKey, request.scope["state"]["service_key"])
    publication = body.notification or body.event
    assert publication is not None
    if not key.may_publish_to(publication.target.tenant):
        where = publication.target.tenant or "every tenant (a platform-wide target)"
        raise ServiceError(ErrorCode.FORBIDDEN, f"key {key.name!r} may not publish to {where}")
    if body.notification is not None:
        return await ask(gw, endpoints.NOTIFY, body.notification)
    assert body.event is not None
    return await ask(gw, endpoints.PUBLISH, body.event)
