"""Room kinds answered by your own service: subclass `RoomKind`, run it with
`roomcast policy serve myapp.rooms:CourseRoom`.

    from roomcast.sdk import RoomKind, User

    class CourseRoom(RoomKind):
        kind = "course"

        async def identifier(self, user: User, data: dict) -> str:
            return str(data["courseId"])      # ValueError / KeyError → INVALID

        async def can_join(self, user: User, room_id: str) -> bool:
            return await enrolled(user.tenant, user.id, room_id)

The rooms service asks your policy when no explicit room of that name exists in the
tenant: `identifier` for `room:join {kind, data}`, `can_join` to subscribe (and read
history), `can_post` to post (by default as `can_join`). Return a bool, or an `Answer`
with a cache `ttl` and a refusal `reason`. An exception refuses with its message
(`FORBIDDEN`); no answer within the rooms service's bound is `UNAVAILABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from nats.aio.client import Client as NATS

from contracts import endpoints
from contracts.policies import PolicyUser, Revoke
from roomcast.platform import bus


@dataclass(frozen=True, slots=True)
class User:
    """Who asks, from the gateway's verified token.

    Attributes:
        id: user id, unique within the tenant.
        tenant: the user's tenant (a room is always in the asker's tenant, except for a
            `super_admin` acting from /manage).
        role: the role claim.
        name: display name, if any.
        claims: further claims of the token, when the gateway forwards them.
    """

    id: str
    tenant: str
    role: str
    name: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, user: PolicyUser) -> User:
        """The SDK's view of a `contracts.policies.PolicyUser`."""
        return cls(user.id, user.tenant, user.role, user.name, dict(user.claims))


@dataclass(frozen=True, slots=True)
class Answer:
    """A decision with more than yes or no.

    Attributes:
        allow: let the user in (or post).
        ttl: seconds the rooms service may reuse this answer for the same tenant, user,
            kind and id (capped by its `ROOMCAST_POLICY_MAX_TTL`); `revoke` ends it
            sooner. None or 0: ask every time. A refusal with a ttl stays a refusal
            until it expires (or a `revoke` of that user drops it).
        reason: why access is refused, shown to the user.
    """

    allow: bool
    ttl: float | None = None
    reason: str | None = None


Decision = bool | Answer
"""What `can_join` and `can_post` return."""


class RoomKind:
    """A kind of room (`course:42`) whose access your code decides.

    Set `kind`, write `can_join`; override `identifier` when clients join with
    `{kind, data}` and the id is not `data["id"]`, and `can_post` when posting needs
    more than joining. `ttl` is the cache TTL of plain bool answers.
    """

    kind: ClassVar[str]
    """The kind: 1..32 lowercase letters, digits, `_` and `-`, starting with a letter."""
    description: ClassVar[str | None] = None
    """What rooms of this kind are (shown by `roomcast policy list`)."""
    ttl: ClassVar[float | None] = None
    """Seconds a bool answer may be reused; None asks every time."""

    _nc: NATS | None = None

    async def identifier(self, user: User, data: dict[str, Any]) -> str:
        """The room id (`42` of `course:42`) that `room:join {kind, data}` means.

        Raises:
            ValueError: the data does not name a room (the client gets `INVALID`).
        """
        if "id" not in data:
            raise ValueError("data.id is required")
        return str(data["id"])

    async def can_join(self, user: User, room_id: str) -> Decision:
        """May `user` subscribe to (and read) room `room_id` of this kind? Default: no."""
        return False

    async def can_post(self, user: User, room_id: str) -> Decision:
        """May `user` post in room `room_id`? Default: as `can_join`."""
        return await self.can_join(user, room_id)

    async def revoke(self, tenant: str, room_id: str, user_id: str | None = None) -> None:
        """Withdraw access to a room of this kind (see `roomcast.sdk.revoke`); only while
        served by `roomcast policy serve`."""
        if self._nc is None:
            raise RuntimeError("revoke() needs a served kind; use roomcast.sdk.revoke(nc, ...)")
        await revoke(self._nc, tenant, self.kind, room_id, user_id)


async def revoke(
    nc: NATS, tenant: str, kind: str, room_id: str, user_id: str | None = None
) -> None:
    """Withdraw access to `{kind}:{room_id}` in `tenant`, of one user or of everyone.

    Every rooms replica forgets its cached decisions, and the user's sockets subscribed
    to the room get `room:left {reason: "revoked"}` on every gateway; a later join asks
    the policy again. Returns once both happened.

    Raises:
        contracts.errors.ServiceError: `NOT_FOUND` for a kind nobody registered,
            `UNAVAILABLE` when the rooms service did not answer.
    """
    ask = Revoke(tenant=tenant, kind=kind, id=room_id, user_id=user_id)
    (await bus.request(nc, endpoints.POLICY_REVOKE, ask)).checked()
