"""CPU cost of the rooms service per direct message, driven straight over NATS.

Reports CPU microseconds the rooms process spends per `chat_send` (robust to other
load on the machine, unlike wall-clock throughput) and the throughput reached with
`--concurrency` requests in flight. Run: `.venv/bin/python -m bench.rooms_cost`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

import nats
import psutil

from bench.stack import BenchStack
from contracts import endpoints
from contracts.identity import Identity
from contracts.messages import ChatSend
from contracts.tenants import RegisterMember
from roomcast.platform import bus


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    stack = await asyncio.to_thread(BenchStack(gateways=0).start)
    nc = await nats.connect(os.environ.get("ROOMCAST_NATS_URL", "nats://127.0.0.1:4222"))
    try:
        tenant = f"cost-{uuid.uuid4().hex[:8]}"
        bob = Identity(tenant=tenant, user_id="bob", role="member")
        ann = Identity(tenant=tenant, user_id="ann", role="member")
        await bus.request(nc, endpoints.DIRECTORY_REGISTER, RegisterMember(identity=bob))
        payload = ChatSend(sender=ann, tenant=tenant, to="bob", body="x" * 64, sid="s")
        sem = asyncio.Semaphore(args.concurrency)

        async def one() -> None:
            async with sem:
                (await bus.request(nc, endpoints.CHAT_SEND, payload, wait=30)).checked()

        await asyncio.gather(*(one() for _ in range(500)))  # warm-up
        proc = psutil.Process(stack.pid("rooms"))
        cpu0 = sum(proc.cpu_times()[:2])
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.count)))
        wall = time.perf_counter() - t0
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        print(
            f"{args.count} sends: {args.count / wall:,.0f}/s wall, "
            f"rooms CPU {cpu / args.count * 1e6:,.0f} µs per send "
            f"(ceiling {args.count / cpu:,.0f}/s on one core)"
        )
    finally:
        await nc.close()
        stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
