"""The HTTP API of explicit rooms through real gateways, rooms and persistence services.

Every request goes over a real socket (httpx) to a gateway process; the rooms service
decides, PostgreSQL stores. Each test uses fresh tenants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.clients import Client, connect, token, unique
from tests.http_support import Api, tenant_admin
from tests.persistence_support import Gateways, eventually, gateway_stack

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
    "/api/server/publish": {"post"},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    env = {
        "ROOMCAST_ROOM_CHANGES_BURST": str(ROOM_CHANGES_BURST),
        "ROOMCAST_ROOM_CHANGES_PER_MINUTE": "1",
        "ROOMCAST_MEMBER_CHANGES_BURST": str(MEMBER_CHANGES_BURST),
        "ROOMCAST_MEMBER_CHANGES_PER_MINUTE": "1",
        "ROOMCAST_CORS_ORIGINS": ORIGIN,
        "ROOMCAST_HTTP_RATE_LIMIT_BURST": "1000",
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

    # a tenant admin who is no member, and a super_admin naming the tenant, may do what
    # a room admin does
    boss = admin.as_("boss", "admin")
    for who, params in ((boss, None), (root, mine)):
        await who.ok("PUT", "/api/chat-rooms/staff", {"name": "Staff"}, params=params)
        vip = {"userId": "vip", "role": "admin"}
        await who.ok("POST", "/api/chat-rooms/staff/members", vip, params=params)
        role = {"role": "moderator"}
        await who.ok("PUT", "/api/chat-rooms/staff/members/vip", role, params=params)
        await who.ok("DELETE", "/api/chat-rooms/staff/members/vip", params=params)
        archived = await who.ok("DELETE", "/api/chat-rooms/staff", params=params)
        assert archived["status"] == "archived"
        active = {"status": "active"}
        assert (await who.ok("PUT", "/api/chat-rooms/staff", active, params=params))["status"]
        await who.ok("POST", "/api/chat/rooms/staff/messages", {"body": "boss"}, params=params)

    # deleting for good: the room is gone for everyone
    gone = await radmin.ok("DELETE", "/api/chat-rooms/staff", params={"permanent": "true"})
    assert gone["status"] == "deleted"
    await admin.refused(404, "NOT_FOUND", "GET", "/api/chat-rooms/staff")
    no_tracebacks(stack)


async def test_tenants_never_see_each_others_rooms_and_a_slug_is_per_tenant(
    http: httpx.AsyncClient, stack: Gateways
) -> None:
    a, b = tenant_admin(http, "ta"), tenant_admin(http, "tb")
    ra = await a.room("same", "public")
    rb = await b.room("same", "public")
    assert ra["id"] != rb["id"] and (ra["tenant"], rb["tenant"]) == (a.tenant, b.tenant)
    await a.refused(409, "CONFLICT", "POST", "/api/chat-rooms", {"name": "Again", "slug": "same"})
    await a.ok("POST", "/api/chat/rooms/same/messages", {"body": "tenant a only"})
    stranger = b.as_("bo")
    assert (await stranger.ok("GET", "/api/chat/rooms/same"))["id"] == rb["id"]
    for method, path, body in (
        ("GET", f"/api/chat/rooms/{ra['id']}", None),
        ("GET", f"/api/chat-rooms/{ra['id']}", None),
        ("GET", f"/api/chat-rooms/{ra['id']}/members", None),
        ("POST", f"/api/chat/rooms/{ra['id']}/join", None),
        ("GET", f"/api/chat/rooms/{ra['id']}/messages", None),
        ("POST", f"/api/chat/rooms/{ra['id']}/messages", {"body": "cross"}),
        ("PUT", f"/api/chat-rooms/{ra['id']}", {"name": "Mine now"}),
        ("DELETE", f"/api/chat-rooms/{ra['id']}", None),
    ):
        await b.refused(404, "NOT_FOUND", method, path, body)
    for who in (b, stranger):
        listed = await who.ok("GET", "/api/chat/rooms")
        assert [r["id"] for r in listed["items"]] == [rb["id"]]
        listed = await who.ok("GET", "/api/chat-rooms", params={"q": "same"})
        assert [r["id"] for r in listed["items"]] == [rb["id"]]
    await stranger.refused(403, "FORBIDDEN", "GET", "/api/chat/rooms", params={"tenant": a.tenant})
    assert (await a.ok("GET", "/api/chat-rooms/same"))["name"] == "Same"
    assert (await b.ok("GET", f"/api/chat/rooms/{rb['id']}/messages"))["items"] == []
    no_tracebacks(stack)


async def test_lists_page_with_cursor_and_limit(http: httpx.AsyncClient) -> None:
    admin = tenant_admin(http)
    made = [(await admin.room(f"r{i}", "public"))["id"] for i in range(5)]
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        page = await admin.ok("GET", "/api/chat-rooms", params=params)
        pages += 1
        seen += [r["id"] for r in page["items"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert seen == made and pages == 3
    ann = admin.as_("ann")
    mine = await ann.ok("GET", "/api/chat/rooms", params={"limit": 3})
    assert [r["id"] for r in mine["items"]] == made[:3] and mine["next"] is not None
    assert (await ann.ok("GET", "/api/chat/rooms", params={"joined": "true"}))["items"] == []

    for user in ("u1", "u2", "u3", "u4"):
        await admin.add("r0", user)
    first = await admin.ok("GET", "/api/chat-rooms/r0/members", params={"limit": 3})
    rest = await admin.ok(
        "GET", "/api/chat-rooms/r0/members", params={"limit": 3, "cursor": first["next"]}
    )
    users = [m["userId"] for m in first["items"] + rest["items"]]
    assert users == ["admin", "u1", "u2", "u3", "u4"] and rest["next"] is None

    for bad in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"cursor": "not-a-cursor"}):
        await admin.refused(400, "INVALID", "GET", "/api/chat-rooms", params=bad)
    await admin.refused(400, "INVALID", "GET", "/api/chat-rooms", params={"status": "gone"})


async def test_invalid_json_on_every_endpoint_is_400_and_stores_nothing(
    http: httpx.AsyncClient, stack: Gateways
) -> None:
    admin = tenant_admin(http)
    room = await admin.room("keep")
    bad_bodies: list[bytes] = [b"{", b"[]", b'"text"', b"", b"null", b"\xff\xfe", b'{"a":1}']
    targets = {
        ("POST", "/api/chat-rooms"),
        ("PUT", "/api/chat-rooms/keep"),
        ("POST", "/api/chat-rooms/entity"),
        ("POST", "/api/chat-rooms/keep/members"),
        ("PUT", "/api/chat-rooms/keep/members/admin"),
        ("POST", "/api/chat/rooms/keep/messages"),
    }
    for method, path in sorted(targets):
        for body in bad_bodies:
            if body == b"" and method == "PUT" and path == "/api/chat-rooms/keep":
                continue  # tested below: an empty object is a valid update
            answer = await admin.call(method, path, content=body)
            assert (answer.status, answer.code) == (400, "INVALID"), (method, path, body, answer)
    wrong_types = [
        ("POST", "/api/chat-rooms", {"name": 5}),
        ("POST", "/api/chat-rooms", {"name": "x", "slug": "Not A Slug"}),
        ("POST", "/api/chat-rooms", {"name": "x", "visibility": "secret"}),
        ("POST", "/api/chat-rooms", {"name": "x", "settings": []}),
        ("PUT", "/api/chat-rooms/keep", {"status": "deleted"}),
        ("PUT", "/api/chat-rooms/keep", {"name": ""}),
        ("POST", "/api/chat-rooms/entity", {"roomId": room["id"], "entityType": "user"}),
        ("POST", "/api/chat-rooms/keep/members", {"userId": "x", "role": "owner"}),
        ("PUT", "/api/chat-rooms/keep/members/admin", {"role": None}),
        ("POST", "/api/chat/rooms/keep/messages", {"body": ""}),
        ("POST", "/api/chat/rooms/keep/messages", {"body": 7}),
        ("POST", "/api/chat/rooms/keep/messages", {"body": "x", "clientId": ""}),
        ("POST", "/api/chat/rooms/keep/messages", {"body": "x", "room": "room:keep"}),
    ]
    for method, path, body in wrong_types:
        await admin.refused(400, "INVALID", method, path, body)
    for path in ("/api/chat-rooms/entity/abc", "/api/chat-rooms/entity/0"):
        await admin.refused(400, "INVALID", "DELETE", path)
    await admin.refused(400, "INVALID", "GET", "/api/chat-rooms/has%20space")

    listed = await admin.ok("GET", "/api/chat-rooms")
    assert [r["id"] for r in listed["items"]] == [room["id"]]
    assert (await admin.ok("GET", "/api/chat-rooms/keep")) == room
    members = await admin.ok("GET", "/api/chat-rooms/keep/members")
    assert [m["userId"] for m in members["items"]] == ["admin"]
    assert (await admin.ok("GET", "/api/chat/rooms/keep/messages"))["items"] == []
    no_tracebacks(stack)


async def test_unknown_rooms_links_and_paths(http: httpx.AsyncClient) -> None:
    admin = tenant_admin(http)
    for method, path, body in (
        ("GET", "/api/chat-rooms/nope", None),
        ("GET", "/api/chat-rooms/999999999", None),
        ("GET", "/api/chat-rooms/99999999999999999999999", None),
        ("PUT", "/api/chat-rooms/nope", {"name": "x"}),
        ("DELETE", "/api/chat-rooms/nope", None),
        ("GET", "/api/chat-rooms/nope/members", None),
        ("POST", "/api/chat-rooms/nope/members", {"userId": "x"}),
        ("PUT", "/api/chat-rooms/nope/members/x", {"role": "member"}),
        ("DELETE", "/api/chat-rooms/nope/members/x", None),
        ("POST", "/api/chat-rooms/entity", {"roomId": "nope", "entityType": "e", "entityId": "1"}),
        ("DELETE", "/api/chat-rooms/entity/123456789", None),
        ("GET", "/api/chat/rooms/nope", None),
        ("POST", "/api/chat/rooms/nope/join", None),
        ("DELETE", "/api/chat/rooms/nope/leave", None),
        ("GET", "/api/chat/rooms/nope/messages", None),
        ("POST", "/api/chat/rooms/nope/messages", {"body": "x"}),
        ("GET", "/api/chat/event/nope/room", None),
        ("GET", "/api/chat/group/nope/room", None),
        ("GET", "/api/no/such/path", None),
    ):
        await admin.refused(404, "NOT_FOUND", method, path, body)
    assert (await admin.ok("GET", "/api/chat-rooms/entity/event/nope")) == {
        "items": [],
        "next": None,
    }


async def test_room_changes_and_member_changes_are_rate_limited_per_user(
    http: httpx.AsyncClient,
) -> None:
    admin = tenant_admin(http)
    for i in range(ROOM_CHANGES_BURST):
        await admin.room(f"burst{i}")
    answer = await admin.refused(
        429, "RATE_LIMITED", "POST", "/api/chat-rooms", {"name": "One more"}
    )
    assert int(answer.headers["retry-after"]) >= 1
    await admin.refused(429, "RATE_LIMITED", "DELETE", "/api/chat-rooms/burst0")
    other = admin.as_("other", "admin")
    await other.room("others-own"), "the limit is per user"

    for i in range(MEMBER_CHANGES_BURST):
        await admin.add("burst0", f"m{i}")
    await admin.refused(
        429, "RATE_LIMITED", "POST", "/api/chat-rooms/burst0/members", {"userId": "late"}
    )
    await admin.refused(429, "RATE_LIMITED", "DELETE", "/api/chat-rooms/burst0/members/m0")
    assert (await admin.ok("GET", "/api/chat-rooms/burst0"))["slug"] == "burst0", "reads pass"


async def test_a_message_posted_over_http_reaches_subscribed_sockets_and_history(
    http: httpx.AsyncClient, stack: Gateways, clients: list[Client]
) -> None:
    admin = tenant_admin(http)
    room = await admin.room("crew")
    await admin.add("crew", "ann")
    await admin.add("crew", "bob")
    bob = await connect(stack.gw2.url, token("bob", admin.tenant))
    ann = await connect(stack.gw1.url, token("ann", admin.tenant))
    clients += [bob, ann]
    for c in (bob, ann):
        assert (await c.call("room:join", {"room": "room:crew"}))["ok"] is True

    poster = admin.as_("ann")
    posted = await poster.ok(
        "POST", f"/api/chat/rooms/{room['id']}/messages", {"body": "over http", "clientId": "c1"}
    )
    for c in (bob, ann):
        got = await c.wait_for("room:message", lambda m: m["id"] == posted["id"])
        assert got == {
            "id": posted["id"],
            "tenant": admin.tenant,
            "room": "room:crew",
            "from": "ann",
            "body": "over http",
            "ts": posted["ts"],
            "seq": posted["seq"],
        }
    again = await poster.ok(
        "POST", "/api/chat/rooms/crew/messages", {"body": "over http", "clientId": "c1"}
    )
    assert again == posted, "the same clientId is the same message"
    later = await poster.ok("POST", "/api/chat/rooms/crew/messages", {"body": "second"})
    third = await poster.ok("POST", "/api/chat/rooms/crew/messages", {"body": "third"})

    async def all_stored() -> bool:
        page = await poster.ok("GET", "/api/chat/rooms/crew/messages")
        return len(page["items"]) == 3

    await eventually(all_stored, 10, "three messages in the history", stack.persistence.output)
    first = await poster.ok("GET", "/api/chat/rooms/crew/messages", params={"limit": 2})
    assert [m["id"] for m in first["items"]] == [third["id"], later["id"]]
    assert first["next"] == later["id"]
    assert first["items"][0] == {
        "id": third["id"],
        "tenant": admin.tenant,
        "from": "ann",
        "room": "room:crew",
        "body": "third",
        "ts": third["ts"],
        "seq": third["seq"],
    }
    rest = await poster.ok(
        "GET", "/api/chat/rooms/crew/messages", params={"limit": 2, "before": first["next"]}
    )
    assert [m["id"] for m in rest["items"]] == [posted["id"]] and rest["next"] is None
    assert len(bob.received("room:message")) == 3


async def test_sizes_origins_and_preflight(http: httpx.AsyncClient, stack: Gateways) -> None:
    admin = tenant_admin(http)
    await admin.room("sized")
    huge = b'{"name": "' + b"x" * (64 * 1024) + b'"}'
    await admin.refused(413, "TOO_LARGE", "POST", "/api/chat-rooms", content=huge)
    too_long = {"body": "x" * (8 * 1024 + 1)}
    await admin.refused(413, "TOO_LARGE", "POST", "/api/chat/rooms/sized/messages", too_long)
    assert (await admin.ok("GET", "/api/chat/rooms/sized/messages"))["items"] == []

    foreign = {"Origin": "https://evil.example"}
    await admin.refused(403, "FORBIDDEN", "GET", "/api/chat-rooms/sized", headers=foreign)
    await admin.refused(
        403, "FORBIDDEN", "POST", "/api/chat-rooms", {"name": "csrf"}, headers=foreign
    )
    allowed = await admin.call("GET", "/api/chat-rooms/sized", headers={"Origin": ORIGIN})
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    preflight = await http.options(
        "/api/chat-rooms",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]
    listed = await admin.ok("GET", "/api/chat-rooms")
    assert [r["slug"] for r in listed["items"]] == ["sized"]
    no_tracebacks(stack)


async def test_a_rooms_service_that_does_not_answer_is_503(
    stack: Gateways, embedded_nats: Any, run_service: Any
) -> None:
    lonely = embedded_nats()
    env = {
        "ROOMCAST_NATS_URL": lonely.url,
        "ROOMCAST_JWT_SECRET": "roomcast-test-secret-0123456789abcdef",
        "ROOMCAST_JWT_AUDIENCE": "roomcast-tests",
        "ROOMCAST_LOG_LEVEL": "WARNING",
    }
    gateway = run_service("gateway", env)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        admin = tenant_admin(client)
        await admin.refused(503, "UNAVAILABLE", "POST", "/api/chat-rooms", {"name": "x"})
        await admin.refused(503, "UNAVAILABLE", "GET", "/api/chat/rooms/x/messages")
    assert "Traceback" not in gateway.output()
