"""Tenant broadcast: publish one notification to a tenant whose sockets sit on two gateways.

Connects `--sockets` members of one tenant (half on each gateway, raw WebSocket clients,
one user per socket), then publishes `--rounds` tenant notifications one after another
through `roomcast.sdk.publisher` and reports, per round: the publish round trip (until
the notification is stored), the time from publish to the last `notification:new`, and
to the last `notification:count` that includes it; and CPU seconds per 1,000
deliveries for each gateway and the persistence service (which counts for them).

Run: `.venv/bin/python -m bench.notifications_broadcast [--sockets 10000]`
(a private NATS server; the database of `ROOMCAST_DATABASE_URL`).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from bench.sioclient import RawClient
from bench.stack import BenchStack, token
from roomcast.dev.embedded import EmbeddedNats
from roomcast.sdk.publisher import Publisher


def cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def run(sockets: int, rounds: int, nats_url: str) -> None:
    stack = await asyncio.to_thread(
        BenchStack(
            gateways=2,
            services=("rooms", "persistence"),
            extra_env={"ROOMCAST_NATS_URL": nats_url, "ROOMCAST_LOG_LEVEL": "ERROR"},
        ).start
    )
    tenant = f"bcast-{uuid.uuid4().hex[:6]}"
    clients: list[RawClient] = []
    news: dict[str, list[float]] = {}
    counts: dict[int, list[float]] = {}

    def recorder(event: str, data: object) -> None:
        now = time.perf_counter()
        if event == "notification:new" and isinstance(data, dict):
            news.setdefault(str(data["id"]), []).append(now)
        elif event == "notification:count" and isinstance(data, dict):
            counts.setdefault(int(data["unread"]), []).append(now)

    try:
        for start in range(0, sockets, 200):
            batch = [
                RawClient(stack.urls[i % 2], token(f"u{i}", tenant))
                for i in range(start, min(start + 200, sockets))
            ]
            for c in batch:
                c.on_event = recorder
            await asyncio.gather(*(c.connect() for c in batch))
            clients += batch
        await asyncio.sleep(2 + sockets / 2000)
        counts.clear()
        pids = {name: stack.pid(name) for name in ("gateway-1", "gateway-2", "persistence")}
        async with await Publisher.connect(nats_url) as pub:
            for n in range(1, rounds + 1):
                before = {name: cpu(pid) for name, pid in pids.items()}
                started = time.perf_counter()
                sent = await pub.notify_tenant(tenant, title=f"broadcast {n}")
                stored = time.perf_counter()
                deadline = started + 120
                while (
                    len(news.get(sent.id, [])) < sockets or len(counts.get(n, [])) < sockets
                ) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.05)
                got_new, got_count = news.get(sent.id, []), counts.get(n, [])
                used = {name: cpu(pid) - before[name] for name, pid in pids.items()}
                per_k = ", ".join(
                    f"{name} {used[name] * 1000 / max(1, len(got_new)) * 1000:.0f} ms"
                    for name in pids
                )
                print(
                    f"round {n}: stored in {(stored - started) * 1000:.1f} ms; "
                    f"notification:new to {len(got_new)}/{sockets} sockets, last after "
                    f"{(max(got_new) - started) * 1000:.0f} ms; notification:count to "
                    f"{len(got_count)}/{sockets}, last after "
                    f"{(max(got_count) - started) * 1000 if got_count else float('nan'):.0f} ms; "
                    f"CPU per 1,000 deliveries: {per_k}"
                )
                await asyncio.sleep(1)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="rc-bench-nats-")))
    server.start()
    try:
        asyncio.run(run(args.sockets, args.rounds, server.url))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
