"""Registering kinds, listing them, and revoking access to a policy room."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from contracts.errors import ErrorCode, ServiceError
from contracts.messages import LeftReason
from contracts.policies import KindView, RegisterKinds, Revoke, Revoked
from services.rooms.policies.access import RoomAccess
from services.rooms.policies.ports import KindRegistry
from services.rooms.ports import Revocations

Announce = Callable[[Revoked], Awaitable[None]]
"""Tells every rooms replica (this one included) of a revocation, and returns once the
NATS server has it."""


class PolicyKinds:
    """The kind registry's commands and `revoke`."""

    def __init__(
        self,
        access: RoomAccess,
        kinds: KindRegistry,
        revocations: Revocations,
        announce: Announce,
    ) -> None:
        self._access = access
        self._kinds = kinds
        self._revocations = revocations
        self._announce = announce

    async def register(self, cmd: RegisterKinds) -> list[KindView]:
        """Remember the kinds a worker serves (idempotent)."""
        stored = await self._kinds.register(cmd.kinds, cmd.worker)
        self._access.remember([k.kind for k in stored])
        return stored

    async def list_kinds(self) -> list[KindView]:
        """Every registered kind."""
        return await self._kinds.list_kinds()

    async def revoke(self, cmd: Revoke) -> str:
        """Drop cached decisions on every replica, then take the sockets out of the room.

        The order matters: once sockets got `room:left`, a join that follows must ask
        the policy again, so every replica forgets first.
        """
        if not await self._access.known(cmd.kind):
            raise ServiceError(ErrorCode.NOT_FOUND, f"no room kind {cmd.kind!r}")
        self.forget(cmd)
        await self._announce(Revoked.model_validate(cmd.model_dump()))
        room = f"{cmd.kind}:{cmd.id}"
        users = [(cmd.tenant, cmd.user_id)] if cmd.user_id else []
        await self._revocations.room_left(cmd.tenant, room, LeftReason.REVOKED, users)
        return room

    def forget(self, event: Revoke) -> None:
        """Drop this replica's cached decisions of the revoked room (and user)."""
        self._access.cache.drop(event.tenant, event.kind, event.id, event.user_id)
