"""Property-based fuzzing of `room:join` (`{room}`, `{kind, data}`) and seed 002's
`course:join` against a gateway, a rooms service and a policy worker, each in
their own processes: every payload is acked `ok` or with a protocol code (never
`INTERNAL`), the connection stays up, and no process logs a traceback.

Size: `ROOMCAST_HOSTILE_EXAMPLES` examples per test (default 200).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.clients import Client, connect, token, unique
from tests.hostile.strategies import json_values
from tests.hostile.support import ACK_CODES, EXAMPLES, LoopThread
from tests.policy_support import PolicyProcess
from tests.servers import ServiceProcess
from tests.stack import Stack

SUFFIX = uuid.uuid4().hex[:8]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

kinds = st.sampled_from(["course", f"broken{SUFFIX}", "room", "user", "Course", ""]) | st.text(
    max_size=40
)
datas = st.dictionaries(
    st.sampled_from(["courseId", "id", "x"]) | st.text(max_size=8), json_values, max_size=4
)
ids = st.integers() | st.text(max_size=140) | st.sampled_from(["7", "a b", "x" * 129, "\x00"])
room_join_payloads = st.one_of(
    st.fixed_dictionaries({"kind": kinds, "data": datas | json_values}),
    st.fixed_dictionaries({"room": ids.map(lambda i: f"course:{i}") | st.text(max_size=60)}),
    st.dictionaries(st.sampled_from(["kind", "data", "room", "tenant"]), json_values, max_size=4),
    json_values,
)


class Arena:
    def __init__(self, loop: LoopThread, client: Client, processes: list[Any]) -> None:
        self.loop = loop
        self.client = client
        self.processes = processes

    def check(self, event: str, payload: Any) -> None:
        ack = self.loop.run(self.client.call(event, payload))
        assert self.client.sio.connected, f"{event} {payload!r:.200} closed the connection"
        if isinstance(ack, dict) and ack.get("ok") is True:
            return
        code = ack.get("error", {}).get("code") if isinstance(ack, dict) else None
        assert code in ACK_CODES, f"{event} {payload!r:.200} → {ack!r:.300}"


@pytest.fixture(scope="module")
def arena(
    stack_factory: Stack, tmp_path_factory: pytest.TempPathFactory, nats_url: str
) -> Iterator[Arena]:
    state: Path = tmp_path_factory.mktemp("policy-fuzz")
    (state / "course.json").write_text(json.dumps({"ttl": 0, "enrolled": {}}))
    stack_factory.start("rooms", instance="rooms-fuzz")
    unlimited = {"ROOMCAST_RATE_LIMIT_PER_SEC": "100000", "ROOMCAST_RATE_LIMIT_BURST": "100000"}
    gateway: ServiceProcess = stack_factory.start("gateway", unlimited, instance="gw-kinds")
    env = {
        "ROOMCAST_NATS_URL": nats_url,
        "ROOMCAST_LOG_LEVEL": "WARNING",
        "POLICY_TEST_DIR": str(state),
        "POLICY_TEST_SUFFIX": SUFFIX,
    }
    targets = ["tests.policy_kinds:Course", "tests.policy_kinds:Broken"]
    worker = PolicyProcess(state, "policy-fuzz", targets, env).start()
    loop = LoopThread()
    client = loop.run(connect(gateway.url, token("ann", unique("fuzz"), "teacher")))
    yield Arena(loop, client, [gateway, worker])
    loop.run(client.close())
    loop.stop()
    worker.stop()
    for name, text in (("gateway", gateway.output()), ("worker", worker.log.read_text())):
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"


def test_room_join_payloads(arena: Arena) -> None:
    @FUZZ
    @given(payload=room_join_payloads)
    def send(payload: Any) -> None:
        arena.check("room:join", payload)

    send()


def test_course_join_payloads(arena: Arena) -> None:
    @FUZZ
    @given(payload=ids | json_values)
    def send(payload: Any) -> None:
        arena.check("course:join", payload)

    send()
