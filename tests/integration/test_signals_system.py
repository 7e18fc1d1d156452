"""Metrics and security events of real processes, seen on `/metrics` and on NATS.

Rooms, presence, persistence and a gateway run as separate processes on the test's
NATS, PostgreSQL and Redis; a plain NATS client subscribes to `roomcast.v1.security.>`
as a consumer of security events would; every request is real (Socket.IO, HTTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import jwt
import nats
import pytest
import socketio
from nats.aio.msg import Msg

from contracts import subjects
from contracts.security import AdminAction, SecurityEvent, SecurityKind
from tests.clients import SECRET, Client, connect, connect_error, token, unique
from tests.integration.test_health import Samples, metrics
from tests.servers import ServiceProcess
from tests.stack import Stack


@pytest.fixture(scope="module")
def procs(stack_factory: Stack, redis_url: str) -> Iterator[dict[str, ServiceProcess]]:
    rooms = stack_factory.start("rooms")
    presence = stack_factory.start("presence", {"ROOMCAST_REDIS_URL": redis_url})
    persistence = stack_factory.start("persistence")
    gw = stack_factory.start("gateway", instance="gw-signals")
    yield {"rooms": rooms, "presence": presence, "persistence": persistence, "gw": gw}


class Events:
    """Security events received on NATS."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, SecurityEvent, bytes]] = []

    async def on(self, msg: Msg) -> None:
        self.seen.append((msg.subject, SecurityEvent.model_validate_json(msg.data), msg.data))

    async def wait(
        self, match: Callable[[SecurityEvent], bool], timeout: float = 10.0
    ) -> tuple[str, SecurityEvent, bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for found in self.seen:
                if match(found[1]):
                    return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no such security event in {[e for _, e, _ in self.seen]}")


@pytest.fixture
async def events(nats_url: str) -> AsyncIterator[Events]:
    nc = await nats.connect(nats_url)
    received = Events()
    await nc.subscribe(subjects.security_all(), cb=received.on)
    await nc.flush()
    try:
        yield received
    finally:
        await nc.close()


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 when none)."""
    return sum(
        v for got, v in samples.get(name, []) if all(got.get(k) == w for k, w in labels.items())
    )


async def eventually_metric(
    service: ServiceProcess, name: str, at_least: float, timeout: float = 10.0, **labels: str
) -> float:
    deadline = time.monotonic() + timeout
    while True:
        found = total(await asyncio.to_thread(metrics, service), name, **labels)
        if found >= at_least or time.monotonic() > deadline:
            assert found >= at_least, (name, labels, found)
            return found
        await asyncio.sleep(0.1)


async def test_a_failed_authentication_is_an_event_a_log_line_and_a_count(
    procs: dict[str, ServiceProcess], events: Events
) -> None:
    gw = procs["gw"]
    before = total(metrics(gw), "roomcast_security_events_total", kind="auth_failed")
    expired = jwt.encode(
        {"sub": "u", "tenant": "t", "role": "member", "exp": int(time.time()) - 600},
        SECRET,
        algorithm="HS256",
    )
    err = await connect_error(gw.url, auth={"token": expired})
    assert err["data"]["code"] == "UNAUTHENTICATED"
    subject, event, body = await events.wait(lambda e: e.kind is SecurityKind.AUTH_FAILED)
    assert subject == subjects.security_event(None, "auth_failed")
    assert event.service == "gateway" and event.instance == "gw-signals"
    assert event.reason == err["data"]["message"]
    assert event.transport == "socketio" and event.namespace == "/tenant"
    assert event.tenant is None and event.user_id is None
    assert expired not in body.decode() and SECRET not in body.decode()
    await eventually_metric(gw, "roomcast_security_events_total", before + 1, kind="auth_failed")
    samples = metrics(gw)
    assert total(samples, "roomcast_gateway_refusals_total", stage="connect") >= 1


async def test_a_cross_tenant_attempt_is_an_event_and_a_count(
    procs: dict[str, ServiceProcess], events: Events
) -> None:
    gw = procs["gw"]
    tenant, other = unique("sig"), unique("other")
    before = total(metrics(gw), "roomcast_security_events_total", kind="cross_tenant")
    headers = {"Authorization": f"Bearer {token('mallory', tenant)}"}
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as http:
        resp = await http.get("/api/chat-rooms", params={"tenant": other}, headers=headers)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "FORBIDDEN"
    subject, event, _ = await events.wait(
        lambda e: e.kind is SecurityKind.CROSS_TENANT and e.target_tenant == other
    )
    assert subject == subjects.security_event(tenant, "cross_tenant")
    assert (event.tenant, event.user_id, event.code) == (tenant, "mallory", "FORBIDDEN")
    await eventually_metric(gw, "roomcast_security_events_total", before + 1, kind="cross_tenant")
    await eventually_metric(
        gw,
        "roomcast_http_request_duration_seconds_count",
        1,
        route="/api/chat-rooms",
        method="GET",
        status="4xx",
    )


async def test_creating_a_room_over_http_is_an_admin_action_event(
    procs: dict[str, ServiceProcess], events: Events
) -> None:
    gw, rooms = procs["gw"], procs["rooms"]
    tenant = unique("adm")
    headers = {"Authorization": f"Bearer {token('boss', tenant, 'admin')}"}
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as http:
        resp = await http.post(
            "/api/chat-rooms", json={"name": "Ops", "slug": "ops"}, headers=headers
        )
    assert resp.status_code in (200, 201), resp.text
    subject, event, _ = await events.wait(
        lambda e: e.kind is SecurityKind.ADMIN_ACTION and e.tenant == tenant
    )
    assert subject == subjects.security_event(tenant, "admin_action")
    assert event.service == "rooms" and event.action is AdminAction.ROOM_CREATE
    assert (event.user_id, event.role, event.room) == ("boss", "admin", "room:ops")
    await eventually_metric(rooms, "roomcast_security_events_total", 1, kind="admin_action")
    await eventually_metric(
        rooms,
        "roomcast_rooms_command_duration_seconds_count",
        1,
        command="rooms.create",
        outcome="ok",
    )
    await eventually_metric(
        gw,
        "roomcast_http_request_duration_seconds_count",
        1,
        route="/api/chat-rooms",
        method="POST",
        status="2xx",
    )


async def test_traffic_moves_the_event_counters_and_the_delivery_latency(
    procs: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    gw = procs["gw"]
    tenant = unique("traffic")
    before = metrics(gw)
    sent_before = total(before, "roomcast_gateway_events_total", event="chat:send", outcome="ok")
    latency_before = total(before, "roomcast_gateway_delivery_latency_seconds_count")
    alice = await connect(gw.url, token("alice", tenant))
    bob = await connect(gw.url, token("bob", tenant))
    clients += [alice, bob]
    for i in range(5):
        ack = await alice.call("chat:send", {"to": "bob", "body": f"hi {i}"})
        assert ack["ok"], ack
    await bob.wait_for("chat:message", lambda m: m.get("body") == "hi 4")
    refused = await alice.call("no:such:event", {})
    assert refused["error"]["code"] == "INVALID"

    samples = metrics(gw)
    sent = total(samples, "roomcast_gateway_events_total", event="chat:send", outcome="ok")
    assert sent >= sent_before + 5
    assert total(samples, "roomcast_gateway_events_total", event="other", outcome="INVALID") >= 1
    assert total(samples, "roomcast_gateway_delivery_latency_seconds_count") >= latency_before + 5
    assert total(samples, "roomcast_gateway_delivery_latency_seconds_bucket", le="1.0") >= 5
    assert total(samples, "roomcast_gateway_sockets", socketio_namespace="/tenant") >= 2
    assert total(samples, "roomcast_gateway_connections") >= 2
    assert total(samples, "roomcast_gateway_rooms", kind="user") >= 2
    assert total(samples, "roomcast_gateway_room_sockets_bucket", kind="user", le="+Inf") >= 2
    assert total(samples, "roomcast_nats_pending_bytes") >= 0
    assert "no:such:event" not in str(samples)


async def test_presence_transitions_and_the_persistence_consumer_are_measured(
    procs: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    tenant = unique("presence")
    carol = await connect(procs["gw"].url, token("carol", tenant))
    clients.append(carol)
    await eventually_metric(
        procs["presence"], "roomcast_presence_transitions_total", 1, transition="online"
    )
    samples = metrics(procs["persistence"])
    assert "roomcast_jetstream_consumer_pending_messages" in samples
    assert "roomcast_jetstream_consumer_ack_pending_messages" in samples
    assert "roomcast_dead_letters_total" in samples
    assert "roomcast_dead_letters_total" in metrics(procs["rooms"])


async def test_refused_origins_and_oversized_frames_are_security_events(
    procs: dict[str, ServiceProcess], events: Events
) -> None:
    gw = procs["gw"]
    tenant = unique("edge")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Client().connect(
            gw.url,
            auth={"token": token("eve", tenant)},
            headers={"Origin": "http://evil.example"},
        )
    _, refused, _ = await events.wait(lambda e: e.kind is SecurityKind.ORIGIN_REFUSED)
    assert refused.origin == "http://evil.example" and refused.code == "FORBIDDEN"

    big = await connect(gw.url, token("big", tenant))
    with contextlib.suppress(Exception):
        await big.call("chat:send", {"to": "x", "body": "x" * 100_000}, timeout=3)
    _, oversized, _ = await events.wait(lambda e: e.kind is SecurityKind.FRAME_TOO_LARGE)
    assert oversized.code == "TOO_LARGE" and oversized.transport == "socketio"
    await big.close()
    samples = metrics(gw)
    for kind in ("origin_refused", "frame_too_large"):
        assert total(samples, "roomcast_security_events_total", kind=kind) >= 1
