"""The spine on real servers: client → gateway → NATS → rooms → NATS → gateways → clients."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import nats
import pytest

from contracts import endpoints
from contracts.tenants import SetTenantSettings, TenantSettingsReply
from roomcast.platform import bus
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack


@pytest.fixture(scope="module")
def stack(stack_factory: Stack) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """Rooms service and two gateways, each in its own process."""
    stack_factory.start("rooms")
    env = {"ROOMCAST_JWT_LEEWAY": "1"}
    gw1 = stack_factory.start("gateway", env, instance="gateway-1")
    gw2 = stack_factory.start("gateway", env, instance="gateway-2")
    yield gw1, gw2


def stats(gw: ServiceProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{gw.health_url}/statz", timeout=5) as resp:  # noqa: S310
        return dict(json.load(resp))


async def set_tenant(nats_url: str, tenant: str, **values: Any) -> TenantSettingsReply:
    nc = await nats.connect(nats_url)
    try:
        command = SetTenantSettings(tenant=tenant, values=values)
        return await bus.request(nc, endpoints.TENANT_SETTINGS_SET, command)
    finally:
        await nc.close()


async def test_dm_reaches_every_tab_across_gateways_once(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    alice = await connect(gw1.url, token("alice", t))
    alice_tab2 = await connect(gw2.url, token("alice", t))
    bob_tab1 = await connect(gw2.url, token("bob", t))
    bob_tab2 = await connect(gw2.url, token("bob", t))
    clients += [alice, alice_tab2, bob_tab1, bob_tab2]

    ack = await alice.call("chat:send", {"to": "bob", "body": "hello bob"})
    assert ack["ok"] is True
    assert isinstance(ack["id"], str) and isinstance(ack["ts"], int)

    for tab in (bob_tab1, bob_tab2):
        msg = await tab.wait_for("chat:message", lambda m: m["id"] == ack["id"])
        assert msg["from"] == "alice" and msg["to"] == "bob" and msg["body"] == "hello bob"
        assert msg["tenant"] == t and msg["ts"] == ack["ts"]
        assert msg["room"] == "user:bob" and isinstance(msg["seq"], int)
    echo = await alice_tab2.wait_for("chat:message", lambda m: m["id"] == ack["id"])
    assert echo["room"] == "user:alice"

    second = await alice.call("chat:send", {"to": "bob", "body": "again"})
    await bob_tab1.wait_for("chat:message", lambda m: m["id"] == second["id"])
    assert second["id"] > ack["id"]
    await asyncio.sleep(0.3)
    for tab in (bob_tab1, bob_tab2, alice_tab2):
        assert [m["id"] for m in tab.received("chat:message")] == [ack["id"], second["id"]]
    assert alice.received("chat:message") == []


async def test_supervision_copies_non_admin_dms_to_admins_once(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], nats_url: str
) -> None:
    gw1, gw2 = stack
    t = unique("desk")
    member = await connect(gw1.url, token("customer", t))
    admin = await connect(gw2.url, token("agent", t, role="admin"))
    other_admin = await connect(gw1.url, token("lead", t, role="admin"))
    clients += [member, admin, other_admin]

    plain = await member.call("chat:send", {"to": "agent", "body": "before"})
    assert plain["ok"]
    await admin.wait_for("chat:message", lambda m: m["id"] == plain["id"])

    reply = await set_tenant(nats_url, t, supervise_dms=True)
    assert reply.ok and reply.settings is not None and reply.settings.supervise_dms

    supervised = await member.call("chat:send", {"to": "agent", "body": "help"})
    copy = await other_admin.wait_for("chat:message", lambda m: m["id"] == supervised["id"])
    assert copy["room"] == f"tenant:{t}:admins"
    from_admin = await admin.call("chat:send", {"to": "customer", "body": "on it"})
    await member.wait_for("chat:message", lambda m: m["id"] == from_admin["id"])

    await asyncio.sleep(0.3)
    ids = [m["id"] for m in other_admin.received("chat:message")]
    assert plain["id"] not in ids, "supervision was off for the first message"
    assert from_admin["id"] not in ids, "an admin's DM is not copied to admins"
    assert [m["id"] for m in admin.received("chat:message")].count(supervised["id"]) == 1


async def test_cross_tenant_is_forbidden_and_nothing_is_delivered(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, gw2 = stack
    t1, t2 = unique("t1"), unique("t2")
    alice = await connect(gw1.url, token("alice", t1))
    bob = await connect(gw2.url, token("bob", t2))
    clients += [alice, bob]

    ack = await alice.call("chat:send", {"to": "bob", "body": "psst", "clientId": "c-1"})
    assert ack == {"ok": False, "error": {"code": "FORBIDDEN", "message": ack["error"]["message"]}}
    err = await alice.wait_for("chat:error")
    assert err["code"] == "FORBIDDEN" and err["clientId"] == "c-1"
    await asyncio.sleep(0.3)
    assert bob.received("chat:message") == []


async def test_super_admin_on_manage_names_the_tenant(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, gw2 = stack
    t = unique("acme")
    bob = await connect(gw2.url, token("bob", t))
    root = await connect(gw1.url, token("root", unique("platform"), role="super_admin"), "/manage")
    clients += [bob, root]
    ack = await root.call("chat:send", {"tenant": t, "to": "bob", "body": "platform notice"})
    assert ack["ok"], ack
    msg = await bob.wait_for("chat:message", lambda m: m["id"] == ack["id"])
    assert msg["tenant"] == t and msg["from"] == "root"
    missing_tenant = await root.call("chat:send", {"to": "bob", "body": "x"})
    assert missing_tenant["error"]["code"] == "INVALID"


async def test_manage_watch_only_on_manage(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, _ = stack
    t = unique("acme")
    member = await connect(gw1.url, token("m", t))
    root = await connect(gw1.url, token("root", unique("p"), role="super_admin"), "/manage")
    clients += [member, root]
    assert (await member.call("manage:watch", {"tenant": t}))["error"]["code"] == "FORBIDDEN"
    assert await root.call("manage:watch", {"tenant": t}) == {"ok": True}
    assert await root.call("manage:unwatch", {"tenant": t}) == {"ok": True}


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "text",
        [1, 2],
        {},
        {"to": "bob"},
        {"to": "", "body": "x"},
        {"to": "bob", "body": ""},
        {"to": "bob", "body": 5},
        {"to": "bob", "body": "x", "extra": 1},
        {"to": "b\x00b", "body": "x"},
        {"to": "bob", "body": "nul\x00inside"},
    ],
)
async def test_malformed_payloads_are_invalid_and_the_socket_survives(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client], payload: Any
) -> None:
    gw1, _ = stack
    alice = await connect(gw1.url, token("alice", unique("t")))
    clients.append(alice)
    ack = await alice.call("chat:send", payload)
    assert ack["ok"] is False and ack["error"]["code"] == "INVALID"
    assert (await alice.wait_for("chat:error"))["code"] == "INVALID"
    assert (await alice.call("nope:event", {}))["error"]["code"] == "INVALID"
    assert (await alice.call("disconnect", {}))["error"]["code"] == "INVALID"
    assert alice.sio.connected
    assert "Traceback" not in gw1.output()


async def test_body_over_the_limit_is_too_large(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, _ = stack
    t = unique("t")
    alice = await connect(gw1.url, token("alice", t))
    clients.append(alice)
    ack = await alice.call("chat:send", {"to": "alice", "body": "x" * (8 * 1024 + 1)})
    assert ack["error"]["code"] == "TOO_LARGE"


async def test_frame_over_transport_limit_closes_only_that_connection(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, _ = stack
    t = unique("t")
    big = await connect(gw1.url, token("big", t))
    calm = await connect(gw1.url, token("calm", t))
    clients += [big, calm]
    await big.sio.emit("chat:send", {"to": "calm", "body": "x" * 70_000}, namespace="/tenant")
    for _ in range(100):
        if not big.sio.connected:
            break
        await asyncio.sleep(0.05)
    assert not big.sio.connected
    ack = await calm.call("chat:send", {"to": "calm", "body": "still here"})
    assert ack["ok"], ack


async def test_interest_gateway_without_the_room_sees_nothing(
    stack: tuple[ServiceProcess, ServiceProcess], clients: list[Client]
) -> None:
    gw1, gw2 = stack
    t = unique("quiet")
    idle = await connect(gw1.url, token("idle", t))
    dave = await connect(gw2.url, token("dave", t))
    erin = await connect(gw2.url, token("erin", t))
    clients += [idle, dave, erin]
    before = stats(gw1)["deliveries_received"]
    for i in range(20):
        ack = await erin.call("chat:send", {"to": "dave", "body": f"m{i}"})
        assert ack["ok"]
    await dave.wait_for("chat:message", lambda m: m["body"] == "m19")
    assert stats(gw1)["deliveries_received"] == before

    hosted = stats(gw2)["hosted_subjects"]
    await dave.close()
    await erin.close()
    for _ in range(100):
        if stats(gw2)["hosted_subjects"] < hosted:
            break
        await asyncio.sleep(0.05)
    assert stats(gw2)["hosted_subjects"] < hosted, "the last socket left; unsubscribe"
