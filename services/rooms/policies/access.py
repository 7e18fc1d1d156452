"""Who may join or post in a room, in one place: explicit room, else policy, else none.

The resolution order of `room:join {room}`, `room:send`, `chat:history {room}` and
recovery (everything that asks `ROOM_AUTHORIZE`):

1. an explicit room with that name in the tenant decides by its members and roles;
2. else the kind's policy, when a worker registered the kind: its `can_join` /
   `can_post` answer, cached for the TTL it gave (`domain/decisions.py`);
3. else `NOT_FOUND`.

Failures close: a policy that does not answer in time is `UNAVAILABLE`, a refusal
`FORBIDDEN` with the policy's reason, a policy that raised `FORBIDDEN` with its message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from contracts import explicit_rooms as x
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import MAX_ROOM_ID
from contracts.policies import (
    POLICY_GRANT,
    RESERVED_KINDS,
    AccessAnswer,
    AccessQuestion,
    IdentifierQuestion,
    Identify,
    KindSpec,
    KindView,
    PolicyUser,
)
from services.rooms.domain.decisions import Action, Decision, DecisionCache, Key
from services.rooms.explicit import ExplicitRooms
from services.rooms.policies.ports import KindRegistry, Policies

ASKS = 3
"""Times a decision is asked for while revocations keep arriving, before `UNAVAILABLE`."""

_ROOM_ID = re.compile(rf"^[^\s\x00-\x1f\x7f-\x9f]{{1,{MAX_ROOM_ID}}}$")


@dataclass(frozen=True, slots=True)
class Access:
    """Access granted to a room.

    Attributes:
        room: the room's canonical name.
        room_id: an explicit room's numeric id; None for a policy room.
        grant: what grants it (a member role, `tenant_admin`, `public`, `policy`, ...).
    """

    room: str
    room_id: int | None
    grant: str


def _no_kind(kind: str) -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, f"no room kind {kind[:32]!r}")


class _NoKinds:
    """A registry without kinds: explicit rooms alone decide."""

    async def register(self, kinds: list[KindSpec], worker: str) -> list[KindView]:
        raise ServiceError(ErrorCode.UNAVAILABLE, "room kinds are not served here")

    async def known(self, kind: str) -> bool:
        return False

    async def list_kinds(self) -> list[KindView]:
        return []


class _NoPolicies:
    async def identifier(self, question: IdentifierQuestion) -> str:
        raise _no_kind(question.kind)

    async def access(self, action: Action, question: AccessQuestion) -> AccessAnswer:
        raise _no_kind(question.kind)


class RoomAccess:
    """The rooms service's answer to "may this identity join / post in this room"."""

    @classmethod
    def explicit_only(cls, explicit: ExplicitRooms) -> RoomAccess:
        """Access decided by explicit rooms alone (no kind is ever known)."""
        return cls(explicit, _NoKinds(), _NoPolicies(), DecisionCache(0, 0.0))

    def __init__(
        self,
        explicit: ExplicitRooms,
        kinds: KindRegistry,
        policies: Policies,
        cache: DecisionCache,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._explicit = explicit
        self._kinds = kinds
        self._policies = policies
        self._cache = cache
        self._clock = clock
        self._known: set[str] = set()

    @property
    def cache(self) -> DecisionCache:
        return self._cache

    async def authorize(self, cmd: x.Authorize) -> Access:
        """Resolve `cmd.name` in the tenant and decide (see the module's order)."""
        room = await self._explicit.lookup(cmd)
        if room is not None:
            return Access(room.room, room.id, await self._explicit.decide(cmd, room))
        kind, _, rid = cmd.name.partition(":")
        if not await self.known(kind):
            raise ServiceError(ErrorCode.NOT_FOUND, "no such room")
        if not _ROOM_ID.match(rid):
            raise ServiceError(
                ErrorCode.INVALID,
                f"a room id is 1..{MAX_ROOM_ID} characters without whitespace or control",
            )
        action = Action.POST if cmd.post else Action.JOIN
        user = PolicyUser.of(cmd.identity, cmd.claims)
        decision = await self._decide(cmd.tenant, user, kind, rid, action)
        if not decision.allow:
            why = decision.reason or f"the {kind} policy refused"
            raise ServiceError(ErrorCode.FORBIDDEN, why)
        return Access(f"{kind}:{rid}", None, POLICY_GRANT)

    async def identify(self, cmd: Identify) -> str:
        """The room `{kind}:{id}` that `room:join {kind, data}` names."""
        x.check_tenant(cmd.identity, cmd.tenant, via_manage=cmd.via_manage)
        if not await self.known(cmd.kind):
            raise _no_kind(cmd.kind)
        question = IdentifierQuestion(
            kind=cmd.kind,
            tenant=cmd.tenant,
            user=PolicyUser.of(cmd.identity, cmd.claims),
            data=cmd.data,
        )
        rid = await self._policies.identifier(question)
        if not _ROOM_ID.match(rid):
            raise ServiceError(
                ErrorCode.INVALID, f"the {cmd.kind} policy derived an invalid room id"
            )
        return f"{cmd.kind}:{rid}"

    async def known(self, kind: str) -> bool:
        """True for a kind a worker registered (remembered once seen)."""
        if kind in RESERVED_KINDS:
            return False
        if kind in self._known:
            return True
        if await self._kinds.known(kind):
            self._known.add(kind)
            return True
        return False

    def remember(self, kinds: list[str]) -> None:
        """Kinds just registered through this replica."""
        self._known.update(kinds)

    async def _decide(
        self, tenant: str, who: PolicyUser, kind: str, rid: str, action: Action
    ) -> Decision:
        key = Key(tenant, who.tenant, who.id, kind, rid, action)
        cached = self._cache.get(key, self._clock())
        if cached is not None:
            return cached
        question = AccessQuestion(kind=kind, tenant=tenant, user=who, id=rid)
        for _ in range(ASKS):
            generation = self._cache.generation
            answer = await self._policies.access(action, question)
            if self._cache.generation != generation:
                continue  # a revocation arrived meanwhile: the answer may predate it
            decision = Decision(answer.allow, answer.reason)
            self._cache.put(key, decision, answer.ttl, self._clock())
            return decision
        raise ServiceError(
            ErrorCode.UNAVAILABLE, f"the {kind} policy's access kept changing; retry"
        )
