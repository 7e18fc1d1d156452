"""Gateway memory per idle connection.

Opens `--connections` authenticated Socket.IO connections (namespace `/tenant`, one
user each, so each also joins its own rooms and NATS subscriptions) to one gateway
and reports the gateway's RSS growth per connection. Run:
`.venv/bin/python -m bench.idle_memory --connections 2000`.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import uuid

import psutil

from bench.sioclient import RawClient
from bench.stack import BenchStack, token


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--shared-tenant", action="store_true", help="all users in one tenant")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    stack = await asyncio.to_thread(
        BenchStack(gateways=1, extra_env={"ROOMCAST_LOG_LEVEL": "ERROR"}).start
    )
    pid = stack.pid("gateway-1")
    clients: list[RawClient] = []
    try:
        warm = RawClient(stack.urls[0], token("warm", "warm"))
        await warm.connect()
        await asyncio.sleep(1)
        before = rss_mb(pid)
        run = uuid.uuid4().hex[:6]
        for start in range(0, args.connections, 100):
            batch = []
            for i in range(start, min(start + 100, args.connections)):
                tenant = "shared" if args.shared_tenant else f"t{run}-{i}"
                batch.append(RawClient(stack.urls[0], token(f"u{i}", tenant)))
            await asyncio.gather(*(c.connect() for c in batch))
            clients += batch
        await asyncio.sleep(2)
        after = rss_mb(pid)
        per = (after - before) * 1024 / args.connections
        print(
            f"{args.connections} idle connections: gateway RSS {before:.1f} → {after:.1f} MiB, "
            f"{per:.1f} KiB per connection"
        )
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
