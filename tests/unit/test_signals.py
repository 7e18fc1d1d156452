"""Metrics and security events: fixed label sets, event models, nothing secret in them."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from contracts import delivery, subjects
from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.errors import ErrorCode, ServiceError
from contracts.events import CLIENT_EVENTS
from contracts.identity import Identity
from contracts.security import AdminAction, SecurityEvent, SecurityKind
from contracts.tenants import OkReply
from roomcast.platform.logs import JsonFormatter, Redactor
from roomcast.platform.metrics import MetricSet, status_class
from roomcast.platform.security import SecurityEvents
from services.gateway.auth import AuthError
from services.gateway.edge_watch import EdgeEngineIO, watch
from services.gateway.http.timing import route_template
from services.gateway.metrics import EVENT_NAMES, OUTCOMES, room_families
from services.gateway.signals import GatewaySignals
from services.rooms.audit import RoomAudit
from services.rooms.metrics import RoomsMetrics
from tests.unit.test_logs import TOKEN

ALICE = Identity(tenant="acme", user_id="alice", role="member")


class FakeNats:
    def __init__(self, connected: bool = True) -> None:
        self.is_connected = connected
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes = b"") -> None:
        self.published.append((subject, payload))


def render(*sets: MetricSet) -> str:
    registry = CollectorRegistry()
    for metric_set in sets:
        for collector in metric_set.collectors():
            registry.register(collector)
    return generate_latest(registry).decode()


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not in the output")


def label_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        inside = line[line.index("{") + 1 : line.rindex("}")]
        names |= {pair.split("=", 1)[0] for pair in inside.split('",') if pair}
    return names


def gateway_signals(nc: FakeNats | None = None, clock: float = 1000.0) -> GatewaySignals:
    return GatewaySignals(SecurityEvents("gateway", "gw-1", nc), clock=lambda: clock)


# label sets ------------------------------------------------------------------------


def test_event_labels_are_the_client_events_and_other() -> None:
    assert set(EVENT_NAMES) == {e.name for e in CLIENT_EVENTS} | {"other"}
    assert set(OUTCOMES) == {"ok"} | {code.value for code in ErrorCode}


def test_an_unknown_event_name_is_counted_as_other() -> None:
    signals = gateway_signals()
    started = 0.0
    signals.event("chat:send", {"ok": True}, started, ALICE, False, {})
    signals.event("x" * 300, {"ok": False, "error": {"code": "INVALID"}}, started, ALICE, False, {})
    text = render(signals.metrics)
    assert sample(text, "roomcast_gateway_events_total", event="chat:send", outcome="ok") == 1
    assert sample(text, "roomcast_gateway_events_total", event="other", outcome="INVALID") == 1
    assert "x" * 300 not in text
    assert sample(text, "roomcast_gateway_refusals_total", stage="event", code="INVALID") == 1


def test_no_label_names_a_user_tenant_or_room() -> None:
    signals = gateway_signals()
    signals.security.emit(SecurityKind.AUTH_FAILED, tenant="acme", user_id="alice")
    signals.http_request("/api/chat/rooms/{room}", "GET", 404, 0.01)
    text = render(*signals.metric_sets())
    assert label_names(text) <= {"event", "outcome", "stage", "code", "kind", "reason", "le"} | {
        "route",
        "method",
        "status",
    }
    assert "alice" not in text and "acme" not in text
    assert sample(text, "roomcast_http_request_duration_seconds_count", status="4xx") == 1


@pytest.mark.parametrize(
    ("status", "label"), [(200, "2xx"), (404, "4xx"), (503, "5xx"), (0, "other")]
)
def test_status_classes(status: int, label: str) -> None:
    assert status_class(status) == label


def test_room_sizes_become_a_distribution_per_kind() -> None:
    sizes = [
        (subjects.deliver_user("t", "a"), 1),
        (subjects.deliver_user("t", "b"), 3),
        (subjects.deliver_room("t", "room:x"), 120),
    ]
    registry = CollectorRegistry()

    class Rooms:
        def collect(self) -> Any:
            yield from room_families(sizes)

    registry.register(Rooms())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert sample(text, "roomcast_gateway_rooms", kind="user") == 2
    assert sample(text, "roomcast_gateway_room_sockets_bucket", kind="user", le="1") == 1
    assert sample(text, "roomcast_gateway_room_sockets_bucket", kind="user", le="5") == 2
    assert sample(text, "roomcast_gateway_room_sockets_bucket", kind="room", le="100") == 0
    assert sample(text, "roomcast_gateway_room_sockets_bucket", kind="room", le="250") == 1
    assert sample(text, "roomcast_gateway_room_sockets_gsum", kind="room") == 120


def test_delivery_latency_is_observed_once_per_delivery_from_its_header() -> None:
    signals = gateway_signals(clock=1000.25)
    headers, body = delivery.encode("chat:message", {})
    item = delivery.decode({**headers, delivery.PUBLISHED: "1000.000000"}, body)
    signals.delivered(item)
    signals.delivered(delivery.decode({delivery.EVENT: "chat:message"}, body))  # no header
    text = render(signals.metrics)
    assert sample(text, "roomcast_gateway_delivery_latency_seconds_count") == 1
    assert sample(text, "roomcast_gateway_delivery_latency_seconds_bucket", le="0.25") == 1
    assert sample(text, "roomcast_gateway_delivery_latency_seconds_bucket", le="0.1") == 0


# security events -----------------------------------------------------------------


async def test_a_failed_authentication_is_logged_published_and_counted_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nc = FakeNats()
    signals = gateway_signals(nc)
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REMOTE_PORT": "5555",
        "QUERY_STRING": f"token={TOKEN}",
        "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
    }
    with caplog.at_level(logging.WARNING, logger="roomcast.security"):
        signals.connect_refused("/tenant", AuthError("the token has expired"), environ)
        await signals.security.settle()
    [(subject, body)] = nc.published
    assert subject == subjects.security_event(None, "auth_failed")
    event = SecurityEvent.model_validate_json(body)
    assert event.kind is SecurityKind.AUTH_FAILED
    assert event.code is ErrorCode.UNAUTHENTICATED
    assert event.reason == "the token has expired"
    assert event.remote == "10.0.0.7:5555"
    assert event.tenant is None and event.service == "gateway"
    assert TOKEN not in body.decode() and TOKEN not in caplog.text
    [record] = [r for r in caplog.records if r.name == "roomcast.security"]
    assert record.levelno == logging.WARNING
    assert record.fields["reason"] == "the token has expired"  # type: ignore[attr-defined]
    text = render(*signals.metric_sets())
    assert sample(text, "roomcast_security_events_total", kind="auth_failed") == 1
    assert (
        sample(text, "roomcast_gateway_refusals_total", stage="connect", code="UNAUTHENTICATED")
        == 1
    )


async def test_a_namespace_refusal_names_who_was_refused() -> None:
    nc = FakeNats()
    signals = gateway_signals(nc)
    exc = AuthError("this role may not connect to /manage", ErrorCode.FORBIDDEN)
    exc.identity = ALICE
    signals.connect_refused("/manage", exc, {})
    await signals.security.settle()
    [(subject, body)] = nc.published
    assert subject == subjects.security_event("acme", "namespace_refused")
    event = SecurityEvent.model_validate_json(body)
    assert (event.user_id, event.namespace) == ("alice", "/manage")


async def test_a_forbidden_event_naming_another_tenant_is_a_cross_tenant_attempt() -> None:
    nc = FakeNats()
    signals = gateway_signals(nc)
    refused = {"ok": False, "error": {"code": "FORBIDDEN", "message": "tenantId is not yours"}}
    signals.event("notification:read", refused, 0.0, ALICE, False, {"tenantId": "globex"})
    signals.event("notification:read", refused, 0.0, ALICE, False, {"tenantId": "acme"})
    await signals.security.settle()
    [(subject, body)] = nc.published
    assert subject == subjects.security_event("acme", "cross_tenant")
    assert SecurityEvent.model_validate_json(body).target_tenant == "globex"


async def test_publishing_never_blocks_and_is_bounded() -> None:
    down = SecurityEvents("gateway", "gw", FakeNats(connected=False))
    down.emit(SecurityKind.RATE_LIMITED, tenant="acme")
    text = render(down.metrics)
    assert sample(text, "roomcast_security_events_dropped_total", reason="nats") == 1

    flood = SecurityEvents("gateway", "gw", FakeNats(), per_second=0.001, burst=2)
    for _ in range(5):
        flood.emit(SecurityKind.RATE_LIMITED, tenant="acme")
    await flood.settle()
    text = render(flood.metrics)
    assert sample(text, "roomcast_security_events_total", kind="rate_limited") == 5
    assert sample(text, "roomcast_security_events_dropped_total", reason="flood") == 3

    class Stuck(FakeNats):
        async def publish(self, subject: str, payload: bytes = b"") -> None:
            await asyncio.Event().wait()

    backlog = SecurityEvents("gateway", "gw", Stuck(), max_inflight=2)
    for _ in range(4):
        backlog.emit(SecurityKind.AUTH_FAILED)
    assert (
        sample(render(backlog.metrics), "roomcast_security_events_dropped_total", reason="backlog")
        == 2
    )
    for task in list(backlog._inflight):
        task.cancel()
    await backlog.settle()


async def test_events_emitted_from_a_worker_thread_are_published_on_the_loop() -> None:
    nc = FakeNats()
    events = SecurityEvents("gateway", "gw", nc)
    await asyncio.to_thread(events.emit, SecurityKind.CROSS_TENANT, tenant="acme")
    await asyncio.sleep(0)
    await events.settle()
    assert [subject for subject, _ in nc.published] == [
        subjects.security_event("acme", "cross_tenant")
    ]


def test_long_text_is_cut_and_json_logs_carry_the_fields() -> None:
    events = SecurityEvents("gateway", "gw", None)
    event = events.emit(SecurityKind.ORIGIN_REFUSED, origin="http://" + "e" * 1000)
    assert event is not None and event.origin is not None and len(event.origin) == 256
    formatter = JsonFormatter("gateway", Redactor([], strip_ansi=True))
    record = logging.LogRecord("roomcast.security", logging.WARNING, __file__, 1, "m", None, None)
    record.fields = {"reason": f"bad {TOKEN}", "kind": "auth_failed"}
    line = json.loads(formatter.format(record))
    assert line["fields"] == {"reason": "bad ***", "kind": "auth_failed"}


def test_every_event_field_is_described() -> None:
    for name, field in SecurityEvent.model_fields.items():
        assert field.description, name
    assert "token" not in " ".join(SecurityEvent.model_fields)


# the rooms service ---------------------------------------------------------------


ADMIN = Identity(tenant="acme", user_id="boss", role="admin")


async def test_admin_actions_and_cross_tenant_refusals_of_the_rooms_service() -> None:
    nc = FakeNats()
    audit = RoomAudit(SecurityEvents("rooms", "rooms-1", nc))
    view = x.RoomView.model_validate(
        {
            "id": 7,
            "room": "room:lobby",
            "slug": "lobby",
            "name": "Lobby",
            "status": "active",
            "visibility": "public",
            "tenant": "acme",
            "createdBy": "boss",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
        }
    )

    async def create(cmd: x.CreateRoom) -> x.RoomReply:
        return x.RoomReply(ok=True, room=view)

    async def remove(cmd: x.RemoveMember) -> OkReply:
        raise ServiceError(ErrorCode.FORBIDDEN, "you may only act in your own tenant")

    created = audit.wrap(e.ROOM_CREATE, create)
    await created(x.CreateRoom(identity=ADMIN, tenant="acme", name="Lobby"))
    removing = audit.wrap(e.ROOM_MEMBER_REMOVE, remove)
    with pytest.raises(ServiceError):
        await removing(x.RemoveMember(identity=ADMIN, tenant="globex", room="lobby", user_id="u"))
    await audit.security.settle()
    (s1, b1), (s2, b2) = nc.published
    assert s1 == subjects.security_event("acme", "admin_action")
    admin = SecurityEvent.model_validate_json(b1)
    assert (admin.action, admin.room, admin.user_id) == (
        AdminAction.ROOM_CREATE,
        "room:lobby",
        "boss",
    )
    assert s2 == subjects.security_event("acme", "cross_tenant")
    assert SecurityEvent.model_validate_json(b2).target_tenant == "globex"


@pytest.mark.parametrize(
    ("endpoint", "fields", "action"),
    [
        (e.ROOM_UPDATE, {"name": "New"}, AdminAction.ROOM_UPDATE),
        (e.ROOM_UPDATE, {"status": "archived"}, AdminAction.ROOM_ARCHIVE),
        (e.ROOM_UPDATE, {"status": "active"}, AdminAction.ROOM_UNARCHIVE),
        (e.ROOM_DELETE, {}, AdminAction.ROOM_ARCHIVE),
        (e.ROOM_DELETE, {"permanent": True}, AdminAction.ROOM_DELETE),
        (e.ROOM_MEMBER_ADD, {"userId": "u", "role": "moderator"}, AdminAction.MEMBER_ADD),
        (e.ROOM_MEMBER_ROLE, {"userId": "u", "role": "admin"}, AdminAction.MEMBER_ROLE),
        (e.ROOM_MEMBER_REMOVE, {"userId": "u"}, AdminAction.MEMBER_REMOVE),
        (e.ROOM_GET, {}, None),
        (e.ROOM_JOIN, {}, None),
    ],
)
async def test_which_commands_are_admin_actions(
    endpoint: e.Endpoint[Any, Any], fields: dict[str, Any], action: AdminAction | None
) -> None:
    nc = FakeNats()
    audit = RoomAudit(SecurityEvents("rooms", "rooms-1", nc))
    cmd = endpoint.request.model_validate(
        {"identity": ADMIN.model_dump(by_alias=True), "tenant": "acme", "room": "lobby", **fields}
    )

    async def handler(cmd: Any) -> Any:
        return endpoint.reply(ok=True)

    metrics = RoomsMetrics()
    audit.metrics = metrics
    await audit.wrap(endpoint, handler)(cmd)
    await audit.security.settle()
    text = render(metrics)
    count = "roomcast_rooms_command_duration_seconds_count"
    assert sample(text, count, command=endpoint.name, outcome="ok") == 1
    actions = [SecurityEvent.model_validate_json(body).action for _, body in nc.published]
    assert actions == ([action] if action else [])
    if action is not None and "userId" in fields:
        event = SecurityEvent.model_validate_json(nc.published[0][1])
        assert (event.room, event.target_user_id) == ("lobby", "u")


# the edge ------------------------------------------------------------------------


async def test_the_edge_watch_reports_oversized_frames_and_bodies() -> None:
    nc = FakeNats()
    signals = gateway_signals(nc)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
        else:
            await send({"type": "http.response.start", "status": 413, "headers": []})

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1009}

    async def send(message: Any) -> None:
        return None

    watched = watch(app, signals)
    await watched({"type": "websocket", "path": "/socket.io/"}, receive, send)
    await watched({"type": "http", "path": "/socket.io/", "client": ("1.2.3.4", 9)}, receive, send)
    await watched({"type": "http", "path": "/api/x"}, receive, send)  # not the Socket.IO path
    await signals.security.settle()
    reasons = [SecurityEvent.model_validate_json(body).reason for _, body in nc.published]
    assert reasons == [
        "a WebSocket frame over the frame limit",
        "a long-polling body over the frame limit",
    ]


def test_engineio_reports_a_refused_origin_once_per_request() -> None:
    server = EdgeEngineIO(async_mode="asgi", cors_allowed_origins=["http://app.example"])
    seen: list[str] = []
    server.on_bad_origin = lambda origin, environ: seen.append(origin)
    bad = {"HTTP_ORIGIN": "http://evil.example"}
    good = {"HTTP_ORIGIN": "http://app.example"}
    for environ in (bad, bad, good):
        server._cors_allowed_origins(environ)
    assert seen == ["http://evil.example"]


def test_http_routes_are_labelled_by_template() -> None:
    route = SimpleNamespace(path="/api/chat-rooms/{id}")
    assert route_template({"route": route}) == "/api/chat-rooms/{id}"
    assert route_template({}) == "unmatched"
