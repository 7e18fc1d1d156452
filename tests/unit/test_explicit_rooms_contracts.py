"""Explicit-room contracts and pure helpers: bounds, slugs, the tenant rule."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import (
    AddMember,
    Authorize,
    CreateRoom,
    LinkEntity,
    ListRooms,
    RoomView,
    UpdateRoom,
    check_tenant,
)
from contracts.identity import Identity
from services.rooms.explicit import slug_from

ANN = Identity(tenant="acme", user_id="ann", role="admin")
ROOT = Identity(tenant="ops", user_id="root", role="super_admin")
BASE: dict[str, Any] = {"identity": ANN, "tenant": "acme"}


@pytest.mark.parametrize("slug", ["a", "lobby", "room-1", "0", "a" * 64])
def test_good_slugs(slug: str) -> None:
    assert CreateRoom(**BASE, name="x", slug=slug).slug == slug


@pytest.mark.parametrize("slug", ["", "-a", "A", "a b", "a_b", "a" * 65, "é", "a.b"])
def test_bad_slugs_are_refused(slug: str) -> None:
    with pytest.raises(ValidationError):
        CreateRoom(**BASE, name="x", slug=slug)


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "a\nb", "x" * 256])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        CreateRoom(**BASE, name=name)


@pytest.mark.parametrize("room", ["", "a b", "a\tb", "x" * 129, "a\x7fb"])
def test_room_keys_follow_the_room_id_rule(room: str) -> None:
    with pytest.raises(ValidationError):
        UpdateRoom(**BASE, room=room)


@pytest.mark.parametrize("entity_type", ["user", "tenant", "role", "manage", "room", "Event", "1x"])
def test_entity_types_are_not_reserved_kinds(entity_type: str) -> None:
    with pytest.raises(ValidationError):
        LinkEntity(**BASE, room="lobby", entity_type=entity_type, entity_id="1")


@pytest.mark.parametrize("limit", [0, 201])
def test_page_sizes_are_bounded(limit: int) -> None:
    with pytest.raises(ValidationError):
        ListRooms(**BASE, limit=limit)


def test_settings_are_bounded() -> None:
    with pytest.raises(ValidationError):
        CreateRoom(**BASE, name="x", settings={"k": "v" * 9000})
    with pytest.raises(ValidationError):
        CreateRoom(**BASE, name="x", settings={"bad key": 1})
    assert UpdateRoom(**BASE, room="1", settings={"topic.max": None}).settings == {
        "topic.max": None
    }


def test_wire_names_are_camel_case() -> None:
    wire = AddMember(**BASE, room="lobby", user_id="bob").model_dump(by_alias=True)
    assert {"userId", "viaManage", "identity"} <= set(wire)
    assert "is_primary" in LinkEntity.model_json_schema(by_alias=False)["properties"]
    assert "createdBy" in RoomView.model_json_schema()["properties"]
    assert Authorize(**BASE, name="room:lobby").post is False


@pytest.mark.parametrize(
    ("name", "want"),
    [("Lobby", "lobby"), ("  Grade 7 / Maths!  ", "grade-7-maths"), ("a" * 80, "a" * 64)],
)
def test_slugs_are_derived_from_names(name: str, want: str) -> None:
    assert slug_from(name) == want


def test_a_name_without_letters_needs_a_slug() -> None:
    with pytest.raises(ServiceError) as err:
        slug_from("!!! ???")
    assert err.value.code == ErrorCode.INVALID


@pytest.mark.parametrize(
    ("who", "tenant", "via_manage", "allowed"),
    [
        (ANN, "acme", False, True),
        (ANN, "other", False, False),
        (ANN, "acme", True, False),
        (ROOT, "acme", True, True),
        (ROOT, "acme", False, False),
        (ROOT, "ops", False, True),
    ],
)
def test_only_a_super_admin_on_manage_names_another_tenant(
    who: Identity, tenant: str, via_manage: bool, allowed: bool
) -> None:
    if allowed:
        check_tenant(who, tenant, via_manage=via_manage)
    else:
        with pytest.raises(ServiceError) as err:
            check_tenant(who, tenant, via_manage=via_manage)
        assert err.value.code == ErrorCode.FORBIDDEN
