"""Cached policy decisions: bounded by their TTL, dropped at once by a revocation.

A decision is kept per (room tenant, user tenant, user, kind, id, action) until the
TTL the policy gave (capped by the service's maximum), and the cache holds at most
`size` of them (least recently used go first). `drop` forgets every decision of a
room, or of one user in it, on a revocation.

A question still in flight when a revocation arrives could bring back an answer
given before it: `generation` changes with every drop, and the caller caches (and
uses) an answer only if the generation it saw before asking is still current.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What a decision allows."""

    JOIN = "join"
    POST = "post"


@dataclass(frozen=True, slots=True)
class Key:
    """Whose decision about which room."""

    tenant: str
    user_tenant: str
    user: str
    kind: str
    id: str
    action: Action

    @property
    def room(self) -> tuple[str, str, str]:
        return (self.tenant, self.kind, self.id)


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer: allowed or not, and the refusal's reason."""

    allow: bool
    reason: str | None = None


class DecisionCache:
    """Decisions of one rooms replica, each until its deadline (monotonic seconds)."""

    def __init__(self, size: int, max_ttl: float) -> None:
        self._size = size
        self._max_ttl = max_ttl
        self._items: OrderedDict[Key, tuple[Decision, float]] = OrderedDict()
        self._by_room: dict[tuple[str, str, str], set[Key]] = {}
        self.generation = 0
        """Changes with every `drop`: an answer asked for before it may be stale."""

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Key, now: float) -> Decision | None:
        """The cached decision, or None when there is none or it expired."""
        found = self._items.get(key)
        if found is None:
            return None
        decision, deadline = found
        if now >= deadline:
            self._forget(key)
            return None
        self._items.move_to_end(key)
        return decision

    def put(self, key: Key, decision: Decision, ttl: float | None, now: float) -> None:
        """Keep `decision` for `ttl` seconds (at most the maximum); no ttl, no caching."""
        ttl = min(ttl or 0.0, self._max_ttl)
        if ttl <= 0 or self._size <= 0:
            return
        self._items[key] = (decision, now + ttl)
        self._items.move_to_end(key)
        self._by_room.setdefault(key.room, set()).add(key)
        while len(self._items) > self._size:
            oldest = next(iter(self._items))
            self._forget(oldest)

    def drop(self, tenant: str, kind: str, room_id: str, user: str | None = None) -> int:
        """Forget the decisions of a room (of users of its tenant named `user`, or all);
        returns how many were dropped."""
        self.generation += 1
        keys = self._by_room.get((tenant, kind, room_id))
        if not keys:
            return 0
        doomed = [k for k in keys if user is None or (k.user == user and k.user_tenant == tenant)]
        for key in doomed:
            self._forget(key)
        return len(doomed)

    def _forget(self, key: Key) -> None:
        self._items.pop(key, None)
        keys = self._by_room.get(key.room)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_room[key.room]
