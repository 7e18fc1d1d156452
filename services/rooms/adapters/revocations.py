"""`room:left` for every gateway, published on the room's own delivery subject."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from contracts import delivery
from contracts.messages import LeftReason, RoomLeft
from contracts.rooms import Room


class NatsRevocations:
    """Publishes a revoking delivery on the room's subject, then flushes.

    Only gateways hosting a socket in the room receive it (interest-based delivery),
    after every message published to the room before it; the flush makes the NATS
    server hold it before the command that caused it returns.
    """

    def __init__(self, nc: NATS) -> None:
        self._nc = nc

    async def room_left(
        self,
        tenant: str,
        room: str,
        reason: LeftReason,
        users: list[tuple[str, str]],
        keep: list[tuple[str, str]] | None = None,
    ) -> None:
        """Revoke `users` (or every socket but `keep`'s, for an empty list) in `room`."""
        payload = RoomLeft(room=room, reason=reason).model_dump(mode="json")
        headers, body = delivery.encode("room:left", payload, revoke=users, keep=keep or ())
        await self._nc.publish(Room.explicit(tenant, room).subject, body, headers=headers)
        await self._nc.flush()
