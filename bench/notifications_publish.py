"""Publish throughput with durable acks: notifications per second through the SDK.

Runs a private `nats-server` (JetStream `sync_interval: always`), a fresh database
(`rc_notify_publish_bench` on `ROOMCAST_DATABASE_URL`'s server, dropped afterwards) and
the rooms and persistence services as separate processes, then sends `--count`
notifications per round with `Publisher.notify_user` (each to one of 1,000 users of
one of 50 tenants), with N calls in flight for each N of `--inflight`. A call returns
after the persistence service committed the notification to PostgreSQL (the durability
point) and published `notification:new` to the user's subject; no gateway runs, so
the figure is the publishing path alone. Reports notifications/s, p50/p99 of one call,
and the CPU per 1,000 notifications of the persistence service and of the publishing
process (the SDK, in this process).

Run: `.venv/bin/python -m bench.notifications_publish [--count 5000] [--inflight 1,16,64]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import psutil

from bench.persistence_support import DEFAULT_DB, Services, nats_server, pct
from roomcast.migrations import migrate
from roomcast.sdk.publisher import Publisher

DB = "rc_notify_publish_bench"
TENANTS = 50
USERS = 1000


async def round_of(pub: Publisher, count: int, inflight: int, seed: int) -> list[float]:
    """Send `count` notifications with `inflight` calls at once; each call's seconds."""
    rng = random.Random(seed)
    jobs = [(f"t{rng.randrange(TENANTS)}", f"u{rng.randrange(USERS)}") for _ in range(count)]
    took: list[float] = []

    async def worker() -> None:
        while jobs:
            tenant, user = jobs.pop()
            started = time.perf_counter()
            await pub.notify_user(tenant, user, title="Progress saved", body="Lesson 4 done")
            took.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(inflight)))
    return took


async def run(nats_url: str, services: Services, count: int, inflights: list[int]) -> None:
    services.start("rooms")
    services.start("persistence")
    proc = psutil.Process(services.procs["persistence"].pid)
    async with await Publisher.connect(nats_url) as pub:
        await round_of(pub, 200, 8, seed=0)  # warm up: connections, prepared statements
        for n in inflights:
            cpu = proc.cpu_times()
            own = time.process_time()
            started = time.perf_counter()
            took = await round_of(pub, count, n, seed=n)
            elapsed = time.perf_counter() - started
            used = sum(proc.cpu_times()[:2]) - sum(cpu[:2])
            mine = time.process_time() - own
            ms = [t * 1000 for t in took]
            print(
                f"{n:>3} in flight: {count / elapsed:,.0f} notifications/s; one call "
                f"p50 {pct(ms, 50):.1f} ms, p99 {pct(ms, 99):.1f} ms; persistence CPU "
                f"{used / count * 1000:.2f} s per 1,000, publisher (SDK) CPU "
                f"{mine / count * 1000:.2f} s per 1,000"
            )


async def _admin(base: str, sql: str) -> None:
    conn = await asyncpg.connect(base.replace("+asyncpg", ""))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000, help="notifications per round")
    parser.add_argument("--inflight", default="1,16,64", help="calls in flight, per round")
    args = parser.parse_args()
    inflights = [int(n) for n in args.inflight.split(",")]
    base = os.environ.get("ROOMCAST_DATABASE_URL", DEFAULT_DB)
    db_url = base.rsplit("/", 1)[0] + f"/{DB}"
    asyncio.run(_admin(base, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
    asyncio.run(_admin(base, f"CREATE DATABASE {DB}"))
    try:
        migrate(db_url)
        workdir = Services(env={}).workdir
        with nats_server(Path(workdir), "always") as nats_url:
            services = Services(
                env={
                    "ROOMCAST_NATS_URL": nats_url,
                    "ROOMCAST_DATABASE_URL": db_url,
                    "ROOMCAST_LOG_LEVEL": "WARNING",
                },
                workdir=Path(workdir),
            )
            try:
                asyncio.run(run(nats_url, services, args.count, inflights))
            finally:
                services.stop()
    finally:
        asyncio.run(_admin(base, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))


if __name__ == "__main__":
    main()
