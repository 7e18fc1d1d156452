"""Who sees a stored notification is exactly who its live delivery reaches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.access import auto_rooms
from contracts.events import TENANT
from contracts.identity import Identity
from contracts.notifications import Target
from services.persistence.notifications.audience import (
    PLATFORM,
    delivery_subject,
    room_key,
    seen_by,
    stored_under,
)

TENANTS = st.sampled_from(["acme", "globex", "a.b", "tenant:x"])
USERS = st.sampled_from(["alice", "bob", "user:bob", "tenant"])
ROLES = st.sampled_from(["member", "admin", "teacher", "super_admin", "tenant"])

IDENTITIES = st.builds(lambda t, u, r: Identity(tenant=t, user_id=u, role=r), TENANTS, USERS, ROLES)
TARGETS = st.one_of(
    st.builds(Target.user, TENANTS, USERS),
    st.builds(Target.of_tenant, TENANTS),
    st.builds(Target.of_role, TENANTS, ROLES),
    st.builds(Target.admins, TENANTS),
    st.builds(Target.platform_role, ROLES),
)


@given(who=IDENTITIES, target=TARGETS)
def test_a_user_sees_a_notification_iff_its_delivery_reaches_their_sockets(
    who: Identity, target: Target
) -> None:
    rooms = {room.subject for room in auto_rooms(who, TENANT)}
    assert (stored_under(target) in seen_by(who)) == (delivery_subject(target) in rooms)


@pytest.mark.parametrize(
    ("target", "key"),
    [
        (Target.user("acme", "bob"), ("acme", "user:bob")),
        (Target.of_tenant("acme"), ("acme", "tenant")),
        (Target.of_role("acme", "teacher"), ("acme", "role:teacher")),
        (Target.admins("acme"), ("acme", "admins")),
        (Target.platform_role("teacher"), (PLATFORM, "platform:teacher")),
    ],
)
def test_stored_under(target: Target, key: tuple[str, str]) -> None:
    assert stored_under(target) == key


def test_room_notifications_are_keyed_by_room_id_and_seen_by_its_readers() -> None:
    with pytest.raises(ValueError, match="room id"):
        stored_under(Target.of_room("acme", "course:42"))
    bob = Identity(tenant="acme", user_id="bob", role="member")
    assert room_key("acme", 7) in seen_by(bob, [3, 7])
    assert room_key("acme", 7) not in seen_by(bob)
    assert room_key("globex", 7) not in seen_by(bob, [7])


def test_only_admins_see_the_admins_audience() -> None:
    admin = Identity(tenant="acme", user_id="ann", role="admin")
    root = Identity(tenant="acme", user_id="root", role="super_admin")
    assert ("acme", "admins") in seen_by(admin)
    assert ("acme", "admins") not in seen_by(root)
    assert len(seen_by(admin)) == 5 and len(seen_by(root)) == 4
