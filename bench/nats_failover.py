"""How long a gateway takes to resync its sockets after its NATS node dies.

A three-node NATS cluster (streams R3) on loopback; rooms and persistence on node 0,
a sending gateway on node 0, a receiving gateway with `--sockets` sockets on another
node, a follower of the message log. Senders send direct messages to random
recipients at `--rate`/s; the receiving gateway's node hangs (SIGSTOP) for `--hang`
seconds, then is SIGKILLed. Reported: how long the gateway's resync of every socket
took (`last_resync_ms` in its `/statz`), the messages it replayed, and whether every
acknowledged message reached its recipient exactly once.

    python -m bench.nats_failover --sockets 2000 --rate 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import nats

from bench.sioclient import RawClient
from bench.stack import SECRET, stop_all, token
from contracts import subjects
from roomcast.dev.embedded import nats_cluster
from roomcast.dev.service_process import ServiceProcess
from roomcast.migrations import upgrade


def statz(proc: ServiceProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{proc.health_url}/statz", timeout=5) as resp:  # noqa: S310
        return dict(json.load(resp))


async def follower(nc: Any) -> int:
    """The index of a node other than 0 that does not lead the message log."""
    js = nc.jetstream(timeout=10)
    while True:
        info = await js.stream_info(subjects.LOG_STREAM)
        cluster = info.cluster
        current = [p for p in (cluster.replicas or []) if p.current] if cluster else []
        if cluster is not None and cluster.leader and len(current) == 2:
            leader = int(cluster.leader.rsplit("-", 1)[1])
            return 1 if leader != 1 else 2
        await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="roomcast-failover-"))
    nodes = nats_cluster(work / "nats")
    procs: list[ServiceProcess] = []
    clients: list[RawClient] = []
    for node in nodes:
        node.start()
    try:
        nc = await nats.connect(nodes[0].url)
        js = nc.jetstream(timeout=10)
        while True:
            with contextlib.suppress(Exception):
                await js.account_info()
                await js.add_stream(name="PEERS", subjects=["peers"], num_replicas=3)
                await js.delete_stream("PEERS")
                break
            await asyncio.sleep(0.2)
        db = os.environ.get(
            "ROOMCAST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/postgres"
        )
        await upgrade(db)
        env = {
            "ROOMCAST_JWT_SECRET": SECRET,
            "ROOMCAST_LOG_LEVEL": "WARNING",
            "ROOMCAST_RATE_LIMIT_PER_SEC": "100000",
            "ROOMCAST_RATE_LIMIT_BURST": "100000",
            "ROOMCAST_STREAM_REPLICAS": "3",
            "ROOMCAST_NATS_URL": nodes[0].url,
            "ROOMCAST_DATABASE_URL": db,
        }

        def start(service: str, name: str, **extra: str) -> ServiceProcess:
            proc = ServiceProcess(service, work, {**env, **extra}, instance=name)
            procs.append(proc)
            return proc.start()

        start("rooms", "rooms")
        start("persistence", "persistence")
        doomed = nodes[await follower(nc)]
        sending = start("gateway", "gateway-send")
        receiving = start("gateway", "gateway-recv", ROOMCAST_NATS_URL=doomed.url)

        tenant = f"failover{random.randrange(10**9)}"
        got: Counter[str] = Counter()

        def record(event: str, data: Any) -> None:
            if event == "chat:message":
                got[data["id"]] += 1

        for start_at in range(0, args.sockets, 200):
            batch = [
                RawClient(receiving.url, token(f"u{i}", tenant))
                for i in range(start_at, min(args.sockets, start_at + 200))
            ]
            await asyncio.gather(*(c.connect() for c in batch))
            for c in batch:
                c.on_event = record
            clients += batch
        senders = [RawClient(sending.url, token(f"s{i}", tenant)) for i in range(args.senders)]
        await asyncio.gather(*(c.connect() for c in senders))
        clients += senders
        acked: set[str] = set()
        stop = asyncio.Event()

        async def send(sender: RawClient) -> None:
            pause = args.senders / args.rate
            n = 0
            while not stop.is_set():
                to = f"u{random.randrange(args.sockets)}"
                with contextlib.suppress(Exception):
                    ack = await asyncio.wait_for(
                        sender.call("chat:send", {"to": to, "body": str(n)}), 10
                    )
                    if ack.get("ok"):
                        acked.add(ack["id"])
                n += 1
                await asyncio.sleep(pause)

        traffic = [asyncio.create_task(send(s)) for s in senders]
        await asyncio.sleep(2)
        assert doomed.pid is not None
        os.kill(doomed.pid, signal.SIGSTOP)
        await asyncio.sleep(args.hang)
        os.kill(doomed.pid, signal.SIGKILL)
        killed = time.monotonic()
        while statz(receiving)["sockets_resynced"] < args.sockets:
            assert time.monotonic() - killed < 120, statz(receiving)
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*traffic)
        deadline = time.monotonic() + 30
        while not acked <= set(got) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        stats = statz(receiving)
        missing = len(acked - set(got))
        twice = sum(1 for n in got.values() if n > 1)
        print(
            f"{args.sockets} sockets, {len(acked)} DMs acked at ~{args.rate}/s; "
            f"resync of every socket took {stats['last_resync_ms']} ms after the reconnect; "
            f"{stats['messages_resynced']} messages replayed; {missing} missing, "
            f"{twice} delivered twice; sockets still connected: "
            f"{sum(not c.closed for c in clients[: args.sockets])}"
        )
        await nc.close()
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        stop_all(procs)
        for node in nodes:
            node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--rate", type=float, default=300.0, help="DMs per second in all")
    parser.add_argument("--hang", type=float, default=1.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
