"""What presence costs for one gateway with many connections (not a test).

Starts a private NATS and Valkey, one presence service process, and the gateway's real
`PresenceReporter` in this process with N connections whose clients send
`presence:heartbeat` every H seconds (phases spread evenly, like real clients). Over
the measured window it counts:

- NATS messages on the report subject (a plain subscriber sees every request);
- Redis commands (INFO commandstats of the private server): script calls per report,
  and every other command;
- the Lua time per call, and how long restating all N connections takes (what a
  gateway does after Redis lost its state).

Usage: `python -m bench.presence_heartbeats [--connections 10000] [--heartbeat-every 60]
[--beat 5] [--duration 60]`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
import redis.asyncio as aioredis

from contracts import subjects
from contracts.identity import Identity
from contracts.presence import GatewayReport, OpenedConnection
from roomcast.dev.embedded import EmbeddedNats, EmbeddedRedis
from roomcast.dev.service_process import ServiceProcess
from services.gateway.limits import TokenBucket
from services.gateway.presence import PresenceReporter
from services.gateway.sessions import Session
from services.gateway.settings import GatewaySettings
from services.presence.adapters.store import RedisPresenceStore, Timing


def sid(i: int) -> str:
    """A socket id as long as python-socketio's (20 characters)."""
    return f"sid-{i:016d}"


async def redis_stats(url: str) -> dict[str, Any]:
    client = aioredis.Redis.from_url(url)
    try:
        stats: dict[str, Any] = await client.info("commandstats")
        return stats
    finally:
        await client.aclose()


def calls(stats: dict[str, Any], command: str) -> tuple[int, int]:
    entry = stats.get(f"cmdstat_{command}", {})
    return int(entry.get("calls", 0)), int(entry.get("usec", 0))


async def measure(args: argparse.Namespace, nats_url: str, redis_url: str) -> None:
    settings = GatewaySettings(
        jwt_secret="b" * 32,
        nats_url=nats_url,
        presence_beat_interval=args.beat,
        gateway_lease_ttl=args.beat * 3,
    )
    nc = await nats.connect(nats_url)
    seen = {"reports": 0, "bytes": 0}

    async def count(msg: Any) -> None:
        seen["reports"] += 1
        seen["bytes"] += len(msg.data)

    await nc.subscribe(subjects.presence_report(), cb=count)
    reporter = PresenceReporter(nc, settings, gateway_id="bench-gw")
    n = args.connections
    for i in range(n):
        who = Identity(tenant=f"t{i % 50}", user_id=f"u{i}", role="member", name=f"User {i}")
        reporter.opened(Session(sid(i), "/tenant", who, 0, TokenBucket(1, 1)))
    started = time.monotonic()
    assert await reporter.flush(), "presence did not apply the connections"
    restate = time.monotonic() - started
    restate_reports = seen["reports"]
    print(f"restated {n} connections in {restate:.2f}s with {restate_reports} reports")

    reporter.start()
    before = await redis_stats(redis_url)
    seen.update(reports=0, bytes=0)
    beats, t0 = 0, time.monotonic()
    period = args.heartbeat_every
    next_due = [t0 + period * i / n for i in range(n)]
    cursor = 0
    while (now := time.monotonic()) - t0 < args.duration:
        while next_due[cursor] <= now:
            reporter.heartbeat(sid(cursor))
            next_due[cursor] += period
            beats += 1
            cursor = (cursor + 1) % n
        await asyncio.sleep(0.05)
    window = time.monotonic() - t0
    after = await redis_stats(redis_url)
    await reporter.stop()
    await nc.close()

    per_min = 60 / window
    (calls_after, usec_after), (calls_before, usec_before) = (
        calls(after, "evalsha"),
        calls(before, "evalsha"),
    )
    evalsha, usec = calls_after - calls_before, usec_after - usec_before
    all_calls = sum(int(v.get("calls", 0)) for v in after.values()) - sum(
        int(v.get("calls", 0)) for v in before.values()
    )
    print(f"window {window:.1f}s: {beats} heartbeats from {n} connections")
    print(
        f"NATS report messages: {seen['reports']} ({seen['reports'] * per_min:.1f}/min, "
        f"plus as many replies), {seen['bytes'] / max(1, seen['reports']) / 1024:.1f} KiB each"
    )
    print(f"heartbeats per report: {beats / max(1, seen['reports']):.0f}")
    print(
        f"Redis round trips: {evalsha} script calls (reports + the service's 1/s sweeps), "
        f"{usec / max(1, evalsha):.0f} µs each on average; {all_calls - evalsha} commands "
        "ran inside those scripts (or are this script's INFO calls)"
    )
    print(f"Redis round trips per heartbeat: {evalsha / max(1, beats):.4f}")
    await time_reports(redis_url, n, round(n * args.beat / period))


async def time_reports(redis_url: str, n: int, per_report: int, rounds: int = 50) -> None:
    """Latency of one report carrying `per_report` heartbeats, store called directly."""
    client = aioredis.Redis.from_url(redis_url)
    store = RedisPresenceStore(client, "bench:direct:", Timing(90_000, 5_000, 10_000, 5_000))
    epoch = ""
    for start in range(0, n, 1000):
        opened = [
            OpenedConnection(sid=sid(i), tenant="t", user_id=f"u{i}", age_ms=0, idle_ms=0)
            for i in range(start, min(n, start + 1000))
        ]
        report = GatewayReport(gateway="direct", epoch=epoch, lease_ttl_ms=60_000, resync=True)
        epoch = (await store.report(report.model_copy(update={"opened": opened}))).epoch
    took = []
    for r in range(rounds):
        alive = {sid((r * per_report + i) % n): 1000 for i in range(per_report)}
        report = GatewayReport(gateway="direct", epoch=epoch, lease_ttl_ms=60_000, alive=alive)
        started = time.perf_counter()
        await store.report(report)
        took.append(time.perf_counter() - started)
    took.sort()
    print(
        f"one report with {per_report} heartbeats: median {took[len(took) // 2] * 1000:.2f} ms, "
        f"max {took[-1] * 1000:.2f} ms (one EVALSHA round trip, store called directly)"
    )
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--heartbeat-every", type=float, default=60.0)
    parser.add_argument("--beat", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with EmbeddedNats(root / "nats") as nats_server, EmbeddedRedis(root / "redis") as valkey:
            env = {
                "ROOMCAST_NATS_URL": nats_server.url,
                "ROOMCAST_REDIS_URL": valkey.url,
                "ROOMCAST_LOG_LEVEL": "WARNING",
            }
            presence = ServiceProcess("presence", root, env, log=print).start(timeout=60)
            try:
                asyncio.run(measure(args, nats_server.url, valkey.url))
            finally:
                presence.stop()


if __name__ == "__main__":
    main()
