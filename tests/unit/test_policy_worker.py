"""How a policy worker turns a RoomKind's answers and exceptions into replies."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.errors import ErrorCode, ServiceError
from contracts.policies import AccessQuestion, IdentifierQuestion, PolicyUser
from roomcast.sdk import Answer, RoomKind, User
from roomcast.sdk.worker import KindServer, PolicyWorker

ANN = PolicyUser(id="ann", tenant="acme", role="member")


class Lessons(RoomKind):
    kind = "lesson"
    ttl = 12.0

    async def identifier(self, user: User, data: dict[str, Any]) -> str:
        if data.get("boom"):
            raise RuntimeError("catalogue down")
        if data.get("bad"):
            raise ValueError("lessonId must be positive")
        return data["lessonId"]  # type: ignore[no-any-return]

    async def can_join(self, user: User, room_id: str) -> bool:
        if room_id == "boom":
            raise LookupError("no such lesson table")
        return user.id == "ann"


class Answers(RoomKind):
    kind = "answers"

    async def can_join(self, user: User, room_id: str) -> Answer:
        return Answer(False, ttl=3, reason="closed")

    async def can_post(self, user: User, room_id: str) -> Any:
        return "yes"  # not a decision


def ident(**data: Any) -> IdentifierQuestion:
    return IdentifierQuestion(kind="lesson", tenant="acme", user=ANN, data=data)


def access(rid: str, kind: str = "lesson") -> AccessQuestion:
    return AccessQuestion(kind=kind, tenant="acme", user=ANN, id=rid)


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        ({"bad": True}, ErrorCode.INVALID, "lessonId must be positive"),
        ({}, ErrorCode.INVALID, "data.lessonId is required"),
        ({"lessonId": "a b"}, ErrorCode.INVALID, None),
        ({"lessonId": "x" * 129}, ErrorCode.INVALID, None),
        ({"boom": True}, ErrorCode.FORBIDDEN, "catalogue down"),
    ],
)
async def test_identifier_errors(data: dict[str, Any], code: ErrorCode, message: str) -> None:
    with pytest.raises(ServiceError) as caught:
        await KindServer(Lessons()).identifier(ident(**data))
    assert caught.value.code is code
    if message is not None:
        assert caught.value.message == message


async def test_identifier_and_bool_answers_with_the_kinds_ttl() -> None:
    server = KindServer(Lessons())
    assert (await server.identifier(ident(lessonId="7"))).id == "7"
    answer = await server.can_join(access("7"))
    assert (answer.allow, answer.ttl) == (True, 12.0)
    posted = await server.can_post(access("7"))  # default: as can_join
    assert posted.allow


async def test_a_raising_policy_refuses_with_its_message() -> None:
    with pytest.raises(ServiceError) as caught:
        await KindServer(Lessons()).can_join(access("boom"))
    assert (caught.value.code, caught.value.message) == (
        ErrorCode.FORBIDDEN,
        "no such lesson table",
    )


async def test_answers_carry_ttl_and_reason_and_non_decisions_refuse() -> None:
    server = KindServer(Answers())
    answer = await server.can_join(access("1", "answers"))
    assert (answer.allow, answer.ttl, answer.reason) == (False, 3, "closed")
    with pytest.raises(ServiceError) as caught:
        await server.can_post(access("1", "answers"))
    assert caught.value.code is ErrorCode.FORBIDDEN


def test_a_kind_is_served_once_per_worker() -> None:
    with pytest.raises(ValueError, match="twice"):
        PolicyWorker(None, [Lessons(), Lessons()], "w")  # type: ignore[arg-type]
