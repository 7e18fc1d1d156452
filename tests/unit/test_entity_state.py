"""The ordering rule of entity events (`services/rooms/domain/entity_state.py`), as tables."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.entities import (
    AnyEntityEvent,
    EntityCreated,
    EntityDeleted,
    EntityMemberAdded,
    EntityMemberRemoved,
    EntityUpdated,
)
from contracts.explicit_rooms import MemberRole, Visibility
from services.rooms.domain.entity_state import (
    ABSENT,
    NEVER,
    EntityState,
    MemberState,
    decide,
    touched_users,
    version_of,
)

E = {"tenant": "t", "type": "event", "id": "42"}


def created(at: int, name: str = "Party", **kw: Any) -> EntityCreated:
    return EntityCreated(**E, occurred_at=at, name=name, **kw)


def updated(at: int, **kw: Any) -> EntityUpdated:
    return EntityUpdated(**E, occurred_at=at, **kw)


def deleted(at: int) -> EntityDeleted:
    return EntityDeleted(**E, occurred_at=at)


def added(at: int, user: str = "ann", role: MemberRole = MemberRole.MEMBER) -> EntityMemberAdded:
    return EntityMemberAdded(**E, occurred_at=at, user_id=user, role=role)


def removed(at: int, user: str = "ann") -> EntityMemberRemoved:
    return EntityMemberRemoved(**E, occurred_at=at, user_id=user)


def run(events: list[AnyEntityEvent]) -> tuple[EntityState, dict[str, MemberState], list[Any]]:
    """Apply events in order, as the store would; returns registers, members, revocations."""
    state = EntityState()
    members: dict[str, MemberState] = {}
    revocations: list[Any] = []
    for event in events:
        current = {u: members.get(u, ABSENT) for u in touched_users(event)}
        decision = decide(state, current, event)
        state = decision.entity
        members.update(decision.members)
        if decision.revoke_all:
            revocations.append("all")
        revocations += list(decision.revoke_users)
    return state, members, revocations


def present(members: dict[str, MemberState]) -> dict[str, MemberRole | None]:
    return {u: m.role for u, m in members.items() if m.present}


VERSIONS = [
    # (event, version): occurredAt * 8 + rank
    (created(10), 80),
    (updated(10, name="x"), 81),
    (deleted(10), 82),
    (added(10), 80),
    (removed(10), 81),
]


@pytest.mark.parametrize(("event", "version"), VERSIONS)
def test_versions_order_by_time_then_rank(event: AnyEntityEvent, version: int) -> None:
    assert version_of(event) == version


ORDERS = [
    # (what happens, events in delivery order, status, name, members present)
    ("in order", [created(1), added(2), updated(3, name="B")], "active", "B", {"ann": "member"}),
    ("the same event twice", [created(1), added(2), added(2)], "active", "Party",
     {"ann": "member"}),
    ("removed overtakes added", [created(1), removed(3), added(2)], "active", "Party", {}),
    ("added after its removal", [created(1), added(2), removed(3), added(4)], "active", "Party",
     {"ann": "member"}),
    ("created after member_added", [added(2), created(1)], "active", "Party", {"ann": "member"}),
    ("updated after deleted", [created(1), deleted(3), updated(2, name="B")], "deleted", "B", {}),
    ("stale updated after a newer one", [created(1), updated(3, name="C"), updated(2, name="B")],
     "active", "C", {}),
    ("deleted before created", [deleted(2), created(1)], "deleted", "Party", {}),
    ("created again after deleted", [created(1), deleted(2), created(3)], "active", "Party", {}),
    ("creator is admin", [created(1, created_by="boss")], "active", "Party", {"boss": "admin"}),
    ("creator removed later", [removed(2, "boss"), created(1, created_by="boss")], "active",
     "Party", {}),
    ("tie: removed wins", [added(5), removed(5)], None, None, {}),
    ("tie: removed wins either way", [removed(5), added(5)], None, None, {}),
    ("tie: deleted wins", [deleted(5), created(5)], "deleted", "Party", {}),
    ("role from the newest add", [added(3, role=MemberRole.MODERATOR), added(2)], None, None,
     {"ann": "moderator"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("events", "status", "name", "members"),
    [o[1:] for o in ORDERS],
    ids=[o[0] for o in ORDERS],
)
def test_delivery_orders(
    events: list[AnyEntityEvent], status: str | None, name: str | None, members: dict[str, str]
) -> None:
    state, got, _ = run(events)
    assert (state.status, state.name) == (status, name)
    assert present(got) == members


def test_created_flag_and_room_attributes() -> None:
    state, _, _ = run([updated(5, visibility=Visibility.PUBLIC), created(1, created_by="boss")])
    assert state.created and state.created_by == "boss"
    assert state.visibility is Visibility.PUBLIC and state.visibility_version == 5 * 8 + 1
    assert run([updated(5, name="x")])[0].created is False


def test_updated_without_fields_changes_nothing() -> None:
    state, _, _ = run([created(1), updated(9)])
    assert state.name == "Party" and state.name_version == 8


REVOCATIONS = [
    ("removed", [created(1), added(2), removed(3)], ["ann"]),
    ("removed delivered twice: asked again", [created(1), added(2), removed(3), removed(3)],
     ["ann", "ann"]),
    ("stale removal never revokes", [created(1), added(4), removed(3)], []),
    ("older removal after a newer one", [removed(4), removed(3)], ["ann"]),
    ("deleted", [created(1), deleted(2)], ["all"]),
    ("deleted delivered twice: asked again", [created(1), deleted(2), deleted(2)], ["all", "all"]),
    ("deleted older than a re-creation", [created(1), created(3), deleted(2)], []),
    ("updated never revokes", [created(1), updated(2, name="x")], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("events", "revoked"), [r[1:] for r in REVOCATIONS], ids=[r[0] for r in REVOCATIONS]
)
def test_revocations(events: list[AnyEntityEvent], revoked: list[str]) -> None:
    assert run(events)[2] == revoked


def test_nothing_applied_leaves_registers_unwritten() -> None:
    decision = decide(EntityState(), {}, removed(3))
    assert decision.entity == EntityState() and decision.entity.status_version == NEVER
    assert decision.members == {"ann": MemberState(present=False, role=None, version=25)}


EVENTS = st.sampled_from(
    [
        created(1, created_by="boss"),
        created(4, name="Again"),
        updated(2, name="B"),
        updated(3, visibility=Visibility.PUBLIC),
        deleted(3),
        added(1),
        added(2, "bob"),
        removed(2),
        added(3, role=MemberRole.ADMIN),
        removed(1, "boss"),
        removed(4, "bob"),
    ]
)


@given(st.lists(EVENTS, min_size=1, max_size=12), st.randoms())
def test_any_order_and_repeats_converge(events: list[AnyEntityEvent], rnd: Any) -> None:
    shuffled = events + rnd.sample(events, len(events))
    rnd.shuffle(shuffled)
    a_state, a_members, _ = run(events)
    b_state, b_members, _ = run(shuffled)
    assert a_state == b_state
    assert present(a_members) == present(b_members)
