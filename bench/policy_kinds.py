"""Room kinds for `bench.policy_join`: everyone is let in, with or without a cache TTL."""

from __future__ import annotations

from roomcast.sdk import Answer, RoomKind, User


class Cold(RoomKind):
    """Never cached: every join asks the policy."""

    kind = "benchcold"

    async def can_join(self, user: User, room_id: str) -> bool:
        return True


class Warm(RoomKind):
    """Cached for 5 minutes: a repeated join is answered by the rooms service alone."""

    kind = "benchwarm"

    async def can_join(self, user: User, room_id: str) -> Answer:
        return Answer(True, ttl=300)
