"""`notification:list`, `notification:read`, `notification:dismiss`, `notification:count`.

The persistence service owns notifications; these handlers attach the caller's verified
identity (a user only ever reads and marks their own inbox) and ask it. After a read or
a dismiss the persistence service sends the new count to every socket of the user.
"""

from __future__ import annotations

from typing import Any

from contracts import endpoints
from contracts.client import EmptyIn
from contracts.errors import ErrorCode, ServiceError
from contracts.inbox import (
    CountNotifications,
    ListFilter,
    ListNotifications,
    MarkAction,
    MarkNotifications,
    NotificationListIn,
    NotificationMarkIn,
)
from roomcast.platform import bus
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session

_STATUS = {MarkAction.READ: "read", MarkAction.DISMISS: "dismissed"}
"""Seed 002's `status` for each event (case-insensitive)."""


async def notification_list(gw: Context, s: Session, data: Any) -> Ack:
    """`{status?, limit?, before?}` → `{ok, notifications, unread}`, newest first."""
    payload = NotificationListIn.model_validate(data)
    query = ListNotifications(
        viewer=s.identity,
        status=ListFilter(payload.status) if payload.status else ListFilter.ACTIVE,
        before=payload.before,
        limit=payload.limit,
    )
    wait = gw.settings.request_timeout
    reply = (await bus.request(gw.nc, endpoints.NOTIFICATION_LIST, query, wait=wait)).checked()
    items = [
        n.model_dump(mode="json", by_alias=True, exclude_none=True) for n in reply.notifications
    ]
    return ok(notifications=items, unread=reply.unread)


async def notification_read(gw: Context, s: Session, data: Any) -> Ack:
    """`{id}`, `{ids}`, `{all: true}` or seed 002's shape → `{ok, unread}`."""
    return await _mark(gw, s, data, MarkAction.READ)


async def notification_dismiss(gw: Context, s: Session, data: Any) -> Ack:
    """`{id}` or `{ids}` → `{ok, unread}`."""
    return await _mark(gw, s, data, MarkAction.DISMISS)


async def notification_count(gw: Context, s: Session, data: Any) -> Ack:
    """`{}` → `{ok, unread}`."""
    EmptyIn.model_validate(data)
    query = CountNotifications(viewers=[s.identity])
    wait = gw.settings.request_timeout
    reply = (await bus.request(gw.nc, endpoints.NOTIFICATION_COUNTS, query, wait=wait)).checked()
    return ok(unread=reply.unread[0])


async def _mark(gw: Context, s: Session, data: Any, action: MarkAction) -> Ack:
    payload = NotificationMarkIn.model_validate(data)
    who = s.identity
    if payload.tenant_id is not None and payload.tenant_id != who.tenant:
        raise ServiceError(ErrorCode.FORBIDDEN, "tenantId is not your tenant")
    if payload.user_id is not None and payload.user_id != who.user_id:
        raise ServiceError(ErrorCode.FORBIDDEN, "userId is not you")
    if payload.status is not None and payload.status.lower() != _STATUS[action]:
        raise ServiceError(ErrorCode.INVALID, f"status: expected {_STATUS[action].upper()}")
    if payload.all and action is not MarkAction.READ:
        raise ServiceError(ErrorCode.INVALID, "all: only notification:read marks everything")
    command = MarkNotifications(
        viewer=who, action=action, ids=payload.selected(), all=bool(payload.all)
    )
    wait = gw.settings.request_timeout
    reply = (await bus.request(gw.nc, endpoints.NOTIFICATION_MARK, command, wait=wait)).checked()
    return ok(unread=reply.unread)
