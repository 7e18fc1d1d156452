"""Token rules through a real client: what `auth:refresh` accepts, numeric times, lifetime cap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients import Client, connect, connect_error, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack

MAX_TTL = 3600


@pytest.fixture(scope="module")
def gateways(stack_factory: Stack) -> Iterator[dict[str, ServiceProcess]]:
    stack_factory.start("rooms")
    plain = stack_factory.start("gateway", instance="gw-tokens")
    capped = stack_factory.start(
        "gateway", {"ROOMCAST_JWT_MAX_TTL": str(MAX_TTL)}, instance="gw-capped"
    )
    yield {"plain": plain, "capped": capped}


async def test_refresh_with_another_role_is_forbidden(
    gateways: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    t = unique("role")
    member = await connect(gateways["plain"].url, token("m", t, ttl=60))
    clients.append(member)
    ack = await member.call("auth:refresh", {"token": token("m", t, role="admin", ttl=600)})
    assert ack["error"]["code"] == "FORBIDDEN"
    assert "role" in ack["error"]["message"]
    same = await member.call("auth:refresh", {"token": token("m", t, ttl=600)})
    assert same["ok"], same


async def test_refresh_with_a_numeric_string_exp_is_unauthenticated(
    gateways: dict[str, ServiceProcess], clients: list[Client]
) -> None:
    t = unique("strexp")
    client = await connect(gateways["plain"].url, token("s", t, ttl=60))
    clients.append(client)
    forged_exp = token("s", t, exp=str(int(time.time()) + 86400))
    ack = await client.call("auth:refresh", {"token": forged_exp})
    assert ack["error"]["code"] == "UNAUTHENTICATED"
    assert "'exp'" in ack["error"]["message"]


@pytest.mark.parametrize(
    ("ttl", "iat"),
    [(MAX_TTL + 120, "number"), (60, "absent"), (60, "string")],
    ids=["over the cap", "no iat", "iat as a string"],
)
async def test_lifetime_cap_refuses_at_connect_and_refresh(
    gateways: dict[str, ServiceProcess], clients: list[Client], ttl: int, iat: str
) -> None:
    t = unique("cap")
    now = int(time.time())
    extra: dict[str, Any] = {"number": {"iat": now}, "absent": {}, "string": {"iat": str(now)}}[iat]
    bad = token("c", t, ttl=ttl, **extra)
    err = await connect_error(gateways["capped"].url, auth={"token": bad})
    assert err["data"]["code"] == "UNAUTHENTICATED"
    good = await connect(gateways["capped"].url, token("c", t, ttl=MAX_TTL, iat=now))
    clients.append(good)
    ack = await good.call("auth:refresh", {"token": bad})
    assert ack["error"]["code"] == "UNAUTHENTICATED"
    assert (await good.call("auth:refresh", {"token": token("c", t, ttl=60, iat=now)}))["ok"]
