"""`room:join` through a policy: latency cold and cached, joins one policy replica
sustains, CPU per join in the rooms service and in the policy worker.

Drives `ROOM_AUTHORIZE` (what a gateway asks on `room:join`) straight over NATS, against
one rooms replica and one `roomcast policy serve bench.policy_kinds:Cold
bench.policy_kinds:Warm` process, on a private embedded NATS (so other systems on the
machine cannot answer). Run: `.venv/bin/python -m bench.policy_join`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
import psutil
from nats.aio.client import Client as NATS

from bench.stack import BenchStack
from contracts import endpoints
from contracts.explicit_rooms import Authorize
from contracts.identity import Identity
from roomcast.dev.embedded import EmbeddedNats
from roomcast.dev.processes import child_options, stop_process
from roomcast.platform import bus
from roomcast.registry import READY_FILE_ENV


def _ms(values: list[float], q: float) -> str:
    return f"{statistics.quantiles(values, n=1000)[int(q * 1000) - 1] * 1000:.2f}"


async def _latencies(nc: NATS, who: Identity, names: list[str]) -> list[float]:
    took = []
    for name in names:
        ask = Authorize(identity=who, tenant=who.tenant, name=name)
        t0 = time.perf_counter()
        (await bus.request(nc, endpoints.ROOM_AUTHORIZE, ask)).checked()
        took.append(time.perf_counter() - t0)
    return took


def _start_worker(url: str, ready: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    targets = ["bench.policy_kinds:Cold", "bench.policy_kinds:Warm"]
    return subprocess.Popen(
        [sys.executable, "-m", "roomcast.cli", "policy", "serve", *targets, "--nats-url", url],
        env={**os.environ, **env, READY_FILE_ENV: str(ready), "ROOMCAST_LOG_LEVEL": "WARNING"},
        **child_options(),
    )


async def run(args: argparse.Namespace, url: str, workdir: Path) -> None:
    stack = await asyncio.to_thread(
        BenchStack(gateways=0, extra_env={"ROOMCAST_NATS_URL": url}).start
    )
    ready = workdir / "policy.ready"
    worker = await asyncio.to_thread(_start_worker, url, ready, stack.env)
    nc = await nats.connect(url)
    try:
        while not ready.exists():
            await asyncio.sleep(0.05)
        who = Identity(tenant=f"bench-{uuid.uuid4().hex[:8]}", user_id="ann", role="member")
        await _latencies(nc, who, [f"benchcold:w{i}" for i in range(200)])  # warm-up
        cold = await _latencies(nc, who, [f"benchcold:{i}" for i in range(args.count)])
        await _latencies(nc, who, ["benchwarm:1"])
        warm = await _latencies(nc, who, ["benchwarm:1"] * args.count)
        print(f"sequential, {args.count} joins each (ms):")
        print(f"  cold (asks the policy): p50 {_ms(cold, 0.5)}  p99 {_ms(cold, 0.99)}")
        print(f"  cached:                 p50 {_ms(warm, 0.5)}  p99 {_ms(warm, 0.99)}")

        rooms = psutil.Process(stack.pid("rooms"))
        policy = psutil.Process(worker.pid)
        sem = asyncio.Semaphore(args.concurrency)

        async def one(i: int) -> None:
            async with sem:
                ask = Authorize(identity=who, tenant=who.tenant, name=f"benchcold:r{i}")
                (await bus.request(nc, endpoints.ROOM_AUTHORIZE, ask, wait=30)).checked()

        cpu_rooms0, cpu_policy0 = sum(rooms.cpu_times()[:2]), sum(policy.cpu_times()[:2])
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(args.rate_count)))
        wall = time.perf_counter() - t0
        cpu_rooms = sum(rooms.cpu_times()[:2]) - cpu_rooms0
        cpu_policy = sum(policy.cpu_times()[:2]) - cpu_policy0
        n = args.rate_count
        print(
            f"{n} cold joins, {args.concurrency} in flight: {n / wall:,.0f}/s; CPU per join: "
            f"rooms {cpu_rooms / n * 1e6:,.0f} µs, policy worker {cpu_policy / n * 1e6:,.0f} µs "
            f"(one policy replica's ceiling ~{n / cpu_policy:,.0f}/s on one core)"
        )
    finally:
        await nc.close()
        stop_process(worker)
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="sequential joins per case")
    parser.add_argument("--rate-count", type=int, default=10000, help="joins for the rate")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roomcast-policy-bench-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats", 0)
        url = server.start()
        try:
            asyncio.run(run(args, url, Path(tmp)))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
