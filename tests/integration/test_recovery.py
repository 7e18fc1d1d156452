"""Recovery after a reconnect, through real gateways, from the JetStream log.

The client reconnects with `auth: {token, since: {room: lastSeq}}` and must see the
missed messages in order, then `session:recovered`, then live messages, whichever
gateway it returns to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import nats
import pytest

from contracts import endpoints, subjects
from contracts.tenants import SetTenantSettings
from roomcast.platform import bus
from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, gateway_stack

CAP = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    env = {"ROOMCAST_RECOVER_MAX_MESSAGES": str(CAP)}
    with gateway_stack(tmp_path_factory.mktemp("recovery"), database_url, env) as gateways:
        yield gateways


async def reconnect(url: str, tok: str, since: dict[str, int]) -> Client:
    return await Client().connect(url, auth={"token": tok, "since": since})


async def send(client: Client, to: str, body: str) -> str:
    ack = await client.call("chat:send", {"to": to, "body": body})
    assert ack["ok"] is True, ack
    return str(ack["id"])


def names(client: Client) -> list[tuple[str, Any]]:
    """`(event, id or rooms)` in arrival order, presence events left out."""
    out: list[tuple[str, Any]] = []
    for event, data in client.events:
        if event == "chat:message":
            out.append((event, data["id"]))
        elif event == "session:recovered":
            out.append((event, data["rooms"]))
    return out


async def log_last_seq(nats_url: str) -> int:
    """The message log's last sequence now."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(subjects.LOG_STREAM)
        return int(info.state.last_seq)
    finally:
        await nc.close()


async def last_seq(client: Client, message_id: str) -> int:
    message = await client.wait_for("chat:message", lambda m: m["id"] == message_id)
    return int(message["seq"])


async def test_missed_messages_then_recovered_then_live_on_another_gateway(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("rec")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    clients += [alice, bob]
    seen = await last_seq(bob, await send(alice, "bob", "before"))
    await bob.close()

    missed = [await send(alice, "bob", f"missed {i}") for i in range(5)]
    back = await reconnect(stack.gw2.url, token("bob", t), {"user:bob": seen})
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    live = await send(alice, "bob", "live")
    await back.wait_for("chat:message", lambda m: m["id"] == live)

    assert recovered == {"rooms": [{"room": "user:bob", "recovered": True, "replayed": 5}]}
    assert names(back) == [
        *(("chat:message", mid) for mid in missed),
        ("session:recovered", recovered["rooms"]),
        ("chat:message", live),
    ]
    replayed = back.received("chat:message")[:5]
    assert all(m["room"] == "user:bob" and m["to"] == "bob" for m in replayed)
    seqs = [m["seq"] for m in replayed]
    assert seqs == sorted(seqs) and seqs[0] > seen


async def test_messages_sent_during_the_reconnect_arrive_once_and_in_order(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("race")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    clients += [alice, bob]
    seen = await last_seq(bob, await send(alice, "bob", "first"))
    await bob.close()
    before = [await send(alice, "bob", f"offline {i}") for i in range(3)]

    async def keep_sending() -> list[str]:
        return [await send(alice, "bob", f"racing {i}") for i in range(15)]

    racing_task = asyncio.create_task(keep_sending())
    back = await reconnect(stack.gw1.url, token("bob", t), {"user:bob": seen})
    clients.append(back)
    racing = await racing_task
    await back.wait_for("chat:message", lambda m: m["id"] == racing[-1])
    await back.wait_for("session:recovered")

    events = names(back)
    ids = [value for event, value in events if event == "chat:message"]
    assert ids == before + racing
    marker = next(i for i, (event, _) in enumerate(events) if event == "session:recovered")
    replayed = events[marker][1][0]["replayed"]
    assert replayed >= len(before) and marker == replayed
    seqs = [m["seq"] for m in back.received("chat:message")]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_too_many_missed_messages_are_not_replayed(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("many")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    clients += [alice, bob]
    seen = await last_seq(bob, await send(alice, "bob", "first"))
    await bob.close()
    for i in range(CAP + 1):
        await send(alice, "bob", f"missed {i}")
    back = await reconnect(stack.gw2.url, token("bob", t), {"user:bob": seen})
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    assert recovered == {
        "rooms": [{"room": "user:bob", "recovered": False, "replayed": 0, "reason": "too_many"}]
    }
    assert back.received("chat:message") == []


async def test_a_position_no_longer_in_the_log_is_too_old(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("old")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    clients += [alice, bob]
    seen = await last_seq(bob, await send(alice, "bob", "first"))
    await bob.close()
    await send(alice, "bob", "missed")
    nc = await nats.connect(stack.nats_url)
    try:
        end = await log_last_seq(stack.nats_url)
        await nc.jetstream().purge_stream(subjects.LOG_STREAM, seq=end + 1)
    finally:
        await nc.close()
    back = await reconnect(stack.gw2.url, token("bob", t), {"user:bob": seen})
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    assert recovered["rooms"][0]["recovered"] is False
    assert recovered["rooms"][0]["reason"] == "too_old"


async def test_rooms_the_socket_may_not_recover_are_unknown(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("unknown")
    now = await log_last_seq(stack.nats_url)
    back = await reconnect(
        stack.gw1.url,
        token("bob", t),
        {"user:alice": 0, f"tenant:{t}:admins": 0, f"tenant:{t}": 0, "user:bob": now},
    )
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    assert [(r["room"], r["recovered"], r.get("reason")) for r in recovered["rooms"]] == [
        ("user:alice", False, "unknown_room"),
        (f"tenant:{t}:admins", False, "unknown_room"),
        (f"tenant:{t}", False, "unknown_room"),
        ("user:bob", True, None),
    ]


async def test_an_admin_recovers_supervised_messages_once(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("sup")
    nc = await nats.connect(stack.nats_url)
    try:
        command = SetTenantSettings(tenant=t, values={"supervise_dms": True})
        assert (await bus.request(nc, endpoints.TENANT_SETTINGS_SET, command, wait=10)).ok
    finally:
        await nc.close()
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    ann = await connect(stack.gw1.url, token("ann", t, role="admin"))
    clients += [alice, bob, ann]
    seen = await last_seq(ann, await send(alice, "ann", "first"))
    await ann.close()
    to_ann = await send(alice, "ann", "to the admin")
    to_bob = await send(alice, "bob", "to bob, supervised")
    admins = f"tenant:{t}:admins"
    back = await reconnect(
        stack.gw2.url, token("ann", t, role="admin"), {"user:ann": seen, admins: seen}
    )
    clients.append(back)
    recovered = await back.wait_for("session:recovered")
    assert recovered["rooms"] == [
        {"room": "user:ann", "recovered": True, "replayed": 1},
        {"room": admins, "recovered": True, "replayed": 1},
    ]
    assert [(m["id"], m["room"]) for m in back.received("chat:message")] == [
        (to_ann, "user:ann"),
        (to_bob, admins),
    ]
