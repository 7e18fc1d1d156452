"""Finding F1: the longest ids any token may carry cannot cut anybody off.

A user id of 255 four-byte characters used to escape to a subject of about 6,000
bytes, over NATS's 4,096-byte control line: the server closed the rooms service's
connection and every tenant's `chat:send` answered UNAVAILABLE until a restart.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.clients import Client, connect, connect_error, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack

EMOJI_USER = "\U0001f600" * 255
EMOJI_TENANT = "\U0001f3e2" * 128


@pytest.fixture(scope="module")
def stack(stack_factory: Stack) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    stack_factory.start("rooms")
    gw1 = stack_factory.start("gateway", instance="gateway-1")
    gw2 = stack_factory.start("gateway", instance="gateway-2")
    yield gw1, gw2


def ready(gw: ServiceProcess) -> bool:
    with urllib.request.urlopen(f"{gw.url}/readyz", timeout=5) as resp:  # noqa: S310
        return bool(json.load(resp)["ok"])


async def test_longest_ids_message_each_other_and_nobody_is_cut_off(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, gw2 = stack
    tenant = EMOJI_TENANT[:-1] + unique("t")[-1]
    long_user = await connect(gw1.url, token(EMOJI_USER, tenant))
    friend_id = "\U0001f680" * 255
    friend = await connect(gw2.url, token(friend_id, tenant))
    clients += [long_user, friend]

    to_self = await long_user.call("chat:send", {"to": EMOJI_USER, "body": "me"})
    assert to_self["ok"] is True, to_self
    ack = await long_user.call("chat:send", {"to": friend_id, "body": "hi", "clientId": "c1"})
    assert ack["ok"] is True, ack
    got = await friend.wait_for("chat:message", lambda m: m["id"] == ack["id"])
    assert got["from"] == EMOJI_USER and got["tenant"] == tenant

    t = unique("control")
    alice = await connect(gw1.url, token("alice", t))
    bob = await connect(gw2.url, token("bob", t))
    clients += [alice, bob]
    control = await alice.call("chat:send", {"to": "bob", "body": "still here"})
    assert control["ok"] is True, control
    await bob.wait_for("chat:message", lambda m: m["id"] == control["id"])
    assert ready(gw1) and ready(gw2)
    assert "control line" not in gw1.output() + gw2.output()


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", "\U0001f600" * 256), ("sub", "x" * 256), ("tenant", "t" * 129)],
)
async def test_ids_over_their_bound_are_refused_at_connect(
    stack: tuple[ServiceProcess, ServiceProcess], claim: str, value: str
) -> None:
    gw1, _ = stack
    claims = {"sub": "u", "tenant": unique("t"), claim: value}
    error = await connect_error(gw1.url, auth={"token": token(claims["sub"], claims["tenant"])})
    assert error["data"]["code"] == "UNAUTHENTICATED"
    assert repr(claim) in error["message"]
    assert ready(gw1)
