"""A client that stops reading is cut at the transport, counted once, and leaves no task behind."""

from __future__ import annotations

import asyncio

import psutil

from bench.sioclient import RawClient
from tests.clients import Client, connect, http_get, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack

MAX_PENDING = 20
BODY = "x" * 30_000
FLOOD_LIMIT = 3_000
"""DMs sent at most; loopback buffers (a few MB) fill long before."""


def dropped(gw: ServiceProcess) -> int:
    return int(http_get(f"{gw.health_url}/statz")[1]["slow_consumers_dropped"])


def holds_connection(gw: ServiceProcess, client_port: int) -> bool:
    """Whether the gateway process still has a TCP socket to `client_port`."""
    return any(
        c.raddr and c.raddr.port == client_port
        for c in psutil.Process(gw.pid).net_connections(kind="tcp")
    )


async def flood(sender: Client, to: str, until: asyncio.Event) -> int:
    sent = 0
    while not until.is_set() and sent < FLOOD_LIMIT:
        acks = await asyncio.gather(
            *(sender.call("chat:send", {"to": to, "body": BODY}) for _ in range(10))
        )
        assert all(a["ok"] for a in acks), acks
        sent += len(acks)
    return sent


async def test_a_client_that_stops_reading_is_disconnected_at_the_transport(
    stack_factory: Stack, clients: list[Client]
) -> None:
    stack_factory.start("rooms", instance="rooms-slow")
    gw = stack_factory.start(
        "gateway",
        {
            "ROOMCAST_MAX_PENDING_PACKETS": str(MAX_PENDING),
            "ROOMCAST_MAX_BODY_BYTES": str(len(BODY)),
            "ROOMCAST_RATE_LIMIT_PER_SEC": "100000",
            "ROOMCAST_RATE_LIMIT_BURST": "100000",
        },
        instance="gw-slow",
    )
    t = unique("slow")
    slow = RawClient(gw.url, token("slow", t))
    await slow.connect()
    slow.pause_reading()
    sender = await connect(gw.url, token("fast", t))
    clients.append(sender)
    before = dropped(gw)
    done = asyncio.Event()

    async def watch() -> None:
        for _ in range(600):
            if await asyncio.to_thread(dropped, gw) > before:
                done.set()
                return
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    try:
        await flood(sender, "slow", done)
        await watcher
    finally:
        watcher.cancel()
    assert done.is_set(), "the slow socket was never dropped"
    for _ in range(100):
        if not holds_connection(gw, slow.local_port):
            break
        await asyncio.sleep(0.1)
    assert not holds_connection(gw, slow.local_port), "the TCP connection is still open"
    for _ in range(5):
        assert (await sender.call("chat:send", {"to": "slow", "body": "more"}))["ok"]
    assert dropped(gw) == before + 1
    await slow.close()
    gw.stop()
    output = gw.output()
    assert "Task was destroyed" not in output, output
    assert "Traceback" not in output, output


async def test_an_expired_client_that_stops_reading_is_cut_at_the_transport(
    stack_factory: Stack, clients: list[Client]
) -> None:
    """Token expiry closes the namespace and then the connection; one whose client does
    not read (full buffers, fewer packets queued than the slow-consumer limit) is reset
    after the close grace instead of staying open with its buffers."""
    stack_factory.start("rooms", instance="rooms-expiry")
    gw = stack_factory.start(
        "gateway",
        {
            "ROOMCAST_JWT_LEEWAY": "0",
            "ROOMCAST_MAX_BODY_BYTES": str(len(BODY)),
            "ROOMCAST_RATE_LIMIT_PER_SEC": "100000",
            "ROOMCAST_RATE_LIMIT_BURST": "100000",
        },
        instance="gw-expiry",
    )
    t = unique("expiry")
    slow = RawClient(gw.url, token("slow", t, ttl=4))
    await slow.connect()
    slow.pause_reading()
    sender = await connect(gw.url, token("fast", t))
    clients.append(sender)
    for _ in range(40):  # 400 x 30 KB: far over loopback buffers, under 1,000 packets
        acks = await asyncio.gather(
            *(sender.call("chat:send", {"to": "slow", "body": BODY}) for _ in range(10))
        )
        assert all(a["ok"] for a in acks), acks
    for _ in range(150):
        if not holds_connection(gw, slow.local_port):
            break
        await asyncio.sleep(0.1)
    assert not holds_connection(gw, slow.local_port), "the TCP connection is still open"
    assert dropped(gw) == 0
    await slow.close()
    gw.stop()
    output = gw.output()
    assert "Task was destroyed" not in output, output
    assert "Traceback" not in output, output
