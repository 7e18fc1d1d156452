"""Who sees a stored notification: pure functions of targets and identities.

A notification is stored once, under the `(tenant, audience)` key of its target. A
user sees the notifications stored under any of their own keys, so a user's inbox is
the union of at most five key ranges, each an index range scan:

| target | stored under | seen by |
|---|---|---|
| user U of tenant T | `(T, "user:U")` | U |
| tenant T | `(T, "tenant")` | every user of T (also those who connect later) |
| role R in tenant T | `(T, "role:R")` | users of T whose role is R |
| admins of tenant T | `(T, "admins")` | users of T whose role is `admin` |
| platform role R | `("", "platform:R")` | users of role R in every tenant |
| explicit room with id N of tenant T | `(T, "room:N")` | users of T who may read the room |

The same rule picks the delivery subject of `notification:new`: it is the automatic
room the gateway put exactly those sockets in (`contracts.access.auto_rooms`). A user's
role is the one in their token now, so a user whose role changed sees the notifications
of their new role, as their sockets join their new role's room.

A room's notifications are keyed by the room's numeric id, which no rename or entity
link changes; who may read a room is the rooms service's answer (members, anyone of the
tenant for a public room, tenant admins). They are delivered live to the sockets that
joined the room, all of whom may read it.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import subjects
from contracts.identity import ADMIN, Identity
from contracts.notifications import Target, TargetKind

PLATFORM = ""
"""The `tenant_id` of platform-wide notifications: no tenant id is empty."""

Key = tuple[str, str]

ROOM_AUDIENCE = "room:"
"""Audiences of room notifications start with this (`room_key`)."""


def stored_under(target: Target) -> Key:
    """The `(tenant_id, audience)` a notification to `target` is stored under (a room
    target's is `room_key`, from the room's id)."""
    kind = target.kind
    if kind is TargetKind.PLATFORM_ROLE:
        assert target.role is not None
        return PLATFORM, f"platform:{target.role}"
    assert target.tenant is not None
    if kind is TargetKind.USER:
        return target.tenant, f"user:{target.user_id}"
    if kind is TargetKind.TENANT:
        return target.tenant, "tenant"
    if kind is TargetKind.ROLE:
        return target.tenant, f"role:{target.role}"
    if kind is TargetKind.ADMINS:
        return target.tenant, "admins"
    raise ValueError("a room target is stored under its room id: use `room_key`")


def room_key(tenant: str, room_id: int) -> Key:
    """The `(tenant_id, audience)` of the notifications of explicit room `room_id`."""
    return tenant, f"{ROOM_AUDIENCE}{room_id}"


def seen_by(who: Identity, rooms: Sequence[int] = ()) -> list[Key]:
    """Every `(tenant_id, audience)` whose notifications `who` sees, given the ids of the
    explicit rooms of their tenant they may read."""
    t = who.tenant
    keys = [(t, f"user:{who.user_id}"), (t, "tenant"), (t, f"role:{who.role}")]
    if who.role == ADMIN:
        keys.append((t, "admins"))
    keys.append((PLATFORM, f"platform:{who.role}"))
    keys += [room_key(t, room_id) for room_id in rooms]
    return keys


def delivery_subject(target: Target) -> str:
    """The delivery subject whose sockets are the target's (`contracts.endpoints`)."""
    kind = target.kind
    if kind is TargetKind.PLATFORM_ROLE:
        assert target.role is not None
        return subjects.deliver_role(target.role)
    assert target.tenant is not None
    if kind is TargetKind.USER:
        assert target.user_id is not None
        return subjects.deliver_user(target.tenant, target.user_id)
    if kind is TargetKind.TENANT:
        return subjects.deliver_tenant(target.tenant)
    if kind is TargetKind.ROLE:
        assert target.role is not None
        return subjects.deliver_tenant_role(target.tenant, target.role)
    if kind is TargetKind.ADMINS:
        return subjects.deliver_tenant_admins(target.tenant)
    assert target.room is not None
    return subjects.deliver_room(target.tenant, target.room)
