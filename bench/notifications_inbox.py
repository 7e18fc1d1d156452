"""Inbox latency: `notification:list` pages and the unread count over many notifications.

Fills a fresh database with `--notifications` rows in tenant `big` (half to the whole
tenant, 40 % to one of 1,000 users, 10 % to a role) plus as many in 500 other tenants,
then times the persistence service's store (in process, no NATS: the query is the cost)
for a member of `big`: the first page, pages before random cursors, and the unread
count, before and after a mark-all-read. Reports p50/p99.

Run: `.venv/bin/python -m bench.notifications_inbox [--notifications 1000000]`
(uses `ROOMCAST_DATABASE_URL`'s server; creates and drops `rc_notifications_bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import create_async_engine

from bench.persistence_support import pct
from contracts.identity import Identity
from contracts.inbox import ListFilter
from roomcast.migrations import upgrade
from services.persistence.notifications.audience import seen_by
from services.persistence.notifications.ports import Viewer
from services.persistence.notifications.sql import SqlNotificationStore

DB = "rc_notifications_bench"
TENANT = "big"

FILL = """
INSERT INTO notifications (tenant_id, audience, event, title, data, priority, ts)
SELECT CASE WHEN s % 2 = 0 THEN $1 ELSE 't' || (s % 500) END,
       CASE WHEN s % 2 = 1 THEN 'tenant'
            WHEN s % 20 < 10 THEN 'tenant'
            WHEN s % 20 < 18 THEN 'user:u' || (s % 1000)
            ELSE 'role:teacher' END,
       'notification', 'title ' || s, '{}'::jsonb, 'normal', 1700000000000 + s
FROM generate_series(1, $2::bigint) AS s
"""


async def timed(label: str, runs: int, call: Callable[[], Awaitable[object]]) -> None:
    samples = []
    for i in range(runs + 20):
        started = time.perf_counter()
        await call()
        if i >= 20:
            samples.append((time.perf_counter() - started) * 1000)
    print(f"{label}: p50 {pct(samples, 50):.2f} ms, p99 {pct(samples, 99):.2f} ms ({runs} runs)")


async def run(base: str, notifications: int, runs: int) -> None:
    plain = base.replace("+asyncpg", "")
    admin = await asyncpg.connect(plain)
    await admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {DB}")
    url = base.rsplit("/", 1)[0] + f"/{DB}"
    try:
        await upgrade(url)
        db = await asyncpg.connect(url.replace("+asyncpg", ""))
        started = time.perf_counter()
        await db.execute(FILL, TENANT, 2 * notifications)
        await db.execute("ANALYZE")
        mine = await db.fetchval(
            "SELECT count(*) FROM notifications WHERE tenant_id = $1 AND audience IN "
            "('tenant', 'user:alice', 'role:member')",
            TENANT,
        )
        print(
            f"{2 * notifications:,} notifications, {mine:,} seen by alice "
            f"({time.perf_counter() - started:.0f} s to fill)"
        )
        engine = create_async_engine(url, pool_size=2)
        store = SqlNotificationStore(engine)
        alice = Identity(tenant=TENANT, user_id="alice", role="member")
        who = Viewer(TENANT, "alice", seen_by(alice))
        now = int(time.time() * 1000)
        top = await db.fetchval("SELECT max(id) FROM notifications")
        rng = random.Random(5)

        await timed(
            "list, first page of 50",
            runs,
            lambda: store.page(who, ListFilter.ACTIVE, None, 50, now),
        )
        await timed(
            "list, page of 50 before a random cursor",
            runs,
            lambda: store.page(who, ListFilter.ACTIVE, str(rng.randint(1000, top)), 50, now),
        )
        await timed("list, unread only, first page", runs, lambda: store.page(
            who, ListFilter.UNREAD, None, 50, now))  # fmt: skip
        few = max(5, runs // 20)
        await timed("unread count, nothing read", few, lambda: store.unread(who, now))
        await store.read_all(who)
        await db.execute(FILL.replace("1, $2", "$2 + 1, $2 + 100"), TENANT, 2 * notifications)
        await timed("unread count after mark-all-read", runs, lambda: store.unread(who, now))
        await engine.dispose()
        await db.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notifications", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    base = os.environ.get(
        "ROOMCAST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    asyncio.run(run(base, args.notifications, args.runs))


if __name__ == "__main__":
    main()
