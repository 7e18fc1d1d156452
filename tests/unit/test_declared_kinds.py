"""Declared room kinds: rules in the rooms service's settings, without a policy service."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import explicit_rooms as x
from contracts.errors import ErrorCode, ServiceError
from contracts.policies import AccessQuestion, IdentifierQuestion, KindSpec, PolicyUser
from services.rooms.domain.decisions import Action
from services.rooms.domain.declared import KindRule, decide
from services.rooms.policies.declared import DeclaredPolicies, DeclaredRegistry
from services.rooms.settings import RoomsSettings

NOW = "2026-01-01T00:00:00+00:00"


def user(role: str = "member", tenant: str = "acme", **claims: Any) -> PolicyUser:
    return PolicyUser(id="ann", tenant=tenant, role=role, claims=claims)


@pytest.mark.parametrize(
    ("rule", "who", "allowed"),
    [
        ({"roleIn": ["teacher", "admin"]}, user("teacher"), True),
        ({"roleIn": ["teacher", "admin"]}, user("member"), False),
        ({"claimEquals": {"plan": "pro"}}, user(plan="pro"), True),
        ({"claimEquals": {"plan": "pro"}}, user(plan="free"), False),
        ({"claimEquals": {"plan": "pro"}}, user(), False),
        ({"claimEquals": {"seats": 1}}, user(seats=True), False),
        ({"claimEquals": {"plan": "pro", "seats": 2}}, user(plan="pro", seats=2), True),
    ],
)
def test_role_and_claim_rules(rule: dict[str, Any], who: PolicyUser, allowed: bool) -> None:
    assert decide(KindRule.model_validate(rule), who, member=False)[0] is allowed


@pytest.mark.parametrize(
    "rule", [{}, {"roleIn": ["a"], "memberOf": "team"}, {"memberOf": "Team"}, {"nope": 1}]
)
def test_a_kind_has_exactly_one_valid_rule(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        KindRule.model_validate(rule)


def test_settings_read_declared_kinds_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = {"staff": {"roleIn": ["admin"]}, "crew": {"memberOf": "team"}}
    monkeypatch.setenv("ROOMCAST_ROOM_KINDS", json.dumps(kinds))
    settings = RoomsSettings()
    assert settings.room_kinds["staff"].role_in == ["admin"]
    assert settings.room_kinds["crew"].member_of == "team"
    monkeypatch.setenv("ROOMCAST_ROOM_KINDS", json.dumps({"room": {"roleIn": ["admin"]}}))
    with pytest.raises(ValidationError, match="reserved"):
        RoomsSettings()


class Store:
    """The entity `team:7` of `acme`, with member `ann`."""

    async def find_primary(self, tenant: str, entity_type: str, entity_id: str) -> Any:
        if (tenant, entity_type, entity_id) != ("acme", "team", "7"):
            return None
        return x.RoomView(
            id=3,
            room="team:7",
            slug="seven",
            name="Seven",
            status=x.RoomStatus.ACTIVE,
            visibility=x.Visibility.PRIVATE,
            tenant=tenant,
            created_at=NOW,
            updated_at=NOW,
        )

    async def member_role(self, tenant: str, room_id: int, user_id: str) -> Any:
        return x.MemberRole.MEMBER if (room_id, user_id) == (3, "ann") else None


class Inner:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def identifier(self, question: IdentifierQuestion) -> str:
        self.asked.append(question.kind)
        return "x"

    async def access(self, action: Action, question: AccessQuestion) -> Any:
        self.asked.append(question.kind)
        raise ServiceError(ErrorCode.UNAVAILABLE, "no policy")

    async def known(self, kind: str) -> bool:
        return kind == "course"

    async def list_kinds(self) -> list[Any]:
        return []

    async def register(self, kinds: list[KindSpec], worker: str) -> list[Any]:
        return []


RULES = {"crew": KindRule(member_of="team"), "staff": KindRule(role_in=["admin"])}


async def test_member_of_an_entitys_room() -> None:
    inner = Inner()
    policies = DeclaredPolicies(RULES, Store(), inner)  # type: ignore[arg-type]

    def ask(who: PolicyUser, rid: str = "7", tenant: str = "acme") -> AccessQuestion:
        return AccessQuestion(kind="crew", tenant=tenant, user=who, id=rid)

    assert (await policies.access(Action.JOIN, ask(user()))).allow
    bob = PolicyUser(id="bob", tenant="acme", role="member")
    refused = await policies.access(Action.POST, ask(bob))
    assert not refused.allow and refused.reason == "only members of the team may join"
    assert not (await policies.access(Action.JOIN, ask(user(), "8"))).allow
    assert not (await policies.access(Action.JOIN, ask(user(tenant="other")))).allow
    assert inner.asked == []


async def test_other_kinds_go_to_their_policy_and_ids_come_from_data_id() -> None:
    inner = Inner()
    policies = DeclaredPolicies(RULES, Store(), inner)  # type: ignore[arg-type]
    q = IdentifierQuestion(kind="staff", tenant="acme", user=user(), data={"id": 5})
    assert await policies.identifier(q) == "5"
    with pytest.raises(ServiceError) as caught:
        await policies.identifier(q.model_copy(update={"data": {"id": True}}))
    assert caught.value.code is ErrorCode.INVALID
    other = IdentifierQuestion(kind="course", tenant="acme", user=user(), data={})
    assert await policies.identifier(other) == "x" and inner.asked == ["course"]


async def test_declared_kinds_are_known_listed_and_not_registrable() -> None:
    registry = DeclaredRegistry(RULES, Inner())  # type: ignore[arg-type]
    assert await registry.known("crew") and await registry.known("course")
    assert not await registry.known("lesson")
    listed = await registry.list_kinds()
    assert [(k.kind, k.worker) for k in listed] == [("crew", "settings"), ("staff", "settings")]
    assert listed[1].description == "role in admin"
    with pytest.raises(ServiceError) as caught:
        await registry.register([KindSpec(kind="staff")], "w")
    assert caught.value.code is ErrorCode.INVALID
