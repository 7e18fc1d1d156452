"""Recovery of policy rooms after a reconnect re-checks the policy: an enrolled user gets
what they missed; one unenrolled (and revoked) while away gets a refusal and nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, gateway_stack
from tests.policy_support import PolicyProcess


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy-recovery")
    (path / "course.json").write_text(json.dumps({"ttl": 0, "enrolled": {}}))
    return path


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, state: Path
) -> Iterator[Gateways]:
    with gateway_stack(tmp_path_factory.mktemp("policy-recovery"), database_url) as gateways:
        env = {
            "ROOMCAST_NATS_URL": gateways.nats_url,
            "ROOMCAST_LOG_LEVEL": "WARNING",
            "POLICY_TEST_DIR": str(state),
            "POLICY_TEST_SUFFIX": uuid.uuid4().hex[:8],
        }
        worker = PolicyProcess(state, "policy-rec", ["tests.policy_kinds:Course"], env).start()
        try:
            yield gateways
        finally:
            worker.stop()


def enrol(state: Path, tenant: str, course: str, users: list[str]) -> None:
    path = state / "course.json"
    data = json.loads(path.read_text())
    data["enrolled"][f"{tenant}/{course}"] = users
    path.write_text(json.dumps(data))


async def test_recovery_of_a_policy_room_asks_the_policy_again(
    stack: Gateways, state: Path, clients: list[Client]
) -> None:
    t = unique("rec")
    enrol(state, t, "3", ["ann", "bob"])
    teacher = await connect(stack.gw1.url, token("tess", t, "teacher"))
    ann = await connect(stack.gw1.url, token("ann", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    clients += [teacher, ann, bob]
    for c in (ann, bob):
        assert (await c.call("room:join", {"room": "course:3"}))["ok"]
    first = await teacher.call("room:send", {"room": "course:3", "body": "one"})
    await ann.wait_for("room:message", lambda m: m["id"] == first["id"])
    await bob.wait_for("room:message", lambda m: m["id"] == first["id"])
    await ann.close()
    await bob.close()
    enrol(state, t, "3", ["ann"])  # bob is no longer enrolled
    missed = [
        await teacher.call("room:send", {"room": "course:3", "body": f"m{i}"}) for i in range(2)
    ]
    since = {"course:3": first["seq"]}
    ann_back = await Client().connect(
        stack.gw2.url, auth={"token": token("ann", t), "since": since}
    )
    bob_back = await Client().connect(
        stack.gw2.url, auth={"token": token("bob", t), "since": since}
    )
    clients += [ann_back, bob_back]
    recovered = await ann_back.wait_for("session:recovered")
    assert recovered["rooms"] == [{"room": "course:3", "recovered": True, "replayed": 2}]
    assert [m["id"] for m in ann_back.received("room:message")] == [m["id"] for m in missed]
    refused = await bob_back.wait_for("session:recovered")
    assert refused["rooms"] == [
        {"room": "course:3", "recovered": False, "replayed": 0, "reason": "forbidden"}
    ]
    assert bob_back.received("room:message") == []
    live = await teacher.call("room:send", {"room": "course:3", "body": "live"})
    await ann_back.wait_for("room:message", lambda m: m["id"] == live["id"])
