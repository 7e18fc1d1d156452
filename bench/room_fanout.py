"""Explicit-room fan-out: deliveries per second, server CPU per 1,000 deliveries, ack latency.

Everything runs as separate processes: the rooms, presence and persistence services,
two gateways, this driver (rooms and members made over the rooms service's NATS
endpoints, the sending sockets) and `--loaders` load processes holding the receiving
sockets (`bench.fastws`, a client cheap enough not to measure itself).

1. **Burst.** One private room with `--members` members, each with one socket that
   joined it (`room:join`), alternating between the two gateways. One more member's
   socket on gateway 1 posts `--messages` `room:send` at once (pipelined, not awaiting
   acks in between); every other socket must receive each as `room:message`.
   deliveries/s = deliveries / (last delivery - first send); server CPU = user+sys of
   every roomcast process (services and gateways) over that window, from /proc;
   NATS server CPU is reported beside it. Repeated `--repeat` times.
2. **Ack latency.** `--small-rooms` rooms of `--small-size` members (all subscribed,
   spread over both gateways); one member per room sends, open loop, `--rates` sends/s
   in total for `--duration` s; `room:send` ack latency p50/p99 and delivery latency.

Run (with a private NATS server, PostgreSQL and Redis; ROOMCAST_* URLs as for the
services): `.venv/bin/python -m bench.room_fanout`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import nats
import orjson
import psutil
import uvloop
from nats.aio.client import Client as NATS

from bench.fastws import FastSocket
from bench.stack import BenchStack, token
from contracts import endpoints
from contracts.identity import Identity
from roomcast.platform import bus

ROOM_MESSAGE = b'["room:message",'
CONNECT_CONCURRENCY = 50


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def cpu_of(pids: Sequence[int]) -> float:
    """User+system CPU seconds of these processes (and their children) so far."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in (proc, *proc.children(recursive=True)):
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def cpu_each(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_of([pid]) for name, pid in pids.items()}


def busiest(before: dict[str, float], after: dict[str, float], window: float) -> str:
    used = {name: (after[name] - before[name]) / window for name in before}
    return ", ".join(f"{name} {cores:.2f}" for name, cores in sorted(used.items()))


def nats_pids(url: str) -> list[int]:
    """The nats-server process serving `url`'s port, if it runs on this machine."""
    port = url.rsplit(":", 1)[-1].strip("/")
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "nats-server" in (proc.info["name"] or "") + cmd and port in cmd:
            found.append(proc.pid)
    return found


# load processes --------------------------------------------------------------------


def loader(conn: Connection) -> None:
    """A load process: holds receiving sockets, counts `room:message` on command."""
    uvloop.run(_loader(conn))


async def _loader(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    sockets: list[FastSocket] = []
    state: dict[str, Any] = {"count": 0, "first": 0.0, "last": 0.0, "lat": []}
    changed = asyncio.Event()

    def on_event(payload: bytes) -> None:
        if not payload.startswith(ROOM_MESSAGE):
            return
        now = time.monotonic()
        n = state["count"] = state["count"] + 1
        if n == 1:
            state["first"] = now
        state["last"] = now
        if n & 7 == 0:  # latency from a sample: the body starts with the send time
            body = orjson.loads(payload)[1]["body"]
            state["lat"].append(now - float(body.split("|", 1)[0]))
        if n >= state.get("expected", 1 << 62):
            changed.set()

    async def open_one(url: str, tok: str, rooms: list[str], sem: asyncio.Semaphore) -> None:
        async with sem:
            sock = FastSocket()
            sock.on_event = on_event
            await sock.open(url, {"token": tok})
            for room in rooms:
                ack = await sock.call("room:join", {"room": room})
                assert ack.get("ok"), ack
            sockets.append(sock)

    while True:
        command, arg = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
            await asyncio.gather(*(open_one(u, t, r, sem) for u, t, r in arg))
            conn.send(("connected", len(sockets)))
        elif command == "arm":
            expected, timeout = arg
            state.update(count=0, first=0.0, last=0.0, lat=[], expected=expected)
            changed.clear()
            cpu0 = time.process_time()
            conn.send(("armed", None))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout)
            lost = sum(1 for s in sockets if s.closed)
            result = {k: state[k] for k in ("count", "first", "last", "lat")}
            conn.send(("done", {**result, "cpu": time.process_time() - cpu0, "closed": lost}))
        elif command == "quit":
            for sock in sockets:
                sock.close()
            conn.send(("bye", None))
            return


