"""The gateway's edge on a real socket: token sources, refusals, expiry, limits, outages."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.clients import AUDIENCE, SECRET, Client, connect, connect_error, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack


@pytest.fixture(scope="module")
def edge(stack_factory: Stack) -> Iterator[dict[str, ServiceProcess]]:
    rooms = stack_factory.start("rooms")
    gw = stack_factory.start("gateway", {"ROOMCAST_JWT_LEEWAY": "1"}, instance="gw-edge")
    limited = stack_factory.start(
        "gateway",
        {"ROOMCAST_RATE_LIMIT_PER_SEC": "1", "ROOMCAST_RATE_LIMIT_BURST": "5"},
        instance="gw-limited",
    )
    cors = stack_factory.start(
        "gateway", {"ROOMCAST_CORS_ORIGINS": "http://app.example"}, instance="gw-cors"
    )
    yield {"rooms": rooms, "gw": gw, "limited": limited, "cors": cors}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    claims = {"sub": "u", "tenant": "t", "role": "member", "aud": AUDIENCE}
    claims["exp"] = int(time.time()) + 600
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _rsa_token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return jwt.encode(_claims(), pem, algorithm="RS256")


BAD_TOKENS = {
    "expired": lambda: jwt.encode(_claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"),
    "wrong signature": lambda: jwt.encode(_claims(), "another-secret-" * 3, algorithm="HS256"),
    "alg none": lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
    "RS token on an HS gateway": _rsa_token,
    "missing exp": lambda: jwt.encode(_claims(exp=None), SECRET, algorithm="HS256"),
    "wrong aud": lambda: jwt.encode(_claims(aud="someone-else"), SECRET, algorithm="HS256"),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_unauthenticated(edge: dict[str, ServiceProcess], case: str) -> None:
    err = await connect_error(edge["gw"].url, auth={"token": BAD_TOKENS[case]()})
    assert err["data"]["code"] == "UNAUTHENTICATED"
    assert isinstance(err["message"], str) and err["message"]


async def test_missing_token_is_unauthenticated(edge: dict[str, ServiceProcess]) -> None:
    err = await connect_error(edge["gw"].url)
    assert err["data"] == {"code": "UNAUTHENTICATED", "message": err["data"]["message"]}


@pytest.mark.parametrize("source", ["auth", "header", "query", "cookie"])
async def test_each_token_source_connects(
    edge: dict[str, ServiceProcess], clients: list[Client], source: str
) -> None:
    t = unique("src")
    tok = token("sam", t)
    url, kwargs = edge["gw"].url, {}
    auth = None
    if source == "auth":
        auth = {"token": tok}
    elif source == "header":
        kwargs = {"headers": {"Authorization": f"Bearer {tok}"}}
    elif source == "query":
        url = f"{url}?token={tok}"
    else:
        kwargs = {"headers": {"Cookie": f"theme=dark; access_token={tok}"}}
    client = await Client().connect(url, auth=auth, **kwargs)
    clients.append(client)
    ack = await client.call("chat:send", {"to": "sam", "body": "me"})
    assert ack["ok"], ack


async def test_auth_takes_precedence_over_the_header(edge: dict[str, ServiceProcess]) -> None:
    headers = {"Authorization": f"Bearer {token('sam', unique('t'))}"}
    err = await connect_error(edge["gw"].url, auth={"token": "bad"}, headers=headers)
    assert err["data"]["code"] == "UNAUTHENTICATED"


async def test_manage_refuses_members_and_tenant_refuses_super_admin(
    edge: dict[str, ServiceProcess],
) -> None:
    member = await connect_error(edge["gw"].url, "/manage", auth={"token": token("m", unique("t"))})
    assert member["data"]["code"] == "FORBIDDEN"
    root = await connect_error(
        edge["gw"].url, "/tenant", auth={"token": token("r", unique("t"), role="super_admin")}
    )
    assert root["data"]["code"] == "FORBIDDEN"


async def test_unknown_namespace_is_forbidden(edge: dict[str, ServiceProcess]) -> None:
    err = await connect_error(edge["gw"].url, "/nope", auth={"token": token("m", unique("t"))})
    assert err["data"]["code"] == "FORBIDDEN"


async def test_root_namespace_is_an_alias_of_tenant(
    edge: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    t = unique("alias")
    on_root = await connect(edge["gw"].url, token("a", t), namespace="/")
    on_tenant = await connect(edge["gw"].url, token("b", t))
    clients += [on_root, on_tenant]
    ack = await on_tenant.call("chat:send", {"to": "a", "body": "via alias"})
    assert (await on_root.wait_for("chat:message"))["id"] == ack["id"]


async def test_expired_token_ends_the_connection_unless_refreshed(
    edge: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    t = unique("exp")
    short = await connect(edge["gw"].url, token("s", t, ttl=2))
    refreshed = await connect(edge["gw"].url, token("r", t, ttl=2))
    clients += [short, refreshed]
    wrong_user = await refreshed.call("auth:refresh", {"token": token("other", t)})
    assert wrong_user["error"]["code"] == "FORBIDDEN"
    fresh = token("r", t, ttl=60)
    ack = await refreshed.call("auth:refresh", {"token": fresh})
    assert ack["ok"] and ack["exp"] > time.time() + 30
    for _ in range(120):
        if not short.sio.connected:
            break
        await asyncio.sleep(0.05)
    assert not short.sio.connected, "exp + leeway passed"
    assert refreshed.sio.connected
    assert (await refreshed.call("chat:send", {"to": "r", "body": "alive"}))["ok"]


async def test_rate_limit(edge: dict[str, ServiceProcess], clients: list[Client]) -> None:
    client = await connect(edge["limited"].url, token("fast", unique("rl")))
    clients.append(client)
    acks = [await client.call("presence:nope", {}) for _ in range(8)]
    codes = [a["error"]["code"] for a in acks]
    assert codes[:5] == ["INVALID"] * 5
    assert "RATE_LIMITED" in codes[5:]
    assert client.sio.connected


async def test_rooms_service_down_gives_unavailable_not_a_dead_gateway(
    edge: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    t = unique("down")
    alice = await connect(edge["gw"].url, token("alice", t))
    clients.append(alice)
    assert (await alice.call("chat:send", {"to": "alice", "body": "up"}))["ok"]
    edge["rooms"].kill()
    try:
        ack = await alice.call("chat:send", {"to": "alice", "body": "down", "clientId": "k1"})
        assert ack["error"]["code"] == "UNAVAILABLE"
        assert (await alice.wait_for("chat:error"))["clientId"] == "k1"
        assert alice.sio.connected
    finally:
        edge["rooms"].start()
    ack = await alice.call("chat:send", {"to": "alice", "body": "retry", "clientId": "k1"})
    assert ack["ok"], ack


@pytest.mark.parametrize(
    ("gateway", "origin", "accepted"),
    [
        ("cors", "http://app.example", True),
        ("cors", "http://evil.example", False),
        ("gw", "http://evil.example", False),
    ],
)
async def test_browser_origins_are_checked(
    edge: dict[str, ServiceProcess], gateway: str, origin: str, accepted: bool
) -> None:
    client = Client()
    headers = {"Origin": origin}
    tok = {"token": token("o", unique("cors"))}
    if accepted:
        await client.connect(edge[gateway].url, auth=tok, headers=headers)
        assert client.sio.connected
        await client.close()
    else:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(edge[gateway].url, auth=tok, headers=headers)
