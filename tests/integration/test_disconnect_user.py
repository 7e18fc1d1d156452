"""`disconnect_user` on real servers: the SDK's broadcast and `POST /api/server/disconnect`
end every socket of one user on both gateways, and nobody else's; clients that would
reconnect by themselves do not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import socketio

from contracts.errors import ServiceError
from roomcast.sdk.publisher import Publisher
from services.gateway.service_keys import new_key
from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, gateway_stack, roomcast

TENANT = unique("sessions")
SCOPED, SCOPED_ENTRY = new_key("lms", TENANT)
OTHER_KEY, OTHER_ENTRY = new_key("elsewhere", unique("elsewhere"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    env = {"ROOMCAST_SERVICE_API_KEYS": f"{SCOPED_ENTRY},{OTHER_ENTRY}"}
    with gateway_stack(tmp_path_factory.mktemp("sessions"), database_url, env=env) as gateways:
        yield gateways


@pytest.fixture
async def pub(stack: Gateways) -> AsyncIterator[Publisher]:
    publisher = await Publisher.connect(stack.nats_url)
    yield publisher
    await publisher.close()


async def retrying(url: str, tok: str, namespace: str = "/tenant") -> Client:
    """A client that reconnects by itself, as browsers' socket.io-client does by default."""
    client = Client(namespace)
    client.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.1)
    client.sio.on("*", client._record, namespace=namespace)
    return await client.connect(url, auth={"token": tok})


async def ended(client: Client) -> None:
    await client.wait_for("session:ended")
    for _ in range(100):
        if not client.sio.connected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("still connected after session:ended")


async def still_up(client: Client) -> None:
    ack = await client.call("notification:count", {})
    assert ack["ok"] is True, ack
    assert not client.received("session:ended")


async def test_disconnect_user_ends_every_socket_of_the_user_on_both_gateways(
    stack: Gateways, pub: Publisher, clients: list[Client]
) -> None:
    t, elsewhere = unique("lms"), unique("lms")
    bob1 = await retrying(stack.gw1.url, token("bob", t))
    bob2 = await retrying(stack.gw2.url, token("bob", t))
    bob_root = await connect(stack.gw2.url, token("bob", t), namespace="/")
    carol = await connect(stack.gw1.url, token("carol", t))
    other_bob = await connect(stack.gw2.url, token("bob", elsewhere))
    clients += [bob1, bob2, bob_root, carol, other_bob]

    ts = await pub.disconnect_user(t, "bob", reason="logged_out")
    assert ts > 0
    for tab in (bob1, bob2, bob_root):
        await ended(tab)
        assert tab.received("session:ended") == [{"reason": "logged_out"}]
    await asyncio.sleep(1.0)
    assert not bob1.sio.connected and not bob2.sio.connected, "a server disconnect is final"
    await still_up(carol)
    await still_up(other_bob)

    again = await connect(stack.gw1.url, token("bob", t))
    clients.append(again)
    await still_up(again)


async def test_disconnect_user_validates_here(pub: Publisher) -> None:
    with pytest.raises(ServiceError) as refused:
        await pub.disconnect_user("acme", "bob", reason="no spaces allowed")
    assert refused.value.code == "INVALID"


async def post(http: httpx.AsyncClient, key: str | None, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return await http.post("/api/server/disconnect", json=body, headers=headers)


async def test_http_disconnect_with_service_api_keys(
    stack: Gateways, clients: list[Client]
) -> None:
    alice1 = await connect(stack.gw1.url, token("alice", TENANT))
    alice2 = await connect(stack.gw2.url, token("alice", TENANT))
    dave = await connect(stack.gw2.url, token("dave", TENANT))
    clients += [alice1, alice2, dave]
    body = {"tenant": TENANT, "userId": "alice"}
    async with httpx.AsyncClient(base_url=stack.gw1.url, timeout=10) as http:
        assert (await post(http, None, body)).status_code == 401
        assert (await post(http, SCOPED + "x", body)).status_code == 401
        user = await post(http, token("alice", TENANT, role="admin"), body)
        assert user.status_code == 401
        foreign = await post(http, OTHER_KEY, body)
        assert foreign.status_code == 403, foreign.text
        assert foreign.json()["error"]["code"] == "FORBIDDEN"
        bad = await post(http, SCOPED, {**body, "reason": "two words"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID"
        await still_up(alice1)
        await still_up(alice2)

        done = await post(http, SCOPED, {**body, "reason": "banned"})
        assert done.status_code == 200, done.text
        assert done.json()["ok"] is True and done.json()["ts"] > 0
    for tab in (alice1, alice2):
        await ended(tab)
        assert tab.received("session:ended") == [{"reason": "banned"}]
    await still_up(dave)


async def test_the_cli_disconnects_and_refuses_a_bad_reason(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("lms")
    erin = await connect(stack.gw2.url, token("erin", t))
    clients.append(erin)
    bad = await asyncio.to_thread(
        roomcast, stack, "disconnect", "--tenant", t, "--user", "erin", "--reason", "a b"
    )
    assert bad.returncode == 1 and "INVALID" in bad.stderr, bad.stderr
    await still_up(erin)
    done = await asyncio.to_thread(roomcast, stack, "disconnect", "--tenant", t, "--user", "erin")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
    await ended(erin)
    assert erin.received("session:ended") == [{"reason": "disconnected"}]