@dataclass
class Loaders:
    """The load processes and a pipe to each."""

    procs: list[Any]
    pipes: list[Connection]

    @classmethod
    def start(cls, n: int) -> Loaders:
        ctx = mp.get_context("spawn")
        procs, pipes = [], []
        for _ in range(n):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=loader, args=(theirs,), daemon=True)
            proc.start()
            procs.append(proc)
            pipes.append(mine)
        return cls(procs, pipes)

    async def ask(self, commands: Sequence[tuple[str, Any]]) -> list[Any]:
        """Send one command to each loader; return each one's reply."""
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        return await asyncio.gather(*(asyncio.to_thread(p.recv) for p in self.pipes))

    async def collect(self) -> list[dict[str, Any]]:
        replies = await asyncio.gather(*(asyncio.to_thread(p.recv) for p in self.pipes))
        return [data for _, data in replies]

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.ask([("quit", None)] * len(self.pipes)), 10)
        except (OSError, EOFError, TimeoutError):
            pass
        finally:
            for proc in self.procs:
                proc.join(5)
                if proc.is_alive():
                    proc.kill()


# rooms and members -------------------------------------------------------------------


async def make_room(nc: NATS, tenant: str, slug: str, members: Sequence[str]) -> str:
    admin = Identity(tenant=tenant, user_id="bench-admin", role="admin")
    create = endpoints.ROOM_CREATE.request(identity=admin, tenant=tenant, name=slug, slug=slug)
    (await bus.request(nc, endpoints.ROOM_CREATE, create, wait=30)).checked()
    sem = asyncio.Semaphore(32)

    async def add(user: str) -> None:
        async with sem:
            command = endpoints.ROOM_MEMBER_ADD.request(
                identity=admin, tenant=tenant, room=slug, user_id=user
            )
            (await bus.request(nc, endpoints.ROOM_MEMBER_ADD, command, wait=30)).checked()

    await asyncio.gather(*(add(user) for user in members))
    return f"room:{slug}"


def split(jobs: list[tuple[str, str, list[str]]], n: int) -> list[list[tuple[str, str, list[str]]]]:
    return [jobs[i::n] for i in range(n)]


def body(i: int) -> str:
    return f"{time.monotonic():.6f}|{i}|".ljust(64, "x")


# phases ------------------------------------------------------------------------------


async def burst(
    loaders: Loaders, sender: FastSocket, room: str, receivers: int, messages: int, pids: Any
) -> dict[str, float]:
    """Post `messages` at once; wait until every receiver has them (or 60 s)."""
    n = len(loaders.pipes)
    per = [len(range(i, receivers, n)) * messages for i in range(n)]
    await loaders.ask([("arm", (expected, 60.0)) for expected in per])
    server0, nats0, me0 = cpu_of(pids["roomcast"]), cpu_of(pids["nats"]), time.process_time()
    each0 = cpu_each(pids["each"])
    t0 = time.monotonic()
    acks = await asyncio.gather(
        *(sender.call_nowait("room:send", {"room": room, "body": body(i)}) for i in range(messages))
    )
    results = await loaders.collect()
    server = cpu_of(pids["roomcast"]) - server0
    nats_cpu = cpu_of(pids["nats"]) - nats0
    after = cpu_each(pids["each"])
    delivered = sum(r["count"] for r in results)
    window = max(r["last"] for r in results) - t0 if delivered else float("nan")
    lat = [x for r in results for x in r["lat"]]
    return {
        "acked": sum(1 for a in acks if a.get("ok")),
        "delivered": delivered,
        "expected": receivers * messages,
        "window_s": window,
        "deliveries_per_s": delivered / window,
        "server_cpu_s": server,
        "server_cpu_per_1000": server / delivered * 1000 if delivered else float("nan"),
        "server_cores": server / window,
        "nats_cpu_per_1000": nats_cpu / delivered * 1000 if delivered else float("nan"),
        "loader_cores": max(r["cpu"] for r in results) / window,
        "loader_us_per_delivery": sum(r["cpu"] for r in results) / delivered * 1e6,
        "driver_cpu_s": time.process_time() - me0,
        "latency_p50_ms": pct(lat, 50) * 1000,
        "latency_p99_ms": pct(lat, 99) * 1000,
        "closed": sum(r["closed"] for r in results),
        "cores_by_process": busiest(each0, after, window),
    }


