"""Thin handlers of the rooms service's endpoints: call the use case, build the reply.

Every endpoint is served by `roomcast.platform.bus.serve` on plain nats-py (parsing,
refusals and the bounded pool live there). The process also drops cached tenant
settings when a replica broadcasts a change. That subscription shares the connection
with `chat_send` and is a plain callback without awaits, so a change that reached this
replica before a later `chat_send` is applied before that send is handled: NATS
delivers both over one connection in order, and nats-py wakes the two subscriptions'
tasks in that order. `roomcast tenant set` replies only after the broadcast left (a
flush), so every send issued after it sees the new value.
"""

from __future__ import annotations

import logging

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from contracts import endpoints
from contracts.tenants import (
    GetTenantSettings,
    OkReply,
    RegisterMember,
    SetTenantSettings,
    TenantSettingsChanged,
    TenantSettingsReply,
)
from roomcast.platform.bus import Served, serve
from services.rooms.explicit_handlers import ExplicitRoomHandlers
from services.rooms.service import RoomsService

log = logging.getLogger(__name__)


class RoomsHandlers:
    """Serves every rooms endpoint in the `rooms` queue group (explicit rooms too)."""

    def __init__(
        self,
        nc: NATS,
        service: RoomsService,
        workers: int,
        explicit: ExplicitRoomHandlers | None = None,
    ) -> None:
        self._nc = nc
        self._service = service
        self._explicit = explicit
        self._workers = workers
        self._served: list[Served] = []
        self._settings_sub: Subscription | None = None

    async def start(self) -> None:
        """Subscribe to settings changes first, then serve every endpoint."""
        self._settings_sub = await self._nc.subscribe(
            endpoints.TENANT_SETTINGS_CHANGED.subject, cb=self._on_settings_changed
        )
        service, nc, workers = self._service, self._nc, self._workers
        self._served = [
            await serve(nc, endpoints.CHAT_SEND, service.send_dm, workers),
            await serve(nc, endpoints.DIRECTORY_REGISTER, self.directory_register, workers),
            await serve(nc, endpoints.TENANT_SETTINGS_SET, self.tenant_settings_set, 4),
            await serve(nc, endpoints.TENANT_SETTINGS_GET, self.tenant_settings_get, 4),
        ]
        if self._explicit is not None:
            self._served += await self._explicit.start(nc, workers)

    async def stop(self) -> None:
        """Stop taking commands and let those in flight finish."""
        for served in self._served:
            await served.stop()
        if self._settings_sub is not None:
            await self._settings_sub.unsubscribe()

    async def directory_register(self, cmd: RegisterMember) -> OkReply:
        """Record a connected user as a member of their tenant."""
        await self._service.register(cmd.identity)
        return OkReply(ok=True)

    async def tenant_settings_set(self, cmd: SetTenantSettings) -> TenantSettingsReply:
        """Change a tenant's settings; every replica drops its cached copy before the reply."""
        merged = await self._service.set_tenant_settings(cmd.tenant, cmd.values)
        changed = TenantSettingsChanged(tenant=cmd.tenant).model_dump_json().encode()
        await self._nc.publish(endpoints.TENANT_SETTINGS_CHANGED.subject, changed)
        await self._nc.flush()
        return TenantSettingsReply(ok=True, tenant=cmd.tenant, settings=merged)

    async def tenant_settings_get(self, cmd: GetTenantSettings) -> TenantSettingsReply:
        """Read a tenant's settings."""
        settings = await self._service.tenant_settings(cmd.tenant)
        return TenantSettingsReply(ok=True, tenant=cmd.tenant, settings=settings)

    async def _on_settings_changed(self, msg: Msg) -> None:
        try:
            tenant = TenantSettingsChanged.model_validate_json(msg.data).tenant
        except ValidationError:
            log.warning("ignored a malformed settings_changed event")
            return
        self._service.forget_settings(tenant)
