"""The HTTP API of explicit rooms through real gateways, rooms and persistence services.

Every request goes over a real socket (httpx) to a gateway process; the rooms service
decides, PostgreSQL stores. Each test uses fresh tenants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.clients import unique
from tests.http_support import Api, tenant_admin
from tests.persistence_support import Gateways, gateway_stack

ROOM_CHANGES_BURST = 6
MEMBER_CHANGES_BURST = 12
ORIGIN = "https://app.example"

PATHS = {
    "/api/chat-rooms": {"get", "post"},
    "/api/chat-rooms/{id}": {"get", "put", "delete"},
    "/api/chat-rooms/entity": {"post"},
    "/api/chat-rooms/entity/{linkId}": {"delete"},
    "/api/chat-rooms/entity/{type}/{entityId}": {"get"},
    "/api/chat-rooms/{id}/members": {"get", "post"},
    "/api/chat-rooms/{id}/members/{userId}": {"put", "delete"},
    "/api/chat/rooms": {"get"},
    "/api/chat/rooms/{id}": {"get"},
    "/api/chat/rooms/{id}/join": {"post"},
    "/api/chat/rooms/{id}/leave": {"delete"},
    "/api/chat/rooms/{id}/messages": {"get", "post"},
    "/api/chat/event/{entityId}/room": {"get"},
    "/api/chat/group/{entityId}/room": {"get"},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    env = {
        "ROOMCAST_ROOM_CHANGES_BURST": str(ROOM_CHANGES_BURST),
        "ROOMCAST_ROOM_CHANGES_PER_MINUTE": "1",
        "ROOMCAST_MEMBER_CHANGES_BURST": str(MEMBER_CHANGES_BURST),
        "ROOMCAST_MEMBER_CHANGES_PER_MINUTE": "1",
        "ROOMCAST_CORS_ORIGINS": ORIGIN,
    }
    with gateway_stack(tmp_path_factory.mktemp("http"), database_url, env=env) as gateways:
        yield gateways


@pytest.fixture
async def http(stack: Gateways) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gw1.url, timeout=10) as client:
        yield client


def no_tracebacks(stack: Gateways) -> None:
    output = stack.gw1.output() + stack.gw2.output()
    assert "Traceback" not in output, output[-3000:]


async def test_the_openapi_document_lists_every_path_and_health_still_answers(
    http: httpx.AsyncClient,
) -> None:
    resp = await http.get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert {path: set(ops) for path, ops in doc["paths"].items()} == PATHS
    room = doc["components"]["schemas"]["RoomView"]["properties"]
    assert {"createdBy", "createdAt", "entities"} <= set(room), "camelCase as on the wire"
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "cookie"}
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).json() == {"ok": True, "nats": True}


async def test_without_a_valid_token_every_endpoint_is_401(
    http: httpx.AsyncClient, stack: Gateways
) -> None:
    admin = tenant_admin(http)
    await admin.room("open", "public")
    for path, methods in PATHS.items():
        concrete = (
            path.replace("{id}", "open")
            .replace("{linkId}", "1")
            .replace("{type}", "event")
            .replace("{entityId}", "1")
            .replace("{userId}", "ann")
        )
        for method in methods:
            answer = await admin.call(method.upper(), concrete, {}, auth=False)
            assert (answer.status, answer.code) == (401, "UNAUTHENTICATED"), (method, path)
            assert answer.headers["www-authenticate"] == "Bearer"
            bad = {"Authorization": "Bearer not.a.jwt"}
            answer = await admin.call(method.upper(), concrete, {}, auth=False, headers=bad)
            assert (answer.status, answer.code) == (401, "UNAUTHENTICATED"), (method, path)
    cookie = {"Cookie": f"access_token={admin.token}"}
    by_cookie = await admin.call("GET", "/api/chat-rooms/open", auth=False, headers=cookie)
    assert by_cookie.status == 200 and by_cookie.body["slug"] == "open"
    no_tracebacks(stack)


async def test_the_role_table_through_http(http: httpx.AsyncClient, stack: Gateways) -> None:
    admin = tenant_admin(http)
    radmin, mod, ann, zed = (
        admin.as_("radmin"),
        admin.as_("mod"),
        admin.as_("ann"),
        admin.as_("zed"),
    )
    staff = await admin.room("staff")
    assert staff["room"] == "room:staff" and staff["tenant"] == admin.tenant
    await admin.add("staff", "radmin", "admin")
    await admin.add("staff", "mod", "moderator")
    await admin.add("staff", "ann")

    # join, read history, post: every member role, tenant admins; an outsider sees nothing
    for who in (ann, mod, radmin, admin):
        assert (await who.ok("GET", "/api/chat/rooms/staff"))["id"] == staff["id"]
        assert "items" in await who.ok("GET", "/api/chat/rooms/staff/messages")
        posted = await who.ok("POST", "/api/chat/rooms/staff/messages", {"body": "hi"})
        assert set(posted) == {"id", "ts", "seq"}
    for method, path, body in (
        ("GET", "/api/chat/rooms/staff", None),
        ("GET", f"/api/chat-rooms/{staff['id']}", None),
        ("GET", "/api/chat/rooms/staff/messages", None),
        ("POST", "/api/chat/rooms/staff/messages", {"body": "let me in"}),
        ("POST", "/api/chat/rooms/staff/join", None),
    ):
        await zed.refused(404, "NOT_FOUND", method, path, body)

    # a public room: any user of the tenant reads it; posting needs membership
    await admin.room("town", "public")
    assert (await zed.ok("GET", "/api/chat/rooms/town"))["visibility"] == "public"
    await zed.ok("GET", "/api/chat/rooms/town/messages")
    await zed.refused(403, "FORBIDDEN", "POST", "/api/chat/rooms/town/messages", {"body": "x"})
    assert (await zed.ok("POST", "/api/chat/rooms/town/join"))["role"] == "member"
    await zed.ok("POST", "/api/chat/rooms/town/messages", {"body": "now I may"})
    await zed.ok("DELETE", "/api/chat/rooms/town/leave")
    await zed.refused(404, "NOT_FOUND", "DELETE", "/api/chat/rooms/town/leave")

    # update: moderators up
    await ann.refused(403, "FORBIDDEN", "PUT", "/api/chat-rooms/staff", {"name": "No"})
    assert (await mod.ok("PUT", "/api/chat-rooms/staff", {"description": "d"}))["description"]

    # members with role member: moderators up; other roles and removing them: room admins
    await ann.refused(403, "FORBIDDEN", "POST", "/api/chat-rooms/staff/members", {"userId": "x"})
    await mod.ok("POST", "/api/chat-rooms/staff/members", {"userId": "bob"})
    await mod.ok("DELETE", "/api/chat-rooms/staff/members/bob")
    await mod.refused(
        403, "FORBIDDEN", "POST", "/api/chat-rooms/staff/members", {"userId": "y", "role": "admin"}
    )
    await mod.refused(
        403, "FORBIDDEN", "PUT", "/api/chat-rooms/staff/members/ann", {"role": "moderator"}
    )
    await mod.refused(403, "FORBIDDEN", "DELETE", "/api/chat-rooms/staff/members/radmin")
    changed = await radmin.ok("PUT", "/api/chat-rooms/staff/members/ann", {"role": "moderator"})
    assert changed == {"userId": "ann", "role": "moderator", "joinedAt": changed["joinedAt"]}
    await radmin.refused(
        404, "NOT_FOUND", "PUT", "/api/chat-rooms/staff/members/nobody", {"role": "member"}
    )

    # archive, unarchive, delete: room admins up; an archived room refuses posts
    await mod.refused(403, "FORBIDDEN", "DELETE", "/api/chat-rooms/staff")
    assert (await radmin.ok("DELETE", "/api/chat-rooms/staff"))["status"] == "archived"
    await ann.refused(403, "FORBIDDEN", "POST", "/api/chat/rooms/staff/messages", {"body": "x"})
    await ann.ok("GET", "/api/chat/rooms/staff/messages")
    back = await radmin.ok("PUT", "/api/chat-rooms/staff", {"status": "active"})
    assert back["status"] == "active"

    # create rooms and link them to entities: tenant admins only
    for who in (radmin, ann):
        await who.refused(403, "FORBIDDEN", "POST", "/api/chat-rooms", {"name": "Mine"})
    link = {"roomId": staff["id"], "entityType": "event", "entityId": "42", "isPrimary": True}
    await radmin.refused(403, "FORBIDDEN", "POST", "/api/chat-rooms/entity", link)
    made = await admin.ok("POST", "/api/chat-rooms/entity", link)
    assert made["entityType"] == "event" and made["isPrimary"] is True
    assert (await ann.ok("GET", "/api/chat/event/42/room"))["room"] == "event:42"
    await ann.refused(404, "NOT_FOUND", "GET", "/api/chat/group/42/room")
    listed = await ann.ok("GET", "/api/chat-rooms/entity/event/42")
    assert [r["id"] for r in listed["items"]] == [staff["id"]] and listed["next"] is None
    await radmin.refused(403, "FORBIDDEN", "DELETE", f"/api/chat-rooms/entity/{made['linkId']}")
    await admin.ok("DELETE", f"/api/chat-rooms/entity/{made['linkId']}")
    await ann.refused(404, "NOT_FOUND", "GET", "/api/chat/event/42/room")

    # a super_admin names the tenant with ?tenant=
    root = Api(http, unique("platform"), "root", "super_admin")
    await root.refused(400, "INVALID", "GET", "/api/chat-rooms/staff")
    mine = {"tenant": admin.tenant}
    assert (await root.ok("GET", "/api/chat-rooms/staff", params=mine))["id"] == staff["id"]
    await root.ok("POST", "/api/chat/rooms/staff/messages", {"body": "ops"}, params=mine)
    await root.ok("POST", "/api/chat-rooms", {"name": "Ops"}, params=mine)
    await ann.refused(403, "FORBIDDEN", "GET", "/api/chat-rooms/staff", params={"tenant": "x"})
    await ann.ok("GET", "/api/chat-rooms/staff", params={"tenant": admin.tenant})

    # deleting for good: the room is gone for everyone
    gone = await radmin.ok("DELETE", "/api/chat-rooms/staff", params={"permanent": "true"})
    assert gone["status"] == "deleted"
    await admin.refused(404, "NOT_FOUND", "GET", "/api/chat-rooms/staff")
    no_tracebacks(stack)
