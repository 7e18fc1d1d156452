"""NATS going away degrades messaging with a clear error; the gateway survives and recovers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from roomcast.dev.embedded import EmbeddedNats
from roomcast.migrations import migrate
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import base_env


async def send_until_ok(client: Client, body: str, timeout: float = 30) -> dict[str, object]:
    """Retry a send (same clientId) until the system answers ok, as a client would."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        ack = await client.call("chat:send", {"to": "bob", "body": body, "clientId": body})
        if ack["ok"]:
            return dict(ack)
        assert ack["error"]["code"] == "UNAVAILABLE", ack
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still unavailable after {timeout}s: {ack}")
        await asyncio.sleep(0.2)


async def test_nats_restart(
    embedded_nats: Callable[..., EmbeddedNats],
    database_url: str,
    tmp_path: Path,
    clients: list[Client],
) -> None:
    nats = embedded_nats()
    await asyncio.to_thread(migrate, database_url)
    env = {**base_env(nats.url, database_url), "ROOMCAST_REQUEST_TIMEOUT": "1"}
    rooms = ServiceProcess("rooms", tmp_path, env=env).start()
    gateway = ServiceProcess("gateway", tmp_path, env=env).start()
    try:
        t = unique("outage")
        alice = await connect(gateway.url, token("alice", t))
        bob = await connect(gateway.url, token("bob", t))
        clients += [alice, bob]
        assert (await alice.call("chat:send", {"to": "bob", "body": "before"}))["ok"]

        nats.stop()
        ack = await alice.call("chat:send", {"to": "bob", "body": "during", "clientId": "d"})
        assert ack["error"]["code"] == "UNAVAILABLE"
        assert alice.sio.connected and bob.sio.connected, "the gateway keeps its sockets"

        nats.start()
        ack = await send_until_ok(alice, "after")
        msg = await bob.wait_for("chat:message", lambda m: m["id"] == ack["id"])
        assert msg["body"] == "after"
        assert gateway.returncode is None and rooms.returncode is None
    finally:
        gateway.stop()
        rooms.stop()
