"""The rooms service's use cases: register members, route direct messages, settings."""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import ValidationError

from contracts import delivery, subjects
from contracts.access import authorize_dm, is_supervised
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.ids import message_id
from contracts.messages import ChatAck, ChatSend, LoggedMessage
from contracts.tenants import TenantSettings
from services.rooms.domain.caches import LruSet
from services.rooms.domain.routing import dm_targets
from services.rooms.ports import Directory, Log, Publish

log = logging.getLogger(__name__)


class RoomsService:
    """Authorizes and routes; caches members and settings, nothing else.

    Two member caches, both of positive answers only (a user never leaves the tenant
    directory, so a cached "yes" cannot go stale, and there is no cached "no" for a new
    membership to invalidate): `_known` holds users whose membership `is_member` found,
    whoever made them known (a connect, a room or an entity membership); `_registered`
    holds users this replica registered from a connect, so a reconnect skips the
    write. They are kept apart so that a user first known from a room membership still
    has their connect recorded (their token's role and name).
    """

    def __init__(
        self,
        directory: Directory,
        message_log: Log,
        publish: Publish,
        log_epoch: int,
        member_cache_size: int,
    ) -> None:
        self._directory = directory
        self._log = message_log
        self._publish = publish
        self._epoch = log_epoch
        self._known = LruSet(member_cache_size)
        self._registered = LruSet(member_cache_size)
        self._settings: dict[str, TenantSettings] = {}

    async def register(self, who: Identity) -> None:
        key = (who.tenant, who.user_id)
        if key in self._registered:
            return
        await self._directory.register(who)
        self._registered.add(key)
        self._known.add(key)

    async def is_member(self, tenant: str, user_id: str) -> bool:
        key = (tenant, user_id)
        if key in self._known:
            return True
        if await self._directory.is_member(tenant, user_id):
            self._known.add(key)
            return True
        return False

    async def tenant_settings(self, tenant: str) -> TenantSettings:
        cached = self._settings.get(tenant)
        if cached is None:
            cached = await self._directory.settings(tenant)
            self._settings[tenant] = cached
        return cached

    async def set_tenant_settings(self, tenant: str, values: dict[str, Any]) -> TenantSettings:
        try:
            merged = await self._directory.update_settings(tenant, values)
        except ValidationError as exc:
            raise ServiceError(ErrorCode.INVALID, str(exc.errors()[0]["msg"])) from None
        self._settings[tenant] = merged
        return merged

    def forget_settings(self, tenant: str) -> None:
        self._settings.pop(tenant, None)

    async def send_dm(self, cmd: ChatSend) -> ChatAck:
        """Log a direct message, then deliver it; the ack follows the log write."""
        authorize_dm(cmd.sender, cmd.tenant, via_manage=cmd.via_manage)
        if not await self.is_member(cmd.tenant, cmd.to):
            raise ServiceError(ErrorCode.FORBIDDEN, "the recipient is not a member of the tenant")
        settings = await self.tenant_settings(cmd.tenant)
        supervised = is_supervised(cmd.sender, supervise_dms=settings.supervise_dms)
        message = LoggedMessage(
            tenant=cmd.tenant,
            sender=cmd.sender,
            to=cmd.to,
            body=cmd.body,
            ts=int(time.time() * 1000),
            client_id=cmd.client_id,
            supervised=supervised,
        )
        dedup = None
        if cmd.client_id:
            dedup = f"dm|{cmd.sender.tenant}|{cmd.sender.user_id}|{cmd.client_id}"
        subject = subjects.log_dm(cmd.tenant, cmd.sender.user_id, cmd.to)
        appended = await self._log.append(subject, message, dedup)
        mid = message_id(self._epoch, appended.seq)
        if appended.duplicate:
            original = await self._log.read(appended.seq)
            return ChatAck(ok=True, id=mid, ts=original.ts)
        await self._deliver(cmd, message, mid, appended.seq, supervised)
        return ChatAck(ok=True, id=mid, ts=message.ts)

    async def _deliver(
        self, cmd: ChatSend, message: LoggedMessage, mid: str, seq: int, supervised: bool
    ) -> None:
        data = {
            "id": mid,
            "tenant": message.tenant,
            "from": cmd.sender.user_id,
            "to": cmd.to,
            "body": message.body,
            "ts": message.ts,
            "room": "",
            "seq": seq,
        }
        served: list[str] = []
        for target in dm_targets(cmd, supervised):
            data["room"] = target.room.name
            headers, body = delivery.encode(
                "chat:message", data, skip_sid=target.skip_sid, skip_subjects=served, seq=seq
            )
            await self._publish(target.room.subject, body, headers)
            served.append(target.room.subject)
