"""Load processes for the DM scenario: each holds some pairs of users and drives them.

A pair is two users of one tenant, `a` connected to the first server and `b` to the
second. Each load process sends its share of the offered rate, open loop (a send
leaves when it is due, whether or not earlier ones were answered), alternating the
direction within each pair, so every DM crosses from one server to the other.

The body of a DM is `send time|phase|seq|padding` (64 bytes), the send time being
CLOCK_MONOTONIC in ns, which all processes of the machine share: the receiving end
computes the latency, in whichever load process it lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing as mp
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson
import uvloop

from bench.fastws import FastSocket

BODY_BYTES = 64
CHAT_MESSAGE = b'["chat:message",'
CONNECT_CONCURRENCY = 25


@dataclass
class Phase:
    """One process's share of a rate."""

    phase: int
    rate: float
    duration: float
    start_at: float
    drain: float


def loader(conn: Connection) -> None:
    """Entry point of a load process."""
    uvloop.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    driver = _Driver()
    while True:
        command, arg = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            await driver.connect(*arg)
            conn.send(("connected", len(driver.pairs)))
        elif command == "run":
            conn.send(("done", await driver.run(Phase(**arg))))
        elif command == "quit":
            driver.close()
            conn.send(("bye", None))
            return


class _Driver:
    def __init__(self) -> None:
        self.pairs: list[tuple[FastSocket, FastSocket, str, str]] = []
        self.phase = -1
        self.latencies: list[int] = []
        self.received: set[int] = set()
        self.duplicates = 0
        self.stray = 0
        self.all_in = asyncio.Event()
        self.expected = 0
        self.acked = 0

    async def connect(
        self, urls: Sequence[str], users: Sequence[tuple[str, str, str, str]]
    ) -> None:
        """Open both sockets of each pair: (a, token of a, b, token of b)."""
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def open_one(url: str, token: str) -> FastSocket:
            async with sem:
                sock = FastSocket()
                sock.on_event = self._on_event
                await sock.open(url, {"token": token})
                return sock

        for a, token_a, b, token_b in users:
            sa, sb = await asyncio.gather(open_one(urls[0], token_a), open_one(urls[1], token_b))
            self.pairs.append((sa, sb, a, b))

    def _on_event(self, payload: bytes) -> None:
        if not payload.startswith(CHAT_MESSAGE):
            return
        now = time.monotonic_ns()
        body = orjson.loads(payload)[1]["body"]
        sent, phase, seq, _ = body.split("|", 3)
        if int(phase) != self.phase:
            self.stray += 1
            return
        n = int(seq)
        if n in self.received:
            self.duplicates += 1
            return
        self.received.add(n)
        self.latencies.append((now - int(sent)) // 1000)
        self._check()

    def _check(self) -> None:
        if self.expected and len(self.received) >= self.expected and self.acked >= self.expected:
            self.all_in.set()

    async def run(self, p: Phase) -> dict[str, Any]:
        self.phase = p.phase
        self.latencies, self.received, self.duplicates, self.stray = [], set(), 0, 0
        self.all_in.clear()
        self.expected = 0
        self.acked = 0
        acks: list[int] = []
        failed: list[str] = []
        lags: list[float] = []
        total = int(p.rate * p.duration)
        interval = 1.0 / p.rate if p.rate else 0.0
        pairs = self.pairs

        def on_ack(started: int, fut: asyncio.Future[Any]) -> None:
            self.acked += 1
            if fut.cancelled() or fut.exception() is not None:
                failed.append("closed")
            elif fut.result().get("ok"):
                acks.append((time.monotonic_ns() - started) // 1000)
            else:
                failed.append(str(fut.result().get("error", {}).get("code")))
            self._check()

        cpu0 = time.process_time()
        k = 0
        while k < total:
            due = p.start_at + k * interval
            now = time.monotonic()
            if now < due:
                await asyncio.sleep(due - now)
                continue
            lags.append(now - due)
            sa, sb, a, b = pairs[(k >> 1) % len(pairs)]
            sender, to = (sa, b) if k & 1 == 0 else (sb, a)
            started = time.monotonic_ns()
            body = f"{started}|{p.phase}|{k}|"
            body += "x" * max(0, BODY_BYTES - len(body))
            fut = sender.call_nowait("chat:send", {"to": to, "body": body})
            fut.add_done_callback(functools.partial(on_ack, started))
            k += 1
        sent_end = time.monotonic()
        self.expected = total
        self._check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_in.wait(), p.drain)
        lags.sort()
        return {
            "sent": total,
            "delivered": len(self.received),
            "duplicates": self.duplicates,
            "stray": self.stray,
            "acked_ok": len(acks),
            "ack_failures": len(failed) + (total - self.acked),
            "failure_codes": sorted(set(failed)),
            "latency_us": self.latencies,
            "ack_us": acks,
            "send_window": sent_end - p.start_at,
            "send_lag_p99_ms": 1000 * lags[int(0.99 * (len(lags) - 1))] if lags else 0.0,
            "send_lag_max_ms": 1000 * lags[-1] if lags else 0.0,
            "cpu": time.process_time() - cpu0,
            "closed": sum(1 for sa, sb, _, _ in pairs if sa.closed or sb.closed),
        }

    def close(self) -> None:
        for sa, sb, _, _ in self.pairs:
            sa.close()
            sb.close()
        self.pairs.clear()


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

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    async def ask(self, commands: Sequence[tuple[str, Any]], within: float = 120) -> list[Any]:
        """Send one command to each loader; return each one's reply (in `within` s)."""
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        replies = asyncio.gather(*(asyncio.to_thread(p.recv) for p in self.pipes))
        return [data for _, data in await asyncio.wait_for(replies, within)]

    async def stop(self) -> None:
        try:
            await self.ask([("quit", None)] * len(self.pipes), within=10)
        except (OSError, EOFError, TimeoutError):
            pass
        finally:
            for proc in self.procs:
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
