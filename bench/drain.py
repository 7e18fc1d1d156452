"""Graceful drain of a gateway holding many sockets: SIGTERM to exit, and the hand-over.

The rooms and presence services and two gateways run as separate processes;
`--sockets` clients (`bench.fastws`, one user each) connect to gateway 1. Then:

1. SIGTERM to gateway 1. Measured: until every client saw its connection closed,
   and until the process exited (its exit code must be 0).
2. Every client connects again, to gateway 2, as a stock client would after
   `transport close` (here at once, without the client's back-off). Measured: until
   the last one is connected.

Run (with a private NATS server; ROOMCAST_* URLs as for the services):
`.venv/bin/python -m bench.drain --sockets 2000`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
import uuid

import uvloop

from bench.fastws import FastSocket
from bench.stack import BenchStack, token


async def connect_all(url: str, tokens: list[str], concurrency: int) -> list[FastSocket]:
    """Open one socket per token on `url`, `concurrency` handshakes at a time."""
    gate = asyncio.Semaphore(concurrency)
    sockets: list[FastSocket] = []

    async def one(tok: str) -> None:
        async with gate:
            sock = FastSocket()
            await sock.open(url, {"token": tok})
            sockets.append(sock)

    await asyncio.gather(*(one(t) for t in tokens))
    return sockets


async def run(args: argparse.Namespace) -> None:
    stack = await asyncio.to_thread(BenchStack(gateways=2, services=("rooms", "presence")).start)
    try:
        tenant = f"drain-{uuid.uuid4().hex[:8]}"
        tokens = [token(f"u{i}", tenant) for i in range(args.sockets)]
        started = time.perf_counter()
        sockets = await connect_all(stack.urls[0], tokens, args.concurrency)
        print(f"{len(sockets)} sockets on gateway-1 in {time.perf_counter() - started:.1f} s")
        await asyncio.sleep(args.settle)

        gateway = stack.procs["gateway-1"]
        sent = time.perf_counter()
        os.kill(gateway.pid, signal.SIGTERM)
        while not all(s.closed for s in sockets):
            assert time.perf_counter() - sent < 120, "sockets still open after 120 s"
            await asyncio.sleep(0.005)
        closed = time.perf_counter() - sent
        code = await asyncio.to_thread(gateway.wait, 120)
        exited = time.perf_counter() - sent
        print(
            f"SIGTERM → every socket closed {closed:.2f} s, → process exited {exited:.2f} s "
            f"(exit code {code})"
        )

        again = time.perf_counter()
        moved = await connect_all(stack.urls[1], tokens, args.concurrency)
        print(
            f"{len(moved)} sockets connected again on gateway-2 in "
            f"{time.perf_counter() - again:.2f} s ({args.concurrency} handshakes at a time)"
        )
        for sock in moved:
            sock.close()
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000, help="sockets on gateway 1")
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before SIGTERM")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
