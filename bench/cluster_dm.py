"""Direct messages on one NATS server (streams R1) against a three-node cluster (R3),
same machine, same run: the `bench.dm_load` scenario on each backbone in turn.

Both backbones are embedded nats-server processes (JetStream fsync on every write, as
`roomcast dev` runs them), on loopback, started and stopped by this script; the
gateways and services connect to them as in production (every node's URL, streams
replicated with `ROOMCAST_STREAM_REPLICAS`). Per rate: delivered %, latency p50/p99,
and the CPU of the NATS servers. PostgreSQL and Redis come from ROOMCAST_* URLs.

Run: `.venv/bin/python -m bench.cluster_dm --rates 500,1000,2000`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bench.dm_load import cpu_seconds, run_rate
from bench.stack import BenchStack
from roomcast.dev.embedded import EmbeddedNats, nats_cluster, wait_jetstream


async def measure(label: str, nodes: list[EmbeddedNats], args: argparse.Namespace) -> None:
    urls = [node.start() for node in nodes]
    try:
        await wait_jetstream(urls[0])
        env = {
            "ROOMCAST_NATS_URL": ",".join(urls),
            "ROOMCAST_STREAM_REPLICAS": str(min(3, len(nodes))),
        }
        os.environ.update(env)
        services = ("rooms", "presence", "persistence")
        stack = await asyncio.to_thread(BenchStack(2, env, services).start)
        try:
            await run_rate(stack.urls, 200, 2, args.pairs)  # warm-up
            for rate in (int(r) for r in args.rates.split(",")):
                pids = [n.pid for n in nodes if n.pid is not None]
                before = sum(cpu_seconds(p) for p in pids)
                result = await run_rate(stack.urls, rate, args.duration, args.pairs)
                nats_cpu = sum(cpu_seconds(p) for p in pids) - before
                print(
                    f"{label} {rate:>5} DM/s: delivered {result['delivered_pct']:.2f}% of "
                    f"{result['sent']}, failed acks {result['failed_acks']}; latency p50 "
                    f"{result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms; NATS servers "
                    f"{nats_cpu / result['sent'] * 1000:.3f} s CPU per 1,000 DMs",
                    flush=True,
                )
        finally:
            await asyncio.to_thread(stack.stop)
    finally:
        for node in nodes:
            node.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="500,1000,2000")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roomcast-cluster-bench-") as tmp:
        base = Path(tmp)
        await measure("R1, one server  ", [EmbeddedNats(base / "single")], args)
        await measure("R3, three nodes ", nats_cluster(base / "cluster", 3), args)


if __name__ == "__main__":
    asyncio.run(main())
