"""The role table of explicit rooms (services/rooms/domain/roles.py), every cell."""

from __future__ import annotations

import pytest

from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import MemberRole, RoomStatus, Visibility
from services.rooms.domain.roles import (
    Action,
    Actor,
    actor_of,
    check,
    check_create,
    grant,
    membership_action,
)

OUT, M, MOD, RA, TA, SA = (
    Actor.OUTSIDER,
    Actor.MEMBER,
    Actor.MODERATOR,
    Actor.ROOM_ADMIN,
    Actor.TENANT_ADMIN,
    Actor.SUPER_ADMIN,
)
ACTORS = (OUT, M, MOD, RA, TA, SA)
Y, F, N = "yes", ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND

# The spec's table, for an active room: one row per action, one column per actor.
ACTIVE_PRIVATE: dict[Action, tuple[object, ...]] = {
    #                     outsider member moderator room-admin tenant-admin super_admin
    Action.READ: (N, Y, Y, Y, Y, Y),
    Action.JOIN: (N, Y, Y, Y, Y, Y),
    Action.POST: (N, Y, Y, Y, Y, Y),
    Action.UPDATE: (N, F, Y, Y, Y, Y),
    Action.MANAGE_MEMBERS: (N, F, Y, Y, Y, Y),
    Action.MANAGE_ROLES: (N, F, F, Y, Y, Y),
    Action.ARCHIVE: (N, F, F, Y, Y, Y),
    Action.CREATE: (N, F, F, F, Y, Y),
}
# A public room is readable (and joinable) by any user of the tenant, writable by members.
ACTIVE_PUBLIC: dict[Action, tuple[object, ...]] = {
    Action.READ: (Y, Y, Y, Y, Y, Y),
    Action.JOIN: (Y, Y, Y, Y, Y, Y),
    Action.POST: (F, Y, Y, Y, Y, Y),
    Action.UPDATE: (F, F, Y, Y, Y, Y),
    Action.MANAGE_MEMBERS: (F, F, Y, Y, Y, Y),
    Action.MANAGE_ROLES: (F, F, F, Y, Y, Y),
    Action.ARCHIVE: (F, F, F, Y, Y, Y),
    Action.CREATE: (F, F, F, F, Y, Y),
}
# Archived: read-only; only those who may archive may unarchive or delete.
ARCHIVED_PUBLIC: dict[Action, tuple[object, ...]] = {
    Action.READ: (Y, Y, Y, Y, Y, Y),
    Action.JOIN: (F, F, F, F, F, F),
    Action.POST: (F, F, F, F, F, F),
    Action.UPDATE: (F, F, F, F, F, F),
    Action.MANAGE_MEMBERS: (F, F, F, F, F, F),
    Action.MANAGE_ROLES: (F, F, F, F, F, F),
    Action.ARCHIVE: (F, F, F, Y, Y, Y),
    Action.CREATE: (F, F, F, F, F, F),
}


def outcome(actor: Actor, action: Action, status: RoomStatus, visibility: Visibility) -> object:
    try:
        check(actor, action, status, visibility)
    except ServiceError as exc:
        return exc.code
    return Y


def cells(table: dict[Action, tuple[object, ...]]) -> list[tuple[Action, Actor, object]]:
    assert set(table) == set(Action)
    return [
        (a, actor, want)
        for a, row in table.items()
        for actor, want in zip(ACTORS, row, strict=True)
    ]


@pytest.mark.parametrize(("action", "actor", "want"), cells(ACTIVE_PRIVATE))
def test_active_private_room(action: Action, actor: Actor, want: object) -> None:
    assert outcome(actor, action, RoomStatus.ACTIVE, Visibility.PRIVATE) == want


@pytest.mark.parametrize(("action", "actor", "want"), cells(ACTIVE_PUBLIC))
def test_active_public_room(action: Action, actor: Actor, want: object) -> None:
    assert outcome(actor, action, RoomStatus.ACTIVE, Visibility.PUBLIC) == want


@pytest.mark.parametrize(("action", "actor", "want"), cells(ARCHIVED_PUBLIC))
def test_archived_room_is_read_only(action: Action, actor: Actor, want: object) -> None:
    assert outcome(actor, action, RoomStatus.ARCHIVED, Visibility.PUBLIC) == want


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("visibility", list(Visibility))
def test_deleted_room_does_not_exist(action: Action, actor: Actor, visibility: Visibility) -> None:
    assert outcome(actor, action, RoomStatus.DELETED, visibility) == N


@pytest.mark.parametrize(
    ("token_role", "member_role", "want"),
    [
        ("member", None, OUT),
        ("member", MemberRole.MEMBER, M),
        ("member", MemberRole.MODERATOR, MOD),
        ("member", MemberRole.ADMIN, RA),
        ("teacher", MemberRole.MODERATOR, MOD),
        ("admin", None, TA),
        ("admin", MemberRole.MEMBER, TA),
        ("super_admin", None, SA),
        ("super_admin", MemberRole.ADMIN, SA),
    ],
)
def test_actor_is_the_stronger_of_token_and_room_role(
    token_role: str, member_role: MemberRole | None, want: Actor
) -> None:
    assert actor_of(token_role, member_role) == want


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [(OUT, False), (M, False), (MOD, False), (RA, False), (TA, True), (SA, True)],
)
def test_only_tenant_admins_and_super_admins_create(actor: Actor, allowed: bool) -> None:
    if allowed:
        check_create(actor)
    else:
        with pytest.raises(ServiceError) as err:
            check_create(actor)
        assert err.value.code == ErrorCode.FORBIDDEN


def test_members_are_managed_by_moderators_other_roles_by_room_admins() -> None:
    assert membership_action(MemberRole.MEMBER) is Action.MANAGE_MEMBERS
    assert membership_action(MemberRole.MODERATOR) is Action.MANAGE_ROLES
    assert membership_action(MemberRole.ADMIN) is Action.MANAGE_ROLES


def test_grants_name_what_lets_the_caller_in() -> None:
    assert [grant(a) for a in ACTORS] == [
        "public",
        "member",
        "moderator",
        "admin",
        "tenant_admin",
        "super_admin",
    ]
