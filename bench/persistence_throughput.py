"""Messages per second the persistence service writes into PostgreSQL, nothing lost.

1. Backlog: `--messages` direct messages are appended to the log (many tenants and
   users, ~100-byte bodies, a clientId each) with the persistence service stopped,
   then it is started and drains them. Rate = messages / (time from the first row
   to the last), checked with `count(*)` against what was appended.
2. Live: with the service running, `--live` more messages are appended as fast as
   the log accepts them; reports the append rate and how long after the last append
   the last row is in PostgreSQL.

Run: `.venv/bin/python -m bench.persistence_throughput --messages 200000`
(`--sync default` runs the log without `sync_interval: always`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import nats
import psutil
from nats.js import JetStreamContext

from bench.persistence_support import Services, bench_database, nats_server
from contracts import subjects
from contracts.identity import Identity
from contracts.messages import LoggedMessage
from roomcast.platform.streams import ensure_log_stream

TENANTS = 200
USERS = 100
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "support",
    "answers",
]


def payloads(count: int) -> list[tuple[str, bytes]]:
    """`count` realistic log messages: `(subject, body)`."""
    rng = random.Random(7)
    out = []
    for _ in range(count):
        tenant = f"t{rng.randrange(TENANTS)}"
        sender, to = (f"u{rng.randrange(USERS)}" for _ in range(2))
        message = LoggedMessage(
            tenant=tenant,
            sender=Identity(tenant=tenant, user_id=sender, role="member", name=sender.title()),
            to=to,
            body=" ".join(rng.choice(WORDS) for _ in range(18)),
            ts=int(time.time() * 1000),
            client_id=uuid.uuid4().hex,
            supervised=rng.random() < 0.1,
        )
        out.append((subjects.log_dm(tenant, sender, to), message.model_dump_json().encode()))
    return out


async def append(
    js: JetStreamContext, items: list[tuple[str, bytes]], inflight: int = 256
) -> float:
    """Append with `inflight` unacknowledged publishes; returns messages per second."""
    queue = iter(items)
    started = time.perf_counter()

    async def worker() -> None:
        for subject, body in queue:
            await js.publish(subject, body, stream=subjects.LOG_STREAM, timeout=30)

    await asyncio.gather(*(worker() for _ in range(inflight)))
    return len(items) / (time.perf_counter() - started)


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def count_rows(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM messages"))


async def wait_rows(db: asyncpg.Connection, target: int) -> tuple[float, float]:
    """Poll until `target` rows; returns (time of the first new row, time of the last)."""
    first = None
    while True:
        n = await count_rows(db)
        now = time.perf_counter()
        if first is None and n > 0:
            first = now
        if n >= target:
            return first or now, now
        await asyncio.sleep(0.05)


async def run(nats_url: str, db_url: str, services: Services, messages: int, live: int) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_log_stream(js, 7 * 86400, 120)
    db = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    try:
        backlog = payloads(messages)
        rate = await append(js, backlog)
        print(f"backlog: appended {messages} messages at {rate:,.0f}/s (persistence stopped)")
        name = services.start("persistence")
        while await count_rows(db) == 0:
            await asyncio.sleep(0.01)
        procs = {
            "persistence": [psutil.Process(services.procs[name].pid)],
            "postgres": [p for p in psutil.process_iter(["name"]) if "postgres" in p.info["name"]],
            "nats-server": [
                p for p in psutil.process_iter(["name"]) if p.info["name"] == "nats-server"
            ],
        }
        cpu0 = {k: _cpu(v) for k, v in procs.items()}
        first, last = await wait_rows(db, messages)
        cpu = {k: _cpu(v) - cpu0[k] for k, v in procs.items()}
        took = last - first
        stored = await count_rows(db)
        print(
            f"backlog: {stored} rows ({'nothing lost' if stored == messages else 'MISSING'}) "
            f"in {took:.2f} s = {messages / took:,.0f} messages/s into PostgreSQL"
        )
        busy = ", ".join(f"{k} {v / took:.0%}" for k, v in cpu.items())
        print(f"         CPU (of one core) during the drain: {busy}; load {psutil.getloadavg()}")
        if live:
            more = payloads(live)
            started = time.perf_counter()
            rate = await append(js, more)
            appended = time.perf_counter()
            _, last = await wait_rows(db, messages + live)
            print(
                f"live: appended {live} at {rate:,.0f}/s; all in PostgreSQL "
                f"{(last - appended) * 1000:.0f} ms after the last append "
                f"({live / (last - started):,.0f} messages/s end to end)"
            )
    finally:
        await db.close()
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--live", type=int, default=20_000)
    parser.add_argument("--sync", choices=("always", "default"), default="always")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--inflight", type=int, default=2)
    args = parser.parse_args()
    with bench_database() as db_url:
        workdir = Services(env={}).workdir
        with nats_server(Path(workdir), args.sync) as nats_url:
            services = Services(
                env={
                    "ROOMCAST_NATS_URL": nats_url,
                    "ROOMCAST_DATABASE_URL": db_url,
                    "ROOMCAST_LOG_LEVEL": "WARNING",
                    "ROOMCAST_PERSISTENCE_BATCH": str(args.batch),
                    "ROOMCAST_PERSISTENCE_INFLIGHT": str(args.inflight),
                },
                workdir=Path(workdir),
            )
            print(f"log sync_interval: {args.sync}; batch {args.batch} x {args.inflight} in flight")
            try:
                asyncio.run(run(nats_url, db_url, services, args.messages, args.live))
            finally:
                services.stop()


if __name__ == "__main__":
    main()
