"""The resolution order of room access and the decision cache, against fakes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from contracts import explicit_rooms as x
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.policies import AccessAnswer, AccessQuestion, IdentifierQuestion, Identify
from services.rooms.domain.decisions import Action, Decision, DecisionCache, Key
from services.rooms.policies.access import RoomAccess

ANN = Identity(tenant="acme", user_id="ann", role="member")
NOW = "2026-01-01T00:00:00+00:00"


class Explicit:
    """`lookup` finds `event:1` only; `decide` grants `member`."""

    def __init__(self) -> None:
        self.room = x.RoomView(
            id=1,
            room="event:1",
            slug="launch",
            name="Launch",
            status=x.RoomStatus.ACTIVE,
            visibility=x.Visibility.PRIVATE,
            tenant="acme",
            created_at=NOW,
            updated_at=NOW,
        )

    async def lookup(self, cmd: x.Authorize) -> x.RoomView | None:
        x.check_tenant(cmd.identity, cmd.tenant, via_manage=cmd.via_manage)
        if cmd.name.partition(":")[0] in x.AUTO_KINDS:
            raise ServiceError(ErrorCode.FORBIDDEN, "automatic rooms are joined by the server")
        return self.room if cmd.name in ("event:1", "room:launch") else None

    async def decide(self, cmd: x.Authorize, room: x.RoomView) -> str:
        return "member"


class Kinds:
    def __init__(self, *kinds: str) -> None:
        self.kinds = set(kinds)
        self.asked = 0

    async def known(self, kind: str) -> bool:
        self.asked += 1
        return kind in self.kinds


class Policy:
    """Allows users in `allowed`, with `ttl`; records every question."""

    def __init__(self, allowed: set[str], ttl: float | None = 10.0) -> None:
        self.allowed = allowed
        self.ttl = ttl
        self.questions: list[tuple[Action, AccessQuestion]] = []
        self.during: Any = None

    async def identifier(self, question: IdentifierQuestion) -> str:
        if "courseId" not in question.data:
            raise ServiceError(ErrorCode.INVALID, "courseId is required")
        return str(question.data["courseId"])

    async def access(self, action: Action, question: AccessQuestion) -> AccessAnswer:
        self.questions.append((action, question))
        if self.during is not None:
            self.during()
        allow = question.user.id in self.allowed
        return AccessAnswer(ok=True, allow=allow, ttl=self.ttl, reason=None if allow else "no")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(policy: Policy, *kinds: str) -> tuple[RoomAccess, Clock]:
    clock = Clock()
    access = RoomAccess(
        Explicit(),  # type: ignore[arg-type]
        Kinds(*kinds),  # type: ignore[arg-type]
        policy,
        DecisionCache(100, 60.0),
        clock,
    )
    return access, clock


def ask(name: str, who: Identity = ANN, post: bool = False) -> x.Authorize:
    return x.Authorize(identity=who, tenant=who.tenant, name=name, post=post)


async def code_of(coro: Any) -> ErrorCode:
    with pytest.raises(ServiceError) as caught:
        await coro
    return caught.value.code


async def test_an_explicit_room_decides_before_any_policy() -> None:
    policy = Policy(set())
    access, _ = make(policy, "event")
    got = await access.authorize(ask("event:1"))
    assert (got.room, got.room_id, got.grant) == ("event:1", 1, "member")
    assert policy.questions == []


async def test_else_the_kinds_policy_decides() -> None:
    policy = Policy({"ann"})
    access, _ = make(policy, "course")
    got = await access.authorize(ask("course:7"))
    assert (got.room, got.room_id, got.grant) == ("course:7", None, "policy")
    action, question = policy.questions[0]
    assert action is Action.JOIN and question.id == "7" and question.tenant == "acme"
    bob = Identity(tenant="acme", user_id="bob", role="member")
    with pytest.raises(ServiceError) as refused:
        await access.authorize(ask("course:7", bob))
    assert (refused.value.code, refused.value.message) == (ErrorCode.FORBIDDEN, "no")


async def test_else_not_found() -> None:
    access, _ = make(Policy({"ann"}), "course")
    assert await code_of(access.authorize(ask("lesson:7"))) is ErrorCode.NOT_FOUND
    assert await code_of(access.authorize(ask("user:ann"))) is ErrorCode.FORBIDDEN


async def test_posting_asks_can_post() -> None:
    policy = Policy({"ann"})
    access, _ = make(policy, "course")
    await access.authorize(ask("course:7", post=True))
    assert [a for a, _ in policy.questions] == [Action.POST]


async def test_decisions_are_reused_within_their_ttl_only() -> None:
    policy = Policy({"ann"}, ttl=5)
    access, clock = make(policy, "course")
    await access.authorize(ask("course:7"))
    await access.authorize(ask("course:7"))
    assert len(policy.questions) == 1
    clock.now += 5
    await access.authorize(ask("course:7"))
    assert len(policy.questions) == 2


async def test_no_ttl_means_ask_every_time() -> None:
    policy = Policy({"ann"}, ttl=None)
    access, _ = make(policy, "course")
    for _ in range(3):
        await access.authorize(ask("course:7"))
    assert len(policy.questions) == 3


async def test_a_revocation_while_asking_asks_again() -> None:
    policy = Policy({"ann"})
    access, _ = make(policy, "course")
    revocations = iter([True])
    policy.during = lambda: next(revocations, False) and access.cache.drop("acme", "course", "7")
    await access.authorize(ask("course:7"))
    assert len(policy.questions) == 2
    await access.authorize(ask("course:7"))
    assert len(policy.questions) == 2


async def test_endless_revocations_are_unavailable_not_allowed() -> None:
    policy = Policy({"ann"})
    access, _ = make(policy, "course")
    policy.during = lambda: access.cache.drop("acme", "course", "7")
    assert await code_of(access.authorize(ask("course:7"))) is ErrorCode.UNAVAILABLE


async def test_identify_derives_the_canonical_room() -> None:
    access, _ = make(Policy(set()), "course")
    cmd = Identify(identity=ANN, tenant="acme", kind="course", data={"courseId": 42})
    assert await access.identify(cmd) == "course:42"
    missing = Identify(identity=ANN, tenant="acme", kind="lesson", data={})
    assert await code_of(access.identify(missing)) is ErrorCode.NOT_FOUND
    bad = Identify(identity=ANN, tenant="acme", kind="course", data={})
    assert await code_of(access.identify(bad)) is ErrorCode.INVALID
    spaced = Identify(identity=ANN, tenant="acme", kind="course", data={"courseId": "a b"})
    assert await code_of(access.identify(spaced)) is ErrorCode.INVALID


async def test_another_tenant_is_refused_before_the_policy() -> None:
    policy = Policy({"ann"})
    access, _ = make(policy, "course")
    other = x.Authorize(identity=ANN, tenant="globex", name="course:7")
    assert await code_of(access.authorize(other)) is ErrorCode.FORBIDDEN
    assert policy.questions == []


async def test_known_kinds_are_remembered() -> None:
    access, _ = make(Policy({"ann"}), "course")
    kinds = access._kinds
    await asyncio.gather(*(access.authorize(ask("course:7")) for _ in range(3)))
    asked = kinds.asked  # type: ignore[attr-defined]
    await access.authorize(ask("course:8"))
    assert kinds.asked == asked  # type: ignore[attr-defined]


# the cache alone ----------------------------------------------------------------------


def key(user: str = "ann", rid: str = "7", action: Action = Action.JOIN) -> Key:
    return Key("acme", "acme", user, "course", rid, action)


def test_the_cache_is_bounded() -> None:
    cache = DecisionCache(2, 60)
    for rid in ("1", "2", "3"):
        cache.put(key(rid=rid), Decision(True), 10, 0)
    assert len(cache) == 2 and cache.get(key(rid="1"), 0) is None


def test_the_ttl_is_capped() -> None:
    cache = DecisionCache(10, 60)
    cache.put(key(), Decision(True), 3600, 0)
    assert cache.get(key(), 59) is not None and cache.get(key(), 60) is None


def test_drop_forgets_one_user_or_the_whole_room() -> None:
    cache = DecisionCache(10, 60)
    for user in ("ann", "bob"):
        for action in Action:
            cache.put(key(user, action=action), Decision(True), 10, 0)
    cache.put(key("ann", rid="8"), Decision(True), 10, 0)
    assert cache.drop("acme", "course", "7", "ann") == 2
    assert cache.get(key("bob"), 0) is not None and cache.get(key("ann", rid="8"), 0)
    assert cache.drop("acme", "course", "7") == 2
    assert len(cache) == 1
    assert cache.drop("other", "course", "8") == 0 and len(cache) == 1