async def steady(
    loaders: Loaders,
    senders: list[tuple[FastSocket, str]],
    receivers: int,
    rate: int,
    duration: float,
    pids: Any,
) -> dict[str, float]:
    """Open-loop `room:send` at `rate`/s from one sender per room; ack and delivery latency."""
    total = int(rate * duration)
    each = total // len(senders)  # sends into each room, so messages each receiver gets
    n = len(loaders.pipes)
    await loaders.ask([("arm", (len(range(i, receivers, n)) * each, 90.0)) for i in range(n)])
    server0 = cpu_of(pids["roomcast"])
    each0 = cpu_each(pids["each"])
    acks: list[float] = []
    refusals: list[Any] = []

    async def one(i: int) -> None:
        sock, room = senders[i % len(senders)]
        start = time.monotonic()
        ack = await sock.call("room:send", {"room": room, "body": body(i)}, wait=60)
        if ack.get("ok"):
            acks.append(time.monotonic() - start)
        else:
            refusals.append(ack)

    tasks = []
    begin = time.monotonic()
    for i in range(total):
        delay = begin + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    offered = time.monotonic() - begin
    await asyncio.gather(*tasks)
    results = await loaders.collect()
    server = cpu_of(pids["roomcast"]) - server0
    after = cpu_each(pids["each"])
    delivered = sum(r["count"] for r in results)
    lat = [x for r in results for x in r["lat"]]
    return {
        "sent": total,
        "achieved_rate": total / offered,
        "failed": len(refusals),
        "first_refusal": refusals[0] if refusals else None,
        "ack_p50_ms": pct(acks, 50) * 1000,
        "ack_p99_ms": pct(acks, 99) * 1000,
        "delivered": delivered,
        "expected": receivers * each,
        "latency_p50_ms": pct(lat, 50) * 1000,
        "latency_p99_ms": pct(lat, 99) * 1000,
        "server_cores": server / duration,
        "server_cpu_per_1000": server / delivered * 1000 if delivered else float("nan"),
        "loader_cores": max(r["cpu"] for r in results) / duration,
        "cores_by_process": busiest(each0, after, duration),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000, help="receiving sockets (burst)")
    parser.add_argument("--messages", type=int, default=50, help="messages per burst")
    parser.add_argument("--repeat", type=int, default=3, help="bursts")
    parser.add_argument("--loaders", type=int, default=2, help="load processes")
    parser.add_argument("--small-rooms", type=int, default=10)
    parser.add_argument("--small-size", type=int, default=50, help="members per small room")
    parser.add_argument(
        "--rates", default="500", help="room:send per second in phase 2, comma-separated"
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--skip-steady", action="store_true")
    args = parser.parse_args()

    services = ("rooms", "presence", "persistence")
    stack = await asyncio.to_thread(BenchStack(gateways=2, services=services).start)
    try:
        await run(args, stack)
    finally:
        stack.stop()


async def run(args: argparse.Namespace, stack: BenchStack) -> None:
    nats_url = os.environ.get("ROOMCAST_NATS_URL", "nats://127.0.0.1:4222")
    pids: dict[str, Any] = {
        "roomcast": [stack.pid(n) for n in stack.procs],
        "nats": nats_pids(nats_url),
        "each": {n: stack.pid(n) for n in stack.procs},
    }
    loaders = Loaders.start(args.loaders)
    sockets: list[FastSocket] = []
    try:
        nc = await nats.connect(nats_url)
        try:
            await measure(args, stack.urls, nc, loaders, sockets, pids)
        finally:
            await nc.close()
    finally:
        for sock in sockets:
            sock.close()
        await loaders.stop()


async def measure(
    args: argparse.Namespace,
    urls: list[str],
    nc: NATS,
    loaders: Loaders,
    sockets: list[FastSocket],
    pids: dict[str, Any],
) -> None:
    tenant = f"fan-{uuid.uuid4().hex[:8]}"
    users = [f"u{i}" for i in range(args.members)]
    room = await make_room(nc, tenant, "fanout", [*users, "sender"])
    jobs = [(urls[i % 2], token(u, tenant), [room]) for i, u in enumerate(users)]
    t = time.monotonic()
    await loaders.ask([("connect", part) for part in split(jobs, args.loaders)])
    print(f"{args.members} sockets joined {room} in {time.monotonic() - t:.1f} s")
    sender = FastSocket()
    sockets.append(sender)
    await sender.open(urls[0], {"token": token("sender", tenant)})

    check = await burst(loaders, sender, room, args.members, 1, pids)
    assert check["delivered"] == args.members, f"wiring check failed: {check}"
    for rep in range(args.repeat):
        r = await burst(loaders, sender, room, args.members, args.messages, pids)
        print(
            f"burst {rep + 1}: {r['delivered']}/{r['expected']} delivered "
            f"({r['acked']} acked) in {r['window_s']:.3f} s = "
            f"{r['deliveries_per_s']:,.0f} deliveries/s; roomcast CPU "
            f"{r['server_cpu_per_1000']:.4f} s per 1000 ({r['server_cores']:.2f} cores), "
            f"nats {r['nats_cpu_per_1000']:.4f} s per 1000; latency p50 "
            f"{r['latency_p50_ms']:.0f} ms p99 {r['latency_p99_ms']:.0f} ms; busiest loader "
            f"{r['loader_cores']:.2f} cores "
            f"({r['loader_us_per_delivery']:.1f} µs per delivery); "
            f"sockets closed {r['closed']}\n"
            f"    cores by process: {r['cores_by_process']}"
        )
    if not args.skip_steady:
        await steady_phase(args, nc, tenant, urls, loaders, sockets, pids)


async def steady_phase(
    args: argparse.Namespace,
    nc: NATS,
    tenant: str,
    urls: list[str],
    loaders: Loaders,
    sockets: list[FastSocket],
    pids: Any,
) -> None:
    rooms, receivers, senders = [], [], []
    for r in range(args.small_rooms):
        members = [f"s{r}-{m}" for m in range(args.small_size)]
        rooms.append(await make_room(nc, tenant, f"small-{r}", members))
        receivers += [
            (urls[(r + m) % 2], token(u, tenant), [rooms[-1]]) for m, u in enumerate(members[1:])
        ]
        sock = FastSocket()
        sockets.append(sock)
        await sock.open(urls[r % 2], {"token": token(members[0], tenant)})
        senders.append((sock, rooms[-1]))
    await loaders.ask([("connect", part) for part in split(receivers, args.loaders)])
    for rate in (int(x) for x in args.rates.split(",")):
        r = await steady(loaders, senders, len(receivers), rate, args.duration, pids)
        report_steady(args, rate, r)


def report_steady(args: argparse.Namespace, rate: int, r: dict[str, Any]) -> None:
    print(
        f"{rate} room:send/s into {args.small_rooms} rooms of {args.small_size} for "
        f"{args.duration:.0f} s (achieved {r['achieved_rate']:.0f}/s): ack p50 "
        f"{r['ack_p50_ms']:.2f} ms p99 {r['ack_p99_ms']:.2f} ms, {r['failed']} refused; "
        f"delivered {r['delivered']}/{r['expected']}, latency p50 {r['latency_p50_ms']:.1f} ms "
        f"p99 {r['latency_p99_ms']:.1f} ms; roomcast {r['server_cores']:.2f} cores, "
        f"{r['server_cpu_per_1000']:.4f} s per 1000 deliveries; busiest loader "
        f"{r['loader_cores']:.2f} cores\n    cores by process: {r['cores_by_process']}"
        + (f"\n    first refusal: {r['first_refusal']}" if r["first_refusal"] else "")
    )


if __name__ == "__main__":
    uvloop.run(main())
