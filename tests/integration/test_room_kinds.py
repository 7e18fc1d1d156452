"""Room kinds with policies: two rooms replicas, two gateways and policy workers, each
in its own process (`roomcast policy serve tests.policy_kinds:...`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts import endpoints as e
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import Authorize
from contracts.identity import Identity
from contracts.policies import ListKinds
from roomcast.platform import bus
from roomcast.sdk import revoke
from tests.clients import Client, connect, http_get, token, unique
from tests.policy_support import PolicyProcess
from tests.servers import ServiceProcess
from tests.stack import Stack

SUFFIX = uuid.uuid4().hex[:8]
DECLARED = {
    f"staff{SUFFIX}": {"roleIn": ["teacher"]},
    f"pro{SUFFIX}": {"claimEquals": {"plan": "pro"}},
    f"crew{SUFFIX}": {"memberOf": f"team{SUFFIX}"},
}
"""Declared kinds (`ROOMCAST_ROOM_KINDS`) of both rooms replicas."""


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy")
    (path / "course.json").write_text(json.dumps({"ttl": 0, "enrolled": {}}))
    return path


@pytest.fixture(scope="module")
def policy_env(state: Path, nats_url: str) -> dict[str, str]:
    return {
        "ROOMCAST_NATS_URL": nats_url,
        "ROOMCAST_LOG_LEVEL": "WARNING",
        "POLICY_TEST_DIR": str(state),
        "POLICY_TEST_SUFFIX": SUFFIX,
    }


@pytest.fixture(scope="module")
def stack(
    stack_factory: Stack, state: Path, policy_env: dict[str, str]
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """Two rooms replicas (with declared kinds), two gateways, two replicas of the
    course policy."""
    declared = {"ROOMCAST_ROOM_KINDS": json.dumps(DECLARED)}
    stack_factory.start("rooms", declared, instance="rooms-1")
    stack_factory.start("rooms", declared, instance="rooms-2")
    forward = {"ROOMCAST_POLICY_CLAIMS": "plan"}
    stack_factory.start("persistence", instance="persistence-1")
    gw1 = stack_factory.start("gateway", forward, instance="gateway-1")
    gw2 = stack_factory.start("gateway", forward, instance="gateway-2")
    names = ("Course", "Slow", "Broken", "Counted", "Plan", "Flip")
    kinds = [f"tests.policy_kinds:{k}" for k in names]
    workers = [
        PolicyProcess(state, "policy-1", kinds, policy_env).start(),
        PolicyProcess(state, "policy-2", [kinds[0], kinds[3]], policy_env).start(),
    ]
    yield gw1, gw2
    for worker in workers:
        worker.stop()


@pytest.fixture
async def nc(stack: Any, nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


def enrol(state: Path, tenant: str, course: str, users: list[str], ttl: float = 0) -> None:
    path = state / "course.json"
    data = json.loads(path.read_text())
    data["enrolled"][f"{tenant}/{course}"] = users
    data["ttl"] = ttl
    path.write_text(json.dumps(data))


def questions(state: Path, word: str, tenant: str) -> list[tuple[str, list[str]]]:
    """(log file, words) of every question of `word` kind noted for `tenant`."""
    found = []
    for log in sorted(state.glob("questions-*.log")):
        for line in log.read_text().splitlines():
            parts = line.split()
            if parts[0] == word and parts[1] == tenant:
                found.append((log.name, parts))
    return found


def refused(ack: Any, code: str, message: str | None = None) -> None:
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    if message is not None:
        assert ack["error"]["message"] == message, ack


async def authorize(nc: NATS, who: Identity, name: str, tenant: str | None = None) -> Any:
    ask = Authorize(identity=who, tenant=tenant or who.tenant, name=name)
    return await bus.request(nc, e.ROOM_AUTHORIZE, ask)


async def test_the_policy_allows_and_refuses(
    stack: tuple[ServiceProcess, ServiceProcess], state: Path, clients: list[Client]
) -> None:
    gw1, _ = stack
    t = unique("uni")
    enrol(state, t, "7", ["ann"])
    ann = await connect(gw1.url, token("ann", t))
    bob = await connect(gw1.url, token("bob", t))
    clients += [ann, bob]
    assert await ann.call("room:join", {"room": "course:7"}) == {
        "ok": True,
        "room": "course:7",
        "role": "policy",
    }
    refused(await bob.call("room:join", {"room": "course:7"}), "FORBIDDEN", "not enrolled")
    refused(await ann.call("room:send", {"room": "course:7", "body": "hi"}), "FORBIDDEN")


async def test_kind_and_data_derive_the_room(
    stack: tuple[ServiceProcess, ServiceProcess], state: Path, clients: list[Client]
) -> None:
    gw1, _ = stack
    t = unique("uni")
    enrol(state, t, "42", ["ann"])
    ann = await connect(gw1.url, token("ann", t))
    clients.append(ann)
    joined = await ann.call("room:join", {"kind": "course", "data": {"courseId": 42}})
    assert joined == {"ok": True, "room": "course:42", "role": "policy"}
    cases = [
        ({"courseId": -1}, "INVALID", "courseId must be positive"),
        ({}, "INVALID", "data.courseId is required"),
        ({"courseId": "a b"}, "INVALID", None),
        ({"courseId": 43}, "FORBIDDEN", "not enrolled"),
    ]
    for data, code, message in cases:
        refused(await ann.call("room:join", {"kind": "course", "data": data}), code, message)
    refused(await ann.call("room:join", {"kind": f"nokind{SUFFIX}", "data": {}}), "NOT_FOUND")
    refused(await ann.call("room:join", {"kind": "user", "data": {"id": "ann"}}), "NOT_FOUND")
    refused(await ann.call("room:join", {"kind": "course", "data": {}, "room": "x:1"}), "INVALID")


async def test_seed_002_course_join_and_leave(
    stack: tuple[ServiceProcess, ServiceProcess], state: Path, clients: list[Client]
) -> None:
    gw1, gw2 = stack
    t = unique("lms")
    enrol(state, t, "101", ["ann"])
    ann = await connect(gw1.url, token("ann", t))
    teacher = await connect(gw2.url, token("tess", t, "teacher"))
    clients += [ann, teacher]
    assert (await ann.call("course:join", 101))["room"] == "course:101"
    assert (await teacher.call("course:join", "101"))["room"] == "course:101"
    sent = await teacher.call("room:send", {"room": "course:101", "body": "welcome"})
    assert sent["ok"], sent
    message = await ann.wait_for("room:message", lambda m: m["body"] == "welcome")
    assert (message["room"], message["from"], message["tenant"]) == ("course:101", "tess", t)
    refused(await ann.call("room:send", {"room": "course:101", "body": "x"}), "FORBIDDEN")
    assert await ann.call("course:leave", 101) == {"ok": True, "room": "course:101"}
    await teacher.call("room:send", {"room": "course:101", "body": "after"})
    await asyncio.sleep(0.5)
    assert [m["body"] for m in ann.received("room:message")] == ["welcome"]
    for bad in (True, None, {}, [], "a b", 1.5):
        refused(await ann.call("course:join", bad), "INVALID")


async def test_an_unknown_kind_is_not_found(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, _ = stack
    t = unique("uni")
    ann = await connect(gw1.url, token("ann", t))
    clients.append(ann)
    refused(await ann.call("room:join", {"room": f"nokind{SUFFIX}:1"}), "NOT_FOUND")
    with pytest.raises(ServiceError) as caught:
        await revoke(nc, t, f"nokind{SUFFIX}", "1")
    assert caught.value.code is ErrorCode.NOT_FOUND


async def test_a_stopped_policy_is_unavailable_not_unknown(
    stack: Any, state: Path, policy_env: dict[str, str], nc: NATS
) -> None:
    who = Identity(tenant=unique("uni"), user_id="ann", role="member")
    worker = PolicyProcess(state, "policy-gone", ["tests.policy_kinds:Gone"], policy_env).start()
    try:
        assert (await authorize(nc, who, f"gone{SUFFIX}:1")).ok
        assert worker.stop() == 0  # a graceful stop
    finally:
        worker.stop()
    reply = await authorize(nc, who, f"gone{SUFFIX}:1")
    assert reply.error.code is ErrorCode.UNAVAILABLE, reply
    assert reply.error.message == f"the gone{SUFFIX} policy is not running"
    kinds = (await bus.request(nc, e.POLICY_KINDS, ListKinds())).kinds
    gone = next(k for k in kinds if k.kind == f"gone{SUFFIX}")
    assert gone.worker == "policy-gone"


async def test_a_slow_policy_is_unavailable_within_the_bound(stack: Any, nc: NATS) -> None:
    who = Identity(tenant=unique("uni"), user_id="ann", role="member")
    started = time.monotonic()
    reply = await authorize(nc, who, f"slow{SUFFIX}:1")
    took = time.monotonic() - started
    assert reply.error.code is ErrorCode.UNAVAILABLE, reply
    assert reply.error.message == f"the slow{SUFFIX} policy did not answer"
    assert 1.4 < took < 3.0


async def test_a_policy_that_raises_refuses_with_its_message(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, _ = stack
    ann = await connect(gw1.url, token("ann", unique("uni")))
    clients.append(ann)
    broken = f"broken{SUFFIX}"
    ack = await ann.call("room:join", {"room": f"{broken}:1"})
    refused(ack, "FORBIDDEN", "the enrolment database is down")
    ack = await ann.call("room:join", {"kind": broken, "data": {"id": 1}})
    refused(ack, "FORBIDDEN", "the course catalogue is down")


async def test_two_policy_replicas_answer_each_question_once(
    stack: Any, state: Path, nc: NATS
) -> None:
    who = Identity(tenant=unique("uni"), user_id="ann", role="member")
    replies = await asyncio.gather(*(authorize(nc, who, f"counted{SUFFIX}:{i}") for i in range(40)))
    assert all(r.ok for r in replies)
    answered = questions(state, "counted", who.tenant)
    assert sorted(int(words[3]) for _, words in answered) == list(range(40))
    assert len({log for log, _ in answered}) == 2  # both replicas took questions


async def test_revoke_takes_the_user_out_on_every_gateway(
    stack: tuple[ServiceProcess, ServiceProcess],
    state: Path,
    clients: list[Client],
    nc: NATS,
) -> None:
    gw1, gw2 = stack
    t = unique("uni")
    enrol(state, t, "7", ["ann", "bob"], ttl=60)
    ann1 = await connect(gw1.url, token("ann", t))
    ann2 = await connect(gw2.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    teacher = await connect(gw1.url, token("tess", t, "teacher"))
    clients += [ann1, ann2, bob, teacher]
    for c in (ann1, ann2, bob):
        assert (await c.call("room:join", {"room": "course:7"}))["ok"]
    enrol(state, t, "7", ["bob"], ttl=60)
    await revoke(nc, t, "course", "7", "ann")
    for tab in (ann1, ann2):
        left = await tab.wait_for("room:left")
        assert left == {"room": "course:7", "reason": "revoked"}
    assert (await teacher.call("room:send", {"room": "course:7", "body": "after"}))["ok"]
    await bob.wait_for("room:message", lambda m: m["body"] == "after")
    await asyncio.sleep(0.3)
    assert ann1.received("room:message") == ann2.received("room:message") == []
    assert bob.received("room:left") == []
    # the cached allow went with the revocation: joining asks the policy again
    refused(await ann1.call("room:join", {"room": "course:7"}), "FORBIDDEN", "not enrolled")


async def test_revoke_drops_the_cached_allow_on_every_rooms_replica(
    stack: Any, state: Path, nc: NATS
) -> None:
    t = unique("uni")
    who = Identity(tenant=t, user_id="ann", role="member")
    enrol(state, t, "9", ["ann"], ttl=60)
    for _ in range(30):  # both rooms replicas answer some, and cache the allow
        assert (await authorize(nc, who, "course:9")).ok
    assert len(questions(state, "join", t)) <= 2
    enrol(state, t, "9", [], ttl=60)
    for _ in range(30):
        assert (await authorize(nc, who, "course:9")).ok  # cached, within its ttl
    await revoke(nc, t, "course", "9", "ann")
    for _ in range(30):
        reply = await authorize(nc, who, "course:9")
        assert reply.error.code is ErrorCode.FORBIDDEN, reply


async def test_tenants_never_meet_in_a_policy_room(
    stack: tuple[ServiceProcess, ServiceProcess], state: Path, clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    a, b = unique("a"), unique("b")
    enrol(state, b, "7", ["ann"])
    a_teacher = await connect(gw1.url, token("tess", a, "teacher"))
    b_ann = await connect(gw2.url, token("ann", b))
    clients += [a_teacher, b_ann]
    assert (await a_teacher.call("room:join", {"room": "course:7"}))["ok"]
    assert (await b_ann.call("room:join", {"room": "course:7"}))["ok"]
    assert (await a_teacher.call("room:send", {"room": "course:7", "body": "for a"}))["ok"]
    await asyncio.sleep(0.5)
    assert b_ann.received("room:message") == []
    # the policy saw each caller's own tenant
    assert {words[2] for _, words in questions(state, "join", b)} == {"ann"}
    # and a user of b cannot name a's room whatever the policy would answer
    b_user = Identity(tenant=b, user_id="ann", role="member")
    reply = await authorize(nc, b_user, "course:7", tenant=a)
    assert reply.error.code is ErrorCode.FORBIDDEN


def test_policy_list_shows_the_registered_kinds(stack: Any, nats_url: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "roomcast.cli", "policy", "list", "--nats-url", nats_url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    rows = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert rows["KIND"][:3] == ["KIND", "STATE", "WORKER"]
    assert rows["course"][1:3] in (["serving", "policy-1"], ["serving", "policy-2"])
    assert rows[f"counted{SUFFIX}"][1] == "serving"
    assert rows[f"staff{SUFFIX}"][1:3] == ["declared", "settings"]
    if f"gone{SUFFIX}" in rows:  # stopped by an earlier test
        assert rows[f"gone{SUFFIX}"][1] == "down"


async def test_policies_see_the_forwarded_claims(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, _ = stack
    t = unique("saas")
    pro = await connect(gw1.url, token("ann", t, plan="pro", secret_note="not forwarded"))
    free = await connect(gw1.url, token("bob", t, plan="free"))
    clients += [pro, free]
    room = f"plan{SUFFIX}:1"
    assert (await pro.call("room:join", {"room": room}))["ok"]
    assert (await pro.call("room:send", {"room": room, "body": "hi"}))["ok"]
    refused(await free.call("room:join", {"room": room}), "FORBIDDEN", "plan 'free' is not pro")


async def test_declared_kinds_need_no_policy_service(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nc: NATS
) -> None:
    gw1, gw2 = stack
    t = unique("decl")
    admin = Identity(tenant=t, user_id="admin", role="admin")
    team = f"team{SUFFIX}"
    for endpoint, fields in (
        (e.ROOM_CREATE, {"name": "Seven", "slug": "seven"}),
        (e.ROOM_LINK, {"room": "seven", "entity_type": team, "entity_id": "7", "is_primary": True}),
        (e.ROOM_MEMBER_ADD, {"room": "seven", "user_id": "ann"}),
    ):
        reply = await bus.request(
            nc, endpoint, endpoint.request(identity=admin, tenant=t, **fields)
        )
        assert reply.ok, reply.error
    ann = await connect(gw1.url, token("ann", t, plan="pro"))
    tess = await connect(gw2.url, token("tess", t, "teacher", plan="free"))
    clients += [ann, tess]
    assert (await tess.call("room:join", {"room": f"staff{SUFFIX}:lounge"}))["ok"]
    refused(await ann.call("room:join", {"room": f"staff{SUFFIX}:lounge"}), "FORBIDDEN")
    joined = await ann.call("room:join", {"kind": f"pro{SUFFIX}", "data": {"id": 1}})
    assert joined == {"ok": True, "room": f"pro{SUFFIX}:1", "role": "policy"}
    refused(await tess.call("room:join", {"room": f"pro{SUFFIX}:1"}), "FORBIDDEN")
    assert (await ann.call("room:join", {"room": f"crew{SUFFIX}:7"}))["ok"]
    refused(await tess.call("room:join", {"room": f"crew{SUFFIX}:7"}), "FORBIDDEN")
    sent = await ann.call("room:send", {"room": f"crew{SUFFIX}:7", "body": "crew only"})
    assert sent["ok"], sent
    kinds = {k.kind: k for k in (await bus.request(nc, e.POLICY_KINDS, ListKinds())).kinds}
    assert kinds[f"staff{SUFFIX}"].worker == "settings"


async def test_history_of_a_policy_room_asks_the_policy(
    stack: tuple[ServiceProcess, ServiceProcess], state: Path, clients: list[Client]
) -> None:
    gw1, gw2 = stack
    t = unique("uni")
    enrol(state, t, "5", ["ann"])
    teacher = await connect(gw1.url, token("tess", t, "teacher"))
    ann = await connect(gw2.url, token("ann", t))
    bob = await connect(gw2.url, token("bob", t))
    clients += [teacher, ann, bob]
    sent = [
        await teacher.call("room:send", {"room": "course:5", "body": f"m{i}"}) for i in range(3)
    ]
    assert all(ack["ok"] for ack in sent), sent
    deadline = time.monotonic() + 10
    while True:
        page = await ann.call("chat:history", {"room": "course:5"})
        assert page["ok"], page
        if len(page["messages"]) == 3 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert [m["body"] for m in page["messages"]] == ["m2", "m1", "m0"]
    assert {m["room"] for m in page["messages"]} == {"course:5"}
    refused(await bob.call("chat:history", {"room": "course:5"}), "FORBIDDEN", "not enrolled")


async def test_a_join_asks_again_once_subscribed(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    """A revocation between the policy's answer and the gateway's subscription would
    not reach the gateway; so the join asks once more after subscribing. `Flip`
    allows a user's first question and refuses the second, as a revocation would."""
    gw1, _ = stack
    ann = await connect(gw1.url, token("ann", unique("flip")))
    clients.append(ann)
    hosted = http_get(f"{gw1.health_url}/statz")[1]["hosted_subjects"]
    room = f"flip{SUFFIX}:1"
    refused(await ann.call("room:join", {"room": room}), "FORBIDDEN", "access withdrawn meanwhile")
    # the socket left the room again: the gateway hosts no more subjects than before
    assert http_get(f"{gw1.health_url}/statz")[1]["hosted_subjects"] == hosted
