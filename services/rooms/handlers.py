"""Thin FastStream subscribers: parse the contract, call the service, reply."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream.nats import NatsBroker
from pydantic import BaseModel, ValidationError

from contracts import subjects
from contracts.errors import ErrorBody, ErrorCode, ServiceError
from contracts.tenants import (
    GetTenantSettings,
    OkReply,
    RegisterMember,
    SetTenantSettings,
    TenantSettingsChanged,
    TenantSettingsReply,
)
from services.rooms.service import RoomsService

log = logging.getLogger(__name__)

C = TypeVar("C", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


async def answer(
    raw: Any,
    command: type[C],
    reply: type[R],
    run: Callable[[C], Awaitable[R]],
) -> R:
    """Parse `raw` as `command`, run it, and turn failures into an error reply.

    The broker runs without dependency injection (`apply_types=False`: FastDepends
    resolves context fields in a thread pool, which costs more than the handler), so
    `raw` is the decoded body: a dict for JSON, else bytes.
    """
    try:
        if isinstance(raw, (bytes, str)):
            parsed = command.model_validate_json(raw)
        else:
            parsed = command.model_validate(raw)
    except ValidationError as exc:
        return reply.model_validate({"ok": False, "error": _error(ErrorCode.INVALID, str(exc))})
    try:
        return await run(parsed)
    except ServiceError as exc:
        return reply.model_validate({"ok": False, "error": exc.body()})
    except Exception:
        log.exception("%s failed", command.__name__)
        return reply.model_validate(
            {"ok": False, "error": _error(ErrorCode.INTERNAL, "internal error")}
        )


def _error(code: ErrorCode, message: str) -> ErrorBody:
    return ErrorBody(code=code, message=message[:500])


def register_handlers(broker: NatsBroker, service: RoomsService, workers: int) -> None:
    """Attach every rooms subscriber to `broker`."""

    @broker.subscriber(
        subjects.directory_register(), queue=subjects.ROOMS_QUEUE, max_workers=workers
    )
    async def directory_register(body: Any) -> OkReply:
        """Record a connected user as a member of their tenant."""

        async def run(cmd: RegisterMember) -> OkReply:
            await service.register(cmd.identity)
            return OkReply(ok=True)

        return await answer(body, RegisterMember, OkReply, run)

    @broker.subscriber(subjects.tenant_settings_set(), queue=subjects.ROOMS_QUEUE)
    async def tenant_settings_set(body: Any) -> TenantSettingsReply:
        """Change a tenant's settings; every replica drops its cached copy."""

        async def run(cmd: SetTenantSettings) -> TenantSettingsReply:
            merged = await service.set_tenant_settings(cmd.tenant, cmd.values)
            changed = TenantSettingsChanged(tenant=cmd.tenant).model_dump_json().encode()
            await broker.connection.publish(subjects.tenant_settings_changed(), changed)
            await broker.connection.flush()
            return TenantSettingsReply(ok=True, tenant=cmd.tenant, settings=merged)

        return await answer(body, SetTenantSettings, TenantSettingsReply, run)

    @broker.subscriber(subjects.tenant_settings_get(), queue=subjects.ROOMS_QUEUE)
    async def tenant_settings_get(body: Any) -> TenantSettingsReply:
        """Read a tenant's settings."""

        async def run(cmd: GetTenantSettings) -> TenantSettingsReply:
            settings = await service.tenant_settings(cmd.tenant)
            return TenantSettingsReply(ok=True, tenant=cmd.tenant, settings=settings)

        return await answer(body, GetTenantSettings, TenantSettingsReply, run)
