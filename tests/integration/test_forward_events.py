"""Client events forwarded to backend services, on real servers: allow-listed events land
in the JetStream stream stamped with the sender's verified identity (whatever the payload
claims), anything else stays `INVALID`, sizes are bounded, and the ack waits for
JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts import subjects
from contracts.client_events import ForwardedEvent
from roomcast.platform.streams import ensure_client_events_stream
from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, gateway_stack

ALLOW = "progress:*,quiz:answer,*:ping"
BURST = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    env = {
        "ROOMCAST_FORWARD_EVENTS": ALLOW,
        "ROOMCAST_FORWARD_MAX_BYTES": "1024",
        "ROOMCAST_RATE_LIMIT_BURST": str(BURST),
        "ROOMCAST_RATE_LIMIT_PER_SEC": "1",
    }
    with gateway_stack(tmp_path_factory.mktemp("forward"), database_url, env=env) as gateways:
        yield gateways


@pytest.fixture
async def nc(stack: Gateways) -> AsyncIterator[NATS]:
    client = await nats.connect(stack.nats_url)
    yield client
    await client.close()


async def stored(nc: NATS, tenant: str, event: str, n: int) -> list[ForwardedEvent]:
    """The first `n` events `event` of `tenant` in the stream, read as a backend would."""
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        subjects.client_event(tenant, event), stream=subjects.CLIENT_EVENTS_STREAM
    )
    try:
        msgs = await sub.fetch(n, timeout=5)
        for msg in msgs:
            await msg.ack()
        return [ForwardedEvent.model_validate_json(m.data) for m in msgs]
    finally:
        await sub.unsubscribe()


async def test_an_allowed_event_lands_in_the_stream_stamped_with_the_real_identity(
    stack: Gateways, nc: NATS, clients: list[Client]
) -> None:
    t = unique("lms")
    bob = await connect(stack.gw1.url, token("bob", t, role="student"))
    alice = await connect(stack.gw2.url, token("alice", t))
    clients += [bob, alice]
    lying: dict[str, Any] = {
        "userId": "mallory",
        "tenant": "other",
        "tenantId": "other",
        "role": "admin",
        "courseId": 7,
        "percent": 50,
    }
    assert await bob.call("progress:video", lying) == {"ok": True}
    assert await alice.call("quiz:answer", {"quiz": 3, "answer": "b"}) == {"ok": True}
    assert await alice.call("progress:video", {}) == {"ok": True}

    first, second = await stored(nc, t, "progress:video", 2)
    assert (first.tenant, first.user_id, first.role) == (t, "bob", "student")
    assert first.data == lying and first.event == "progress:video"
    assert first.ts > 0 and first.sid and first.namespace == "/tenant"
    assert (second.user_id, second.data) == ("alice", {})
    [answer] = await stored(nc, t, "quiz:answer", 1)
    assert answer.user_id == "alice" and answer.data == {"quiz": 3, "answer": "b"}


async def test_the_allow_list_is_enforced_and_protocol_names_are_never_forwarded(
    stack: Gateways, nc: NATS, clients: list[Client]
) -> None:
    t = unique("lms")
    bob = await connect(stack.gw1.url, token("bob", t))
    clients.append(bob)
    for event in ("quiz:other", "progress", "Progress:video", "grades:update"):
        ack = await bob.call(event, {"x": 1})
        assert ack["ok"] is False and ack["error"]["code"] == "INVALID", (event, ack)
    for event in ("notification:ping", "chat:ping", "session:ping", "user:ping"):
        ack = await bob.call(event, {})
        assert ack["ok"] is False and ack["error"]["code"] == "INVALID", (event, ack)
    assert await bob.call("course:ping", {}) == {"ok": True}
    js = nc.jetstream()
    everything = await js.pull_subscribe(
        f"{subjects.client_event(t, 'x').rsplit('.', 1)[0]}.>", stream=subjects.CLIENT_EVENTS_STREAM
    )
    try:
        msgs = await everything.fetch(10, timeout=2)
    finally:
        await everything.unsubscribe()
    assert [ForwardedEvent.model_validate_json(m.data).event for m in msgs] == ["course:ping"]


async def test_payloads_must_be_small_json_objects(stack: Gateways, clients: list[Client]) -> None:
    bob = await connect(stack.gw2.url, token("bob", unique("lms")))
    clients.append(bob)
    for payload in ([1, 2], "50%", 42):
        ack = await bob.call("progress:video", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "INVALID", (payload, ack)
    ack = await bob.call("progress:video", {"blob": "x" * 2000})
    assert ack["ok"] is False and ack["error"]["code"] == "TOO_LARGE", ack
    assert await bob.call("progress:video", {"blob": "x" * 900}) == {"ok": True}


async def test_the_connection_rate_limit_applies_and_refused_events_are_not_stored(
    stack: Gateways, nc: NATS, clients: list[Client]
) -> None:
    t = unique("lms")
    bob = await connect(stack.gw2.url, token("bob", t))
    clients.append(bob)
    acks = [await bob.call("progress:video", {"n": n}) for n in range(BURST + 5)]
    accepted = [n for n, ack in enumerate(acks) if ack == {"ok": True}]
    limited = [ack for ack in acks if ack.get("error", {}).get("code") == "RATE_LIMITED"]
    assert len(limited) >= 3 and len(accepted) + len(limited) == len(acks), acks
    got = await stored(nc, t, "progress:video", len(accepted))
    assert [e.data["n"] for e in got] == accepted


async def test_the_ack_waits_for_jetstream(
    stack: Gateways, nc: NATS, clients: list[Client]
) -> None:
    bob = await connect(stack.gw1.url, token("bob", unique("lms")))
    clients.append(bob)
    js = nc.jetstream()
    await js.delete_stream(subjects.CLIENT_EVENTS_STREAM)
    try:
        ack = await bob.call("progress:video", {"percent": 10})
        assert ack["ok"] is False and ack["error"]["code"] == "UNAVAILABLE", ack
    finally:
        await ensure_client_events_stream(js, 3600)
    assert await bob.call("progress:video", {"percent": 10}) == {"ok": True}
