"""SIGTERM on a gateway under load: its clients move to another gateway, lose no
acknowledged message, never appear offline, and the gateway exits in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import socketio

from roomcast.migrations import migrate
from tests.balancer import Balancer
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import base_env

MOVERS = 12
SEND_FOR = 6.0
DRAIN_AT = 2.0
EXIT_BOUND = 15.0
"""Seconds from SIGTERM to exit: well within Kubernetes' default 30-second grace."""
GRACE = 5.0
"""The presence service's default grace before `user:offline`."""


class Mover:
    """A stock-configured client (reconnects by itself) behind the balancer, recovering
    from the last `seq` it saw in each room on every reconnect."""

    def __init__(self, user: str, tenant: str) -> None:
        self.user = user
        self.token = token(user, tenant)
        self.sio = socketio.AsyncClient(reconnection=True)
        self.ids: list[str] = []
        self.last: dict[str, int] = {}
        self.connects = 0
        self.sio.on("chat:message", self._message, namespace="/tenant")
        self.sio.on("connect", self._connected, namespace="/tenant")
        self.sio.on("disconnect", self._disconnected, namespace="/tenant")
        self.reasons: list[str] = []

    async def _disconnected(self, reason: str = "") -> None:
        self.reasons.append(str(reason))

    def auth(self) -> dict[str, Any]:
        return {"token": self.token, "since": dict(self.last)}

    async def _connected(self) -> None:
        self.connects += 1

    async def _message(self, data: dict[str, Any]) -> None:
        self.ids.append(data["id"])
        self.last[data["room"]] = max(self.last.get(data["room"], 0), data["seq"])

    async def connect(self, url: str) -> Mover:
        await self.sio.connect(
            url, auth=self.auth, namespaces=["/tenant"], transports=["websocket"], wait_timeout=10
        )
        return self


async def test_a_draining_gateway_hands_its_clients_over(
    run_service: Callable[..., ServiceProcess],
    nats_url: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    clients: list[Client],
) -> None:
    await asyncio.to_thread(migrate, database_url)
    env = {**base_env(nats_url, database_url, redis_url)}
    services = [run_service(name, env=env, wait=False) for name in ("rooms", "presence")]
    services.append(run_service("persistence", env=env, wait=False))
    leaving = run_service("gateway", env=env, wait=False)
    staying = run_service("gateway", env=env, wait=False)
    for proc in [*services, leaving, staying]:
        proc.wait_ready(60)
    addr = urlsplit(leaving.url)
    balancer = await Balancer([(addr.hostname or "", addr.port or 0)]).start()
    t = unique("drain")
    movers = [await Mover(f"u{i}", t).connect(balancer.url) for i in range(MOVERS)]
    new = urlsplit(staying.url)
    balancer.backends.append((new.hostname or "", new.port or 0))
    obs = await connect(staying.url, token("obs", t))
    sender = await connect(staying.url, token("sender", t))
    clients += [obs, sender]
    try:
        acked: dict[str, str] = {}
        refused: list[Any] = []
        started = time.monotonic()
        drained_in: float | None = None

        async def drain() -> None:
            nonlocal drained_in
            await asyncio.sleep(DRAIN_AT)
            at = time.monotonic()
            leaving.terminate()
            code = await asyncio.to_thread(leaving.wait, EXIT_BOUND)
            assert code == 0, leaving.tail()
            drained_in = time.monotonic() - at

        drainer = asyncio.create_task(drain())
        n = 0
        while time.monotonic() - started < SEND_FOR:
            mover = movers[n % MOVERS]
            body = f"m{n}"
            ack = await sender.call("chat:send", {"to": mover.user, "body": body, "clientId": body})
            if ack["ok"]:
                acked[ack["id"]] = mover.user
            else:
                refused.append(ack)
            n += 1
            await asyncio.sleep(0.05)
        await drainer
        assert drained_in is not None and drained_in < EXIT_BOUND
        assert not refused, refused[:3]

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = {i for m in movers for i in m.ids}
            if all(m.sio.connected for m in movers) and set(acked) <= got:
                break
            await asyncio.sleep(0.2)
        assert all(m.sio.connected and m.connects >= 2 for m in movers), [
            (m.sio.connected, m.connects, m.reasons) for m in movers
        ]
        for m in movers:
            mine = [i for i, user in acked.items() if user == m.user]
            assert set(mine) <= set(m.ids), f"{m.user} lost {set(mine) - set(m.ids)}"
            assert len(m.ids) == len(set(m.ids)), f"{m.user} got a message twice"

        await asyncio.sleep(GRACE + 2)
        gone = {d["userId"] for d in obs.received("user:offline")}
        assert not gone & {m.user for m in movers}, f"shown offline while moving: {gone}"
        print(f"{len(acked)} acked, drained in {drained_in:.2f}s")
    finally:
        for m in movers:
            await m.sio.disconnect()
        await balancer.close()
