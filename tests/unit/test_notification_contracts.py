"""Notification contracts: targets, seed 002's shapes, refused names, client payloads."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.identity import Identity
from contracts.inbox import MarkNotifications, NotificationMarkIn
from contracts.notifications import (
    MAX_DATA_BYTES,
    AppEvent,
    Notify,
    Priority,
    Target,
    TargetKind,
    check_event_name,
)

ANN = Identity(tenant="acme", user_id="ann", role="member")


@pytest.mark.parametrize(
    "target",
    [
        {"kind": "user", "tenant": "t", "userId": "u"},
        {"kind": "tenant", "tenant": "t"},
        {"kind": "role", "tenant": "t", "role": "teacher"},
        {"kind": "admins", "tenant": "t"},
        {"kind": "platform_role", "role": "teacher"},
        {"kind": "room", "tenant": "t", "room": "course:42"},
    ],
)
def test_each_kind_takes_exactly_its_fields(target: dict[str, Any]) -> None:
    parsed = Target.model_validate(target)
    assert parsed.model_dump(by_alias=True, exclude_none=True) == target


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ({"kind": "user", "tenant": "t"}, "needs `userId`"),
        ({"kind": "tenant"}, "needs `tenant`"),
        ({"kind": "tenant", "tenant": "t", "role": "x"}, "does not take `role`"),
        ({"kind": "platform_role", "role": "r", "tenant": "t"}, "does not take `tenant`"),
        ({"kind": "room", "tenant": "t"}, "needs `room`"),
        ({"kind": "everyone", "tenant": "t"}, "kind"),
        ({"kind": "tenant", "tenant": "t", "extra": 1}, "extra"),
        ({"kind": "tenant", "tenant": "a\x00b"}, "pattern"),
    ],
)
def test_a_target_with_the_wrong_fields_is_refused_with_the_reason(
    target: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Target.model_validate(target)
    assert reason in str(refused.value)


def test_seed_002_shapes_are_accepted_as_they_are() -> None:
    to_user = Notify.model_validate(
        {
            "tenantId": "acme",
            "userId": "bob",
            "title": "New Assignment",
            "message": "A new assignment has been posted",
            "type": "ASSIGNMENT_DUE",
            "priority": "NORMAL",
        }
    )
    assert to_user.target == Target.user("acme", "bob")
    assert to_user.body == "A new assignment has been posted"
    assert to_user.event == "ASSIGNMENT_DUE" and to_user.priority is Priority.NORMAL
    broadcast = Notify.model_validate({"tenantId": "acme", "title": "x", "priority": "HIGH"})
    assert broadcast.target.kind is TargetKind.TENANT and broadcast.event == "notification"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"tenantId": "t", "body": "x", "message": "y"}, "not both"),
        ({"tenantId": "t", "target": {"kind": "tenant", "tenant": "t"}, "body": "x"}, "not both"),
        ({"userId": "u", "body": "x"}, "needs `tenantId`"),
        ({"tenantId": "t"}, "needs a `title`"),
        ({"tenantId": "t", "body": ""}, "at least 1"),
        ({"tenantId": "t", "body": "x", "priority": "meh"}, "priority"),
        ({"tenantId": "t", "body": "x", "whatever": 1}, "Extra inputs"),
        ({"tenantId": "t", "data": {"x": "y" * MAX_DATA_BYTES}}, "bytes of JSON"),
    ],
)
def test_bad_notifications_are_refused_with_the_reason(
    payload: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Notify.model_validate(payload)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "name",
    [
        "chat:message",
        "room:left",
        "notification:new",
        "presence:heartbeat",
        "user:online",
        "session:recovered",
        "manage:watch",
        "auth:refresh",
        "connect",
        "disconnect",
        "Connect",
        "CHAT:send",
        "connect_error",
    ],
)
def test_protocol_event_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="protocol"):
        check_event_name(name)


@pytest.mark.parametrize("name", ["", "1abc", "a b", "x" * 65, "a/b", "é"])
def test_malformed_event_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="event name"):
        check_event_name(name)


@pytest.mark.parametrize(
    "name", ["course:updated", "progress:changed", "system:alert", "a", "chatter:x", "users:x"]
)
def test_app_event_names_are_accepted(name: str) -> None:
    event = AppEvent(target=Target.of_tenant("t"), event=name, data={"a": [1, None]})
    assert event.event == name


@pytest.mark.parametrize(
    ("payload", "ids"),
    [
        ({"id": "12"}, ["12"]),
        ({"id": 12}, ["12"]),
        ({"ids": ["3", 4, "3"]}, ["3", "4"]),
        ({"all": True}, []),
        ({"tenantId": "t", "notificationId": 123, "userId": "u", "status": "READ"}, ["123"]),
    ],
)
def test_client_mark_payloads(payload: dict[str, Any], ids: list[str]) -> None:
    assert NotificationMarkIn.model_validate(payload).selected() == ids


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"id": "1", "ids": ["2"]},
        {"id": "n1"},
        {"id": "0"},
        {"id": True},
        {"ids": []},
        {"ids": ["1"] * 201},
        {"all": False},
        {"id": "1", "tenant": "t"},
    ],
)
def test_bad_client_mark_payloads_are_invalid(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        NotificationMarkIn.model_validate(payload)


def test_mark_takes_ids_or_all_and_only_read_takes_all() -> None:
    assert MarkNotifications(viewer=ANN, action="read", all=True).all
    for bad in ({"ids": ["1"], "all": True}, {}):
        with pytest.raises(ValidationError):
            MarkNotifications(viewer=ANN, action="read", **bad)
    with pytest.raises(ValidationError, match="only `read`"):
        MarkNotifications(viewer=ANN, action="dismiss", all=True)
