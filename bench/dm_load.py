"""Direct-message latency and delivery under load, two gateways, senders ≠ recipients.

Senders connect to gateway 1, recipients to gateway 2. Each rate runs open-loop for
`--duration` seconds: a send is issued every 1/rate s whether or not earlier ones
were acknowledged. Latency is send → `chat:message` at the recipient (one clock: the
load generator is one process). Also reports ack latency and the CPU seconds each
process used. Run: `.venv/bin/python -m bench.dm_load --rates 500,2000`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import psutil

from bench.sioclient import RawClient
from bench.stack import BenchStack, token


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run_rate(urls: list[str], rate: int, duration: float, pairs: int) -> dict[str, float]:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    acks: list[float] = []
    failures = 0

    def on_event(event: str, data: dict[str, object]) -> None:
        if event == "chat:message":
            idx = int(str(data["body"]))
            latencies.append(time.perf_counter() - sent_at[idx])

    receivers = [RawClient(urls[1], token(f"r{i}", tenant)) for i in range(pairs)]
    senders = [RawClient(urls[0], token(f"s{i}", tenant)) for i in range(pairs)]
    for c in receivers:
        c.on_event = on_event
        await c.connect()
    for c in senders:
        await c.connect()

    async def send(i: int) -> None:
        nonlocal failures
        start = time.perf_counter()
        sent_at[i] = start
        ack = await senders[i % pairs].call("chat:send", {"to": f"r{i % pairs}", "body": str(i)})
        if ack.get("ok"):
            acks.append(time.perf_counter() - start)
        else:
            failures += 1

    total = int(rate * duration)
    tasks = []
    begin = time.perf_counter()
    for i in range(total):
        target = begin + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    deadline = time.perf_counter() + 10
    while len(latencies) < total and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    for c in senders + receivers:
        await c.close()
    ms = [x * 1000 for x in latencies]
    ack_ms = [x * 1000 for x in acks]
    return {
        "rate": rate,
        "sent": total,
        "delivered_pct": 100.0 * len(latencies) / total,
        "failed_acks": failures,
        "p50_ms": pct(ms, 50),
        "p99_ms": pct(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
        "ack_p50_ms": pct(ack_ms, 50),
        "ack_p99_ms": pct(ack_ms, 99),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
    }


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="500,2000")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument(
        "--services",
        default="rooms,presence,persistence",
        help="services to run besides the gateways (rooms is required)",
    )
    args = parser.parse_args()
    services = tuple(args.services.split(","))
    stack = await asyncio.to_thread(BenchStack(gateways=2, services=services).start)
    names = list(stack.procs)
    try:
        await run_rate(stack.urls, 200, 2, args.pairs)  # warm-up
        for rate in (int(r) for r in args.rates.split(",")):
            before = {n: cpu_seconds(stack.pid(n)) for n in names}
            gen_before = cpu_seconds(psutil.Process().pid)
            result = await run_rate(stack.urls, rate, args.duration, args.pairs)
            cpu = {n: cpu_seconds(stack.pid(n)) - before[n] for n in names}
            cpu["loadgen"] = cpu_seconds(psutil.Process().pid) - gen_before
            print(
                f"{rate:>6} DM/s: delivered {result['delivered_pct']:.2f}% "
                f"of {result['sent']}, failed acks {result['failed_acks']}; "
                f"latency p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms "
                f"max {result['max_ms']:.1f} ms; ack p50 {result['ack_p50_ms']:.2f} ms "
                f"p99 {result['ack_p99_ms']:.2f} ms"
            )
            busy = ", ".join(f"{n} {s / args.duration:.0%}" for n, s in cpu.items())
            print(f"        CPU per process (of one core): {busy}")
    finally:
        stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
