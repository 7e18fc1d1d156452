"""Access to auto rooms and direct messages (contracts/access.py), as tables."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.access import (
    LOGGED_KINDS,
    authorize_dm,
    authorize_read,
    auto_rooms,
    dm_reaches,
    dm_rooms,
    is_supervised,
    readable_room,
    recoverable_room,
)
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.rooms import Room, RoomKind

TENANT, MANAGE = "/tenant", "/manage"
ROLES = ("member", "admin", "super_admin")
USER, ALL, ROLE_IN, ADMINS, ROLE, GLOBAL = (
    RoomKind.USER,
    RoomKind.TENANT,
    RoomKind.TENANT_ROLE,
    RoomKind.TENANT_ADMINS,
    RoomKind.ROLE,
    RoomKind.MANAGE,
)


def who(role: str, tenant: str = "acme", user_id: str = "ann") -> Identity:
    return Identity(tenant=tenant, user_id=user_id, role=role)


def room_of(kind: RoomKind, me: Identity, tenant: str | None = None) -> Room:
    """The room of `kind` that concerns `me`, in `tenant` (default: `me`'s)."""
    t = tenant or me.tenant
    return {
        USER: Room.user(t, me.user_id),
        ALL: Room.tenant(t),
        ROLE_IN: Room.tenant_role(t, me.role),
        ADMINS: Room.tenant_admins(t),
        ROLE: Room.role(me.role),
        GLOBAL: Room.manage(),
        RoomKind.EXPLICIT: Room.explicit(t, "room:lobby"),
    }[kind]


def allowed(check: Callable[[], None]) -> bool:
    """True when calling `check()` raises nothing, False on FORBIDDEN."""
    try:
        check()
    except ServiceError as exc:
        if exc.code is not ErrorCode.FORBIDDEN:
            raise
        return False
    return True


# role x namespace x room kind (own tenant): joined on connect, recoverable by that
# socket (the gateway offers the socket's rooms, persistence keeps the logged ones),
# history readable.
J, R, H = "joined", "recoverable", "readable"
TABLE: list[tuple[str, str, RoomKind, set[str]]] = [
    ("member", TENANT, USER, {J, R, H}),
    ("member", TENANT, ALL, {J}),
    ("member", TENANT, ROLE_IN, {J}),
    ("member", TENANT, ADMINS, set()),
    ("member", TENANT, ROLE, {J}),
    ("member", TENANT, GLOBAL, set()),
    ("member", MANAGE, USER, {J, R, H}),
    ("member", MANAGE, ALL, set()),
    ("member", MANAGE, ROLE_IN, set()),
    ("member", MANAGE, ADMINS, set()),
    ("member", MANAGE, ROLE, set()),
    ("member", MANAGE, GLOBAL, {J}),
    ("admin", TENANT, USER, {J, R, H}),
    ("admin", TENANT, ALL, {J}),
    ("admin", TENANT, ROLE_IN, {J}),
    ("admin", TENANT, ADMINS, {J, R, H}),
    ("admin", TENANT, ROLE, {J}),
    ("admin", TENANT, GLOBAL, set()),
    ("admin", MANAGE, USER, {J, R, H}),
    ("admin", MANAGE, ALL, set()),
    ("admin", MANAGE, ROLE_IN, set()),
    ("admin", MANAGE, ADMINS, {H}),
    ("admin", MANAGE, ROLE, set()),
    ("admin", MANAGE, GLOBAL, {J}),
    ("super_admin", TENANT, USER, {J, R, H}),
    ("super_admin", TENANT, ALL, {J}),
    ("super_admin", TENANT, ROLE_IN, {J}),
    ("super_admin", TENANT, ADMINS, {H}),
    ("super_admin", TENANT, ROLE, {J}),
    ("super_admin", TENANT, GLOBAL, set()),
    ("super_admin", MANAGE, USER, {J, R, H}),
    ("super_admin", MANAGE, ALL, set()),
    ("super_admin", MANAGE, ROLE_IN, set()),
    ("super_admin", MANAGE, ADMINS, {H}),
    ("super_admin", MANAGE, ROLE, set()),
    ("super_admin", MANAGE, GLOBAL, {J}),
]


def test_the_table_covers_every_role_namespace_and_kind() -> None:
    rows = {(role, ns, kind) for role, ns, kind, _ in TABLE}
    # explicit rooms are decided by the rooms service, not by contracts/access.py
    auto = [k for k in RoomKind if k is not RoomKind.EXPLICIT]
    assert rows == {(r, n, k) for r in ROLES for n in (TENANT, MANAGE) for k in auto}
    assert len(TABLE) == len(rows)


@pytest.mark.parametrize(("role", "namespace", "kind", "rights"), TABLE)
def test_own_tenant(role: str, namespace: str, kind: RoomKind, rights: set[str]) -> None:
    me = who(role)
    room = room_of(kind, me)
    joined = room in auto_rooms(me, namespace)
    assert joined is (J in rights)
    assert (joined and recoverable_room(me, room.name) == room) is (R in rights)
    assert (readable_room(me, me.tenant, room.name) == room) is (H in rights)


@pytest.mark.parametrize("role", ROLES)
def test_slash_is_the_tenant_namespace(role: str) -> None:
    assert auto_rooms(who(role), "/") == auto_rooms(who(role), TENANT)


def test_auto_rooms_in_join_order() -> None:
    assert [r.name for r in auto_rooms(who("admin"), TENANT)] == [
        "user:ann",
        "tenant:acme",
        "tenant:acme:role:admin",
        "role:admin",
        "tenant:acme:admins",
    ]
    assert [r.name for r in auto_rooms(who("super_admin"), MANAGE)] == [
        "manage:global",
        "user:ann",
    ]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", [USER, ALL, ROLE_IN, ADMINS])
def test_no_room_of_another_tenant_is_joined_or_recovered(role: str, kind: RoomKind) -> None:
    me = who(role)
    theirs = room_of(kind, me, tenant="globex")
    for namespace in (TENANT, MANAGE):
        assert theirs not in auto_rooms(me, namespace)
    recovered = recoverable_room(me, theirs.name)
    assert recovered is None or recovered.subject != theirs.subject


# role x another tenant: reading its history, its user room, its admins room.
CROSS_TENANT: list[tuple[str, bool, bool, bool]] = [
    ("member", False, False, False),
    ("admin", False, False, False),
    ("super_admin", True, False, True),
]


@pytest.mark.parametrize(("role", "tenant_ok", "user_room_ok", "admins_ok"), CROSS_TENANT)
def test_other_tenant_history(
    role: str, tenant_ok: bool, user_room_ok: bool, admins_ok: bool
) -> None:
    me = who(role)
    assert allowed(lambda: authorize_read(me, "globex")) is tenant_ok
    assert allowed(lambda: authorize_read(me, "acme")) is True
    assert (readable_room(me, "globex", "user:ann") is not None) is user_room_ok
    admins = readable_room(me, "globex", "tenant:globex:admins")
    assert (admins == Room.tenant_admins("globex")) is admins_ok
    assert readable_room(me, "globex", "tenant:acme:admins") is None


def test_a_super_admin_on_manage_reads_the_tenant_it_names() -> None:
    root = who("super_admin", tenant="ops", user_id="root")
    authorize_read(root, "acme")
    assert readable_room(root, "acme", "tenant:acme:admins") == Room.tenant_admins("acme")
    assert readable_room(root, "acme", "user:root") is None
    assert readable_room(root, "ops", "user:root") == Room.user("ops", "root")


# role x namespace x the tenant named: may send a direct message.
SEND: list[tuple[str, str, str, bool]] = [
    ("member", TENANT, "acme", True),
    ("member", TENANT, "globex", False),
    ("member", MANAGE, "acme", False),
    ("member", MANAGE, "globex", False),
    ("admin", TENANT, "acme", True),
    ("admin", TENANT, "globex", False),
    ("admin", MANAGE, "acme", False),
    ("admin", MANAGE, "globex", False),
    ("super_admin", TENANT, "acme", True),
    ("super_admin", TENANT, "globex", False),
    ("super_admin", MANAGE, "acme", True),
    ("super_admin", MANAGE, "globex", True),
]


@pytest.mark.parametrize(("role", "namespace", "tenant", "ok"), SEND)
def test_who_may_send(role: str, namespace: str, tenant: str, ok: bool) -> None:
    me = who(role)
    assert allowed(lambda: authorize_dm(me, tenant, via_manage=namespace == MANAGE)) is ok


@pytest.mark.parametrize(
    ("role", "setting", "expected"),
    [
        ("member", True, True),
        ("member", False, False),
        ("admin", True, False),
        ("admin", False, False),
        ("super_admin", True, False),
        ("super_admin", False, False),
    ],
)
def test_supervision(role: str, setting: bool, expected: bool) -> None:
    assert is_supervised(who(role), supervise_dms=setting) is expected


def test_a_direct_message_reaches_recipient_sender_then_admins() -> None:
    rooms = dm_rooms(who("member"), "acme", "bob", supervised=True)
    assert rooms.in_order() == [
        Room.user("acme", "bob"),
        Room.user("acme", "ann"),
        Room.tenant_admins("acme"),
    ]
    assert dm_rooms(who("member"), "acme", "bob", supervised=False).admins is None


def test_a_super_admins_message_reaches_its_own_tenant_room_and_the_named_tenant() -> None:
    root = who("super_admin", tenant="ops", user_id="root")
    rooms = dm_rooms(root, "acme", "bob", supervised=False)
    assert rooms.in_order() == [Room.user("acme", "bob"), Room.user("ops", "root")]


@pytest.mark.parametrize("supervised", [True, False])
def test_every_room_a_message_reaches_is_joined_and_recoverable_by_its_members(
    supervised: bool,
) -> None:
    ann, bob, boss = who("member"), who("member", user_id="bob"), who("admin", user_id="boss")
    rooms = dm_rooms(ann, "acme", "bob", supervised=supervised).in_order()
    assert all(room.kind in LOGGED_KINDS for room in rooms)
    for member in (ann, bob, boss):
        for room in set(rooms) & set(auto_rooms(member, TENANT)):
            assert recoverable_room(member, room.name) == room
    assert (Room.tenant_admins("acme") in auto_rooms(boss, TENANT)) is True
    assert (Room.tenant_admins("acme") in rooms) is supervised


@pytest.mark.parametrize("supervised", [True, False])
@pytest.mark.parametrize(
    ("sender", "tenant", "to"),
    [
        (who("member"), "acme", "bob"),
        (who("member"), "acme", "ann"),
        (who("admin", user_id="bob"), "acme", "ann"),
        (who("super_admin", tenant="ops", user_id="ann"), "acme", "ann"),
        (who("super_admin", tenant="ops", user_id="root"), "globex", "bob"),
    ],
)
def test_dm_reaches_is_membership_of_dm_rooms(
    sender: Identity, tenant: str, to: str, supervised: bool
) -> None:
    reached = dm_rooms(sender, tenant, to, supervised=supervised).in_order()
    candidates = [
        room_of(kind, who(role, tenant=t, user_id=u), tenant=t)
        for kind in RoomKind
        for role in ROLES
        for t in ("acme", "globex", "ops")
        for u in ("ann", "bob", "root")
    ]
    for room in candidates:
        assert dm_reaches(room, sender, tenant, to, supervised=supervised) is (room in reached)
