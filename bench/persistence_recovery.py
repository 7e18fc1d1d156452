"""Recovery latency: a client that missed 100 direct messages reconnects.

Rooms, one gateway and persistence run against a private nats-server
(`sync_interval: always`) and a dedicated database. Each round, 100 DMs are sent to
a disconnected user, who then reconnects with `auth: {token, since: {user:<id>:
lastSeq}}`. Reports, per round:

- end to end: from opening the WebSocket to `session:recovered`, all 100 replayed
  messages received before it (handshake, JWT check and the replay included);
- after connect: from the namespace connect ack to `session:recovered`;
- service: the `cmd.persistence.recover` request alone, over NATS, to its last chunk.

Run: `.venv/bin/python -m bench.persistence_recovery --rounds 30`
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import nats

from bench.persistence_support import Services, bench_database, nats_server, pct
from bench.sioclient import RawClient
from bench.stack import BenchStack, token
from contracts import endpoints, subjects
from contracts.identity import Identity
from contracts.messages import ChatSend
from contracts.recovery import RecoverRequest, RecoverRoom
from contracts.tenants import RegisterMember
from roomcast.platform import bus

MISSED = 100


class RecoveringClient(RawClient):
    """`RawClient` whose handshake carries `since`; records when things arrive."""

    def __init__(self, url: str, tok: str, since: dict[str, int]) -> None:
        super().__init__(url, tok, auth={"token": tok, "since": since})
        self.replayed = 0
        self.recovered: Any = None
        self.done = asyncio.Event()
        self.on_event = self._event

    def _event(self, event: str, data: Any) -> None:
        if event == "chat:message":
            self.replayed += 1
        elif event == "session:recovered":
            self.recovered = data
            self.done.set()


async def send_missed(nc: Any, tenant: str, count: int) -> int:
    """Send `count` DMs alice → bob through the rooms service; returns the seq before them."""
    info = await nc.jetstream().stream_info(subjects.LOG_STREAM)
    alice = Identity(tenant=tenant, user_id="alice", role="member")
    for i in range(count):
        cmd = ChatSend(sender=alice, tenant=tenant, to="bob", body=f"missed {i}", sid="bench")
        (await bus.request(nc, endpoints.CHAT_SEND, cmd)).checked()
    return int(info.state.last_seq)


async def service_time(nc: Any, tenant: str, after: int) -> float:
    request = RecoverRequest(
        identity=Identity(tenant=tenant, user_id="bob", role="member"),
        rooms=[RecoverRoom(room="user:bob", after=after)],
    )
    started = time.perf_counter()
    count = 0
    async for chunk in bus.stream(nc, endpoints.RECOVER, request):
        count += len(chunk.messages)
    took = time.perf_counter() - started
    assert count == MISSED, count
    return took


async def measure(url: str, nats_url: str, rounds: int) -> None:
    nc = await nats.connect(nats_url)
    tenant = f"rec-{uuid.uuid4().hex[:8]}"
    for user in ("alice", "bob"):
        identity = Identity(tenant=tenant, user_id=user, role="member")
        await bus.request(nc, endpoints.DIRECTORY_REGISTER, RegisterMember(identity=identity))
    end_to_end, after_connect, service = [], [], []
    for i in range(rounds + 3):
        after = await send_missed(nc, tenant, MISSED)
        client = RecoveringClient(url, token("bob", tenant), {"user:bob": after})
        started = time.perf_counter()
        connected = await client.connect()
        await asyncio.wait_for(client.done.wait(), 10)
        finished = time.perf_counter()
        await client.close()
        assert client.replayed == MISSED, (client.replayed, client.recovered)
        assert client.recovered["rooms"][0]["replayed"] == MISSED
        took = await service_time(nc, tenant, after)
        if i >= 3:
            end_to_end.append((finished - started) * 1000)
            after_connect.append((finished - connected) * 1000)
            service.append(took * 1000)
    await nc.close()
    for label, samples in (
        ("end to end (connect → session:recovered)", end_to_end),
        ("after the connect ack", after_connect),
        ("persistence service alone (NATS request → last chunk)", service),
    ):
        print(
            f"recover {MISSED} missed, {rounds} rounds, {label}: "
            f"p50 {pct(samples, 50):.1f} ms, p99 {pct(samples, 99):.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sync", choices=("always", "default"), default="always")
    args = parser.parse_args()
    with bench_database() as db_url:
        services = Services(env={})
        with nats_server(Path(services.workdir), args.sync) as nats_url:
            env = {"ROOMCAST_NATS_URL": nats_url, "ROOMCAST_DATABASE_URL": db_url}
            services.env = {**env, "ROOMCAST_LOG_LEVEL": "WARNING"}
            stack = BenchStack(gateways=1, extra_env=env).start()
            services.start("persistence")
            try:
                asyncio.run(measure(stack.urls[0], nats_url, args.rounds))
            finally:
                services.stop()
                stack.stop()


if __name__ == "__main__":
    main()
