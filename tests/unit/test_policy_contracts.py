"""The policy contracts: kinds, data bounds, TTLs, per-kind subjects."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import endpoints as e
from contracts import subjects
from contracts.identity import Identity
from contracts.policies import (
    MAX_DATA_BYTES,
    AccessAnswer,
    Identify,
    KindSpec,
    PolicyUser,
    RegisterKinds,
)
from contracts.tokens import MAX_TOKEN_LENGTH

WHO = Identity(tenant="acme", user_id="ann", role="member", name="Ann")


@pytest.mark.parametrize("kind", ["room", "user", "tenant", "role", "manage"])
def test_reserved_kinds_cannot_be_registered(kind: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        KindSpec(kind=kind)


@pytest.mark.parametrize("kind", ["", "Course", "1course", "c" * 33, "co.urse", "co urse"])
def test_kind_names_are_bounded(kind: str) -> None:
    with pytest.raises(ValidationError):
        KindSpec(kind=kind)


def test_a_worker_registers_between_one_and_64_kinds() -> None:
    with pytest.raises(ValidationError):
        RegisterKinds(kinds=[], worker="w")
    with pytest.raises(ValidationError):
        RegisterKinds(kinds=[KindSpec(kind=f"k{i}") for i in range(65)], worker="w")


def test_identify_data_is_bounded() -> None:
    Identify(identity=WHO, tenant="acme", kind="course", data={"courseId": 42})
    big = {"x": "y" * MAX_DATA_BYTES}
    with pytest.raises(ValidationError, match="over"):
        Identify(identity=WHO, tenant="acme", kind="course", data=big)


def test_ttl_is_bounded_and_optional() -> None:
    assert AccessAnswer(ok=True, allow=True).ttl is None
    with pytest.raises(ValidationError):
        AccessAnswer(ok=True, allow=True, ttl=-1)
    with pytest.raises(ValidationError):
        AccessAnswer(ok=True, allow=True, ttl=10**9)


def test_policy_user_is_camel_case_on_the_wire() -> None:
    user = PolicyUser.of(WHO)
    assert user.model_dump(by_alias=True) == {
        "id": "ann",
        "tenant": "acme",
        "role": "member",
        "name": "Ann",
        "claims": {},
    }


def test_policy_questions_go_to_the_kinds_own_subject() -> None:
    assert e.POLICY_CAN_JOIN.subject == "roomcast.v1.cmd.policy.{kind}.can_join"
    at = e.POLICY_CAN_JOIN.at("course")
    assert (
        at.subject == subjects.policy_can_join("course") == "roomcast.v1.cmd.policy.course.can_join"
    )
    assert at.queue == subjects.POLICY_QUEUE and at.reply is AccessAnswer
    assert len(e.POLICY_IDENTIFIER.at("x" * 1000).subject) < 40 + MAX_TOKEN_LENGTH
    with pytest.raises(TypeError):
        e.ROOM_AUTHORIZE.at("course")


async def test_the_example_course_kind_loads_and_decides() -> None:
    from roomcast.sdk import User
    from roomcast.sdk.worker import load

    kind = load("examples.course_policy:CourseRoom")
    alice = User("alice", "acme", "member")
    assert kind.kind == "course"
    assert await kind.identifier(alice, {"courseId": 42}) == "42"
    assert (await kind.can_join(alice, "42")).allow
    assert not (await kind.can_join(User("carol", "acme", "member"), "42")).allow


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("examples.course_policy", "expected module:Class"),
        ("examples.course_policy:ENROLMENTS", "is not a RoomKind"),
    ],
)
def test_loading_refuses_what_is_not_a_room_kind(target: str, message: str) -> None:
    from roomcast.sdk.worker import load

    with pytest.raises(ValueError, match=message):
        load(target)


def test_only_named_claims_within_the_bound_are_forwarded() -> None:
    from contracts.claims import MAX_CLAIM_BYTES, forwarded

    token = {"plan": "pro", "secret": "s", "big": "y" * MAX_CLAIM_BYTES, "groups": ["a"]}
    assert forwarded(token, ["plan", "big", "groups", "absent"]) == {
        "plan": "pro",
        "groups": ["a"],
    }
    assert PolicyUser.of(WHO, {"plan": "pro"}).claims == {"plan": "pro"}
    with pytest.raises(ValidationError):
        PolicyUser.of(WHO, {"big": "y" * MAX_CLAIM_BYTES})
