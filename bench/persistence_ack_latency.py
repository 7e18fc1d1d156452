"""Direct-message ack latency with durability: the ack waits for the fsynced log write.

Runs the rooms service, two gateways and the persistence service against a private
nats-server with `sync_interval: always` (the documented policy; `--sync default`
for comparison) and a dedicated database, then drives DMs open-loop through real
Socket.IO connections with `bench.dm_load`. Reports the ack latency (send → `{ok}`)
and the delivery latency, while the persistence service writes everything to
PostgreSQL. Run: `.venv/bin/python -m bench.persistence_ack_latency --rates 500`.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench.dm_load import run_rate
from bench.persistence_support import Services, bench_database, nats_server
from bench.stack import BenchStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="500")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--sync", choices=("always", "default"), default="always")
    parser.add_argument(
        "--no-persistence", action="store_true", help="leave the persistence service out"
    )
    args = parser.parse_args()
    with bench_database() as db_url:
        services = Services(env={})
        with nats_server(Path(services.workdir), args.sync) as nats_url:
            env = {"ROOMCAST_NATS_URL": nats_url, "ROOMCAST_DATABASE_URL": db_url}
            services.env = {**env, "ROOMCAST_LOG_LEVEL": "WARNING"}
            stack = BenchStack(gateways=2, extra_env=env).start()
            if not args.no_persistence:
                services.start("persistence")
            try:
                asyncio.run(_measure(stack.urls, args))
            finally:
                services.stop()
                stack.stop()


async def _measure(urls: list[str], args: argparse.Namespace) -> None:
    print(f"log sync_interval: {args.sync}")
    await run_rate(urls, 200, 2, args.pairs)  # warm-up
    for rate in (int(r) for r in args.rates.split(",")):
        r = await run_rate(urls, rate, args.duration, args.pairs)
        print(
            f"{rate:>6} DM/s for {args.duration:.0f} s: ack p50 {r['ack_p50_ms']:.2f} ms, "
            f"p99 {r['ack_p99_ms']:.2f} ms; failed acks {r['failed_acks']}; delivered "
            f"{r['delivered_pct']:.2f}% (p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms)"
        )


if __name__ == "__main__":
    main()
