"""The HTTP API in process, against a fake bus: tenants, refusals, statuses.

The routes run for real (FastAPI, the edge checks, the token verifier); only NATS is
replaced, answering each subject with a canned reply and recording what was asked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from nats.errors import NoRespondersError

from contracts import endpoints as e
from contracts import explicit_rooms as x
from contracts.errors import ErrorCode
from roomcast.dev.tokens import mint
from services.gateway.auth import TokenVerifier
from services.gateway.http import ApiDeps, ApiLimits, build_api
from services.gateway.settings import GatewaySettings

SECRET = "a-test-secret-of-at-least-32-bytes!!"
ROOM = x.RoomView(
    id=7,
    room="room:lobby",
    slug="lobby",
    name="Lobby",
    status=x.RoomStatus.ACTIVE,
    visibility=x.Visibility.PUBLIC,
    tenant="acme",
    created_at="2026-01-01T00:00:00+00:00",
    updated_at="2026-01-01T00:00:00+00:00",
)


@dataclass
class FakeBus:
    """Answers `subject → reply`; records `(subject, request)`; raises for `down`."""

    replies: dict[str, Callable[[dict[str, Any]], Any]]
    asked: list[tuple[str, dict[str, Any]]]
    down: bool = False

    async def request(self, subject: str, body: bytes, timeout: float) -> Any:
        if self.down:
            raise NoRespondersError
        payload = json.loads(body)
        self.asked.append((subject, payload))
        reply = self.replies[subject](payload)
        return SimpleNamespace(data=reply.model_dump_json(by_alias=True).encode())


@pytest.fixture
def bus() -> FakeBus:
    return FakeBus(
        replies={
            e.ROOM_GET.subject: lambda _: x.RoomReply(ok=True, room=ROOM),
            e.ROOM_CREATE.subject: lambda _: x.RoomReply.failure(
                ErrorCode.CONFLICT, "slug already taken"
            ),
        },
        asked=[],
    )


@pytest.fixture
async def api(bus: FakeBus) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        jwt_secret=SECRET, room_changes_burst=2, room_changes_per_minute=0.01
    )
    deps = ApiDeps(settings, bus, TokenVerifier(settings), ApiLimits.from_settings(settings))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=build_api(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield client


def auth(user: str = "ann", tenant: str = "acme", role: str = "member") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SECRET, user, tenant, role)}"}


async def test_a_user_acts_in_their_own_tenant(api: httpx.AsyncClient, bus: FakeBus) -> None:
    resp = await api.get("/api/chat/rooms/lobby", headers=auth())
    assert resp.status_code == 200 and resp.json()["createdAt"] == ROOM.created_at
    [(subject, asked)] = bus.asked
    assert subject == e.ROOM_GET.subject
    assert (asked["tenant"], asked["viaManage"], asked["room"]) == ("acme", False, "lobby")
    assert asked["identity"]["user_id"] == "ann"

    same = await api.get("/api/chat/rooms/lobby?tenant=acme", headers=auth())
    assert same.status_code == 200
    other = await api.get("/api/chat/rooms/lobby?tenant=globex", headers=auth())
    assert other.status_code == 403 and other.json()["error"]["code"] == "FORBIDDEN"
    assert len(bus.asked) == 2, "a refused tenant asks nobody"


async def test_a_super_admin_names_the_tenant(api: httpx.AsyncClient, bus: FakeBus) -> None:
    root = auth("root", "platform", "super_admin")
    unnamed = await api.get("/api/chat-rooms/lobby", headers=root)
    assert unnamed.status_code == 400 and unnamed.json()["error"]["code"] == "INVALID"
    named = await api.get("/api/chat-rooms/lobby?tenant=acme", headers=root)
    assert named.status_code == 200
    [(_, asked)] = bus.asked
    assert (asked["tenant"], asked["viaManage"]) == ("acme", True)


async def test_refusals_keep_their_code_and_get_its_status(
    api: httpx.AsyncClient, bus: FakeBus
) -> None:
    taken = await api.post("/api/chat-rooms", json={"name": "Lobby"}, headers=auth(role="admin"))
    assert taken.status_code == 409
    assert taken.json() == {"error": {"code": "CONFLICT", "message": "slug already taken"}}

    bus.down = True
    down = await api.get("/api/chat-rooms/lobby", headers=auth())
    assert down.status_code == 503 and down.json()["error"]["code"] == "UNAVAILABLE"


async def test_room_creations_are_limited_per_user(api: httpx.AsyncClient) -> None:
    admin = auth(role="admin")
    for _ in range(2):
        assert (
            await api.post("/api/chat-rooms", json={"name": "L"}, headers=admin)
        ).status_code == 409
    limited = await api.post("/api/chat-rooms", json={"name": "L"}, headers=admin)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    invalid = await api.post("/api/chat-rooms", json={"name": ""}, headers=admin)
    assert invalid.status_code == 400, "validation comes before the budget"
    other = auth("bea", role="admin")
    assert (await api.post("/api/chat-rooms", json={"name": "L"}, headers=other)).status_code == 409


async def test_the_edge_refuses_before_any_route(api: httpx.AsyncClient, bus: FakeBus) -> None:
    none = await api.get("/api/chat/rooms")
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    assert (await api.get("/api/openapi.json")).status_code == 200, "the document is public"
    big = await api.post(
        "/api/chat-rooms", content=b"x" * (64 * 1024 + 1), headers=auth(role="admin")
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "TOO_LARGE"
    cross = await api.get("/api/chat/rooms", headers={**auth(), "Origin": "http://evil.test"})
    assert cross.status_code == 403
    own = await api.get("/api/chat/rooms/lobby", headers={**auth(), "Origin": "http://gw.test"})
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == "http://gw.test"
    assert [subject for subject, _ in bus.asked] == [e.ROOM_GET.subject]


async def test_a_body_must_be_json(api: httpx.AsyncClient, bus: FakeBus) -> None:
    admin = auth(role="admin")
    form = await api.post(
        "/api/chat-rooms",
        content=b'{"name": "L"}',
        headers={**admin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 400 and form.json()["error"]["code"] == "INVALID"
    bare = await api.post("/api/chat-rooms", content=b'{"name": "L"}', headers=admin)
    assert bare.status_code == 400, "without a content type the body is no JSON either"
    sent = await api.post("/api/chat-rooms", json={"name": "L"}, headers=admin)
    assert sent.status_code == 409
    assert [subject for subject, _ in bus.asked] == [e.ROOM_CREATE.subject]


async def test_every_request_counts_against_the_users_request_rate(bus: FakeBus) -> None:
    settings = GatewaySettings(
        jwt_secret=SECRET, http_rate_limit_burst=3, http_rate_limit_per_sec=0.01
    )
    deps = ApiDeps(settings, bus, TokenVerifier(settings), ApiLimits.from_settings(settings))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=build_api(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as api:
        codes = [(await api.get("/api/chat/rooms/lobby", headers=auth())).status_code]
        codes += [(await api.get("/api/no/such", headers=auth())).status_code for _ in range(2)]
        limited = await api.get("/api/chat/rooms/lobby", headers=auth())
        other = await api.get("/api/chat/rooms/lobby", headers=auth("bea"))
    assert codes == [200, 404, 404]
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    assert other.status_code == 200
