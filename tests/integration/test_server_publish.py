"""`POST /api/server/publish` with service API keys, over a real socket to a gateway:
a notification reaches the user's socket, an app event is delivered, and keys are
checked (unknown, another tenant, platform-wide targets, a user's JWT)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from services.gateway.service_keys import new_key
from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, gateway_stack

TENANT = unique("billing-tenant")
SCOPED, SCOPED_ENTRY = new_key("billing", TENANT)
ANY, ANY_ENTRY = new_key("platform", None)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    env = {"ROOMCAST_SERVICE_API_KEYS": f"{SCOPED_ENTRY},{ANY_ENTRY}"}
    with gateway_stack(tmp_path_factory.mktemp("server"), database_url, env=env) as gateways:
        yield gateways


@pytest.fixture
async def http(stack: Gateways) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gw1.url, timeout=10) as client:
        yield client


async def publish(http: httpx.AsyncClient, key: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(
        "/api/server/publish", json=body, headers={"Authorization": f"Bearer {key}"}
    )


async def test_a_notification_and_an_app_event_reach_the_users_socket(
    stack: Gateways, http: httpx.AsyncClient, clients: list[Client]
) -> None:
    bob = await connect(stack.gw2.url, token("bob", TENANT))
    clients.append(bob)
    await bob.wait_for("notification:count")
    target = {"kind": "user", "tenant": TENANT, "userId": "bob"}
    body = {"notification": {"target": target, "title": "Invoice", "body": "Due soon"}}
    response = await publish(http, SCOPED, body)
    assert response.status_code == 200, response.text
    sent = response.json()
    assert sent["ok"] is True and sent["id"] and sent["ts"]
    new = await bob.wait_for("notification:new", lambda n: n["id"] == sent["id"])
    assert new["title"] == "Invoice"

    event = {"event": {"target": target, "event": "invoice:paid", "data": {"n": 7}}}
    response = await publish(http, ANY, event)
    assert response.status_code == 200, response.text
    assert await bob.wait_for("invoice:paid") == {"n": 7}


OTHER = {"kind": "tenant", "tenant": "other"}
PLATFORM = {"kind": "platform_role", "role": "admin"}
OWN = {"kind": "tenant", "tenant": TENANT}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"notification": {"target": OTHER, "title": "x"}}, 403, "FORBIDDEN"),
        ({"notification": {"target": PLATFORM, "title": "x"}}, 403, "FORBIDDEN"),
        ({"event": {"target": OTHER, "event": "invoice:paid"}}, 403, "FORBIDDEN"),
        ({"event": {"target": OWN, "event": "chat:send"}}, 400, "INVALID"),
        ({"notification": {"target": OWN}}, 400, "INVALID"),
        ({"target": OWN, "title": "neither"}, 400, "INVALID"),
        (
            {
                "notification": {"target": OWN, "title": "x"},
                "event": {"target": OWN, "event": "a:b"},
            },
            400,
            "INVALID",
        ),
    ],
)
async def test_a_tenant_key_is_held_to_its_tenant_and_bad_bodies_are_refused(
    http: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    response = await publish(http, SCOPED, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_no_key_a_wrong_key_or_a_user_token_is_unauthenticated(
    http: httpx.AsyncClient,
) -> None:
    body = {"notification": {"target": OWN, "title": "x"}}
    assert (await http.post("/api/server/publish", json=body)).status_code == 401
    assert (await publish(http, SCOPED + "x", body)).status_code == 401
    user = token("alice", TENANT, role="admin")
    response = await publish(http, user, body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
