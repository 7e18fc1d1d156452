"""The ordering rule of entity lifecycle events: which event wins, as pure functions.

What the rooms service keeps of an entity is a handful of *registers*, each holding a
value and the version of the event that wrote it:

| register | written by | value |
|---|---|---|
| status | `created` (active), `deleted` (deleted) | the room is active / archived |
| name | `created`, `updated` with a name | the room's display name |
| visibility | `created`, `updated` with a visibility | public / private |
| a membership | `member_added`, `member_removed`, `created` (`createdBy`) | role or tombstone |

plus one flag, `created`: a `created` event was seen, so the entity's room exists.

An event writes a register only if its version is greater than the register's: a
repeated event (same version) and an older one change nothing, so any order of
delivery ends in the state of the newest events. The version is `occurredAt * 8 +
rank`, the rank breaking ties at an equal `occurredAt`: `deleted` over `updated` over
`created`, `member_removed` over `member_added`. Tombstones are kept, so a
`member_removed` that overtakes its `member_added` still wins when the add arrives.

A revocation (`room:left`) is asked for when the event is the winner of its register
and leaves it in the revoking state (deleted, or membership absent), also when it is
delivered again: a crash between applying an event and sending its `room:left` is
repaired by the redelivery, while an older event never revokes what a newer one set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from contracts.entities import (
    AnyEntityEvent,
    EntityCreated,
    EntityDeleted,
    EntityEventKind,
    EntityMemberAdded,
    EntityMemberRemoved,
    EntityUpdated,
)
from contracts.explicit_rooms import MemberRole, Visibility

NEVER = -1
"""Version of a register no event wrote yet."""

RANK: dict[EntityEventKind, int] = {
    EntityEventKind.CREATED: 0,
    EntityEventKind.UPDATED: 1,
    EntityEventKind.DELETED: 2,
    EntityEventKind.MEMBER_ADDED: 0,
    EntityEventKind.MEMBER_REMOVED: 1,
}
"""Tie-breaks at an equal `occurredAt`: the higher rank wins."""


class EntityStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


def version_of(event: AnyEntityEvent) -> int:
    """The event's version: `occurredAt * 8 + rank` (fits 64 bits, `MAX_OCCURRED_AT`)."""
    return event.occurred_at * 8 + RANK[EntityEventKind(event.event)]


@dataclass(frozen=True, slots=True)
class MemberState:
    """One user's membership of an entity: present with a role, or a tombstone."""

    present: bool
    role: MemberRole | None
    version: int


ABSENT = MemberState(present=False, role=None, version=NEVER)
"""A membership no event mentioned yet."""


@dataclass(frozen=True, slots=True)
class EntityState:
    """The registers of one entity (see the module docstring)."""

    created: bool = False
    created_by: str | None = None
    status: EntityStatus | None = None
    status_version: int = NEVER
    name: str | None = None
    name_version: int = NEVER
    visibility: Visibility | None = None
    visibility_version: int = NEVER


@dataclass(frozen=True, slots=True)
class Decision:
    """What one event does: the new registers and the revocations to send."""

    entity: EntityState
    members: dict[str, MemberState] = field(default_factory=dict)
    """New states of the memberships this event changed (by user id)."""
    revoke_all: bool = False
    """Every socket leaves the room (`room:left` archived)."""
    revoke_users: tuple[str, ...] = ()
    """These users' sockets leave the room (`room:left` removed)."""
    made_private: bool = False
    """The room went from public to private: every socket but its members' leaves it."""


def touched_users(event: AnyEntityEvent) -> list[str]:
    """Users whose membership the event may write (their current state is needed)."""
    if isinstance(event, EntityMemberAdded | EntityMemberRemoved):
        return [event.user_id]
    if isinstance(event, EntityCreated) and event.created_by is not None:
        return [event.created_by]
    return []


def decide(
    state: EntityState, members: Mapping[str, MemberState], event: AnyEntityEvent
) -> Decision:
    """Apply `event` to an entity's registers.

    Args:
        state: the entity's registers before the event.
        members: the current membership of each user in `touched_users(event)`
            (missing users are `ABSENT`).
        event: the event.

    Returns:
        The registers after it, the memberships it changed, and what to revoke.
    """
    v = version_of(event)
    if isinstance(event, EntityCreated):
        entity = _attributes(state, v, event.name, event.visibility)
        entity = replace(entity, created=True, created_by=state.created_by or event.created_by)
        if v > state.status_version:
            entity = replace(entity, status=EntityStatus.ACTIVE, status_version=v)
        changed = {}
        if event.created_by is not None:
            changed = _member(members, event.created_by, v, MemberRole.ADMIN)
        return Decision(entity, changed, made_private=_made_private(state, entity))
    if isinstance(event, EntityUpdated):
        entity = _attributes(state, v, event.name, event.visibility)
        return Decision(entity, made_private=_made_private(state, entity))
    if isinstance(event, EntityDeleted):
        entity = state
        if v > state.status_version:
            entity = replace(state, status=EntityStatus.DELETED, status_version=v)
        winner = entity.status_version == v and entity.status is EntityStatus.DELETED
        return Decision(entity, revoke_all=winner)
    if isinstance(event, EntityMemberAdded):
        return Decision(state, _member(members, event.user_id, v, event.role))
    changed = _member(members, event.user_id, v, None)
    final = changed.get(event.user_id, members.get(event.user_id, ABSENT))
    winner = final.version == v and not final.present
    return Decision(state, changed, revoke_users=(event.user_id,) if winner else ())


def _made_private(before: EntityState, after: EntityState) -> bool:
    """The visibility register went from public to private (unset counts as private)."""
    return before.visibility is Visibility.PUBLIC and after.visibility is Visibility.PRIVATE


def _attributes(
    state: EntityState, v: int, name: str | None, visibility: Visibility | None
) -> EntityState:
    if name is not None and v > state.name_version:
        state = replace(state, name=name, name_version=v)
    if visibility is not None and v > state.visibility_version:
        state = replace(state, visibility=visibility, visibility_version=v)
    return state


def _member(
    members: Mapping[str, MemberState], user: str, v: int, role: MemberRole | None
) -> dict[str, MemberState]:
    """Write one membership register: present with `role`, or absent for None."""
    if v <= members.get(user, ABSENT).version:
        return {}
    return {user: MemberState(present=role is not None, role=role, version=v)}
