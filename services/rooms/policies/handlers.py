"""Thin handlers of the policy endpoints the rooms service serves, and the revocation
broadcast every replica listens to.

`POLICY_REVOKED` is a plain callback on the connection that serves `ROOM_AUTHORIZE`
(as `TENANT_SETTINGS_CHANGED` in `services/rooms/handlers.py`): a revocation that
reached this replica before a later question is applied before that question.
"""

from __future__ import annotations

import logging

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from contracts import endpoints as e
from contracts.policies import (
    Identify,
    IdentifyReply,
    KindsReply,
    ListKinds,
    RegisterKinds,
    Revoke,
    Revoked,
    RevokeReply,
)
from roomcast.platform.bus import Served, serve
from services.rooms.policies.access import RoomAccess
from services.rooms.policies.kinds import PolicyKinds

log = logging.getLogger(__name__)


class PolicyHandlers:
    """Serves `ROOM_IDENTIFY` and the kind registry's endpoints in the `rooms` group."""

    def __init__(self, access: RoomAccess, kinds: PolicyKinds) -> None:
        self._access = access
        self._kinds = kinds
        self._sub: Subscription | None = None

    async def start(self, nc: NATS, workers: int) -> list[Served]:
        """Listen for revocations first, then serve."""
        self._sub = await nc.subscribe(e.POLICY_REVOKED.subject, cb=self._on_revoked)
        return [
            await serve(nc, e.ROOM_IDENTIFY, self.identify, workers),
            await serve(nc, e.POLICY_REGISTER, self.register, 4),
            await serve(nc, e.POLICY_KINDS, self.list_kinds, 4),
            await serve(nc, e.POLICY_REVOKE, self.revoke, workers),
        ]

    async def stop(self) -> None:
        """Stop listening for revocations (the served endpoints stop with the others)."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def identify(self, cmd: Identify) -> IdentifyReply:
        return IdentifyReply(ok=True, room=await self._access.identify(cmd))

    async def register(self, cmd: RegisterKinds) -> KindsReply:
        return KindsReply(ok=True, kinds=await self._kinds.register(cmd))

    async def list_kinds(self, cmd: ListKinds) -> KindsReply:
        return KindsReply(ok=True, kinds=await self._kinds.list_kinds())

    async def revoke(self, cmd: Revoke) -> RevokeReply:
        return RevokeReply(ok=True, room=await self._kinds.revoke(cmd))

    async def _on_revoked(self, msg: Msg) -> None:
        try:
            event = Revoked.model_validate_json(msg.data)
        except ValidationError:
            log.warning("ignored a malformed policy revocation")
            return
        self._kinds.forget(event)


async def announce_on(nc: NATS, event: Revoked) -> None:
    """Publish a revocation to every rooms replica and wait until the server has it."""
    await nc.publish(e.POLICY_REVOKED.subject, event.model_dump_json(by_alias=True).encode())
    await nc.flush()
