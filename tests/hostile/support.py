"""Helpers for the hostile-input tests: raw sockets, counters, memory, a loop thread."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.request
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import websockets

from tests.servers import ServiceProcess

T = TypeVar("T")

ACK_CODES = frozenset(
    {
        "INVALID",
        "FORBIDDEN",
        "NOT_FOUND",
        "RATE_LIMITED",
        "TOO_LARGE",
        "UNAVAILABLE",
        "UNAUTHENTICATED",
    }
)
"""Codes a hostile event may get back; `INTERNAL` (or anything else) is a gateway bug."""

EXAMPLES = int(os.environ.get("ROOMCAST_HOSTILE_EXAMPLES", "200"))
"""Hypothesis examples per fuzz test; `ROOMCAST_HOSTILE_EXAMPLES=5000` for a long run."""


def statz(gw: ServiceProcess) -> dict[str, int]:
    """The gateway's `/statz` counters."""
    with urllib.request.urlopen(f"{gw.health_url}/statz", timeout=5) as resp:  # noqa: S310
        counters: dict[str, int] = json.loads(resp.read())
        return counters


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def open_engineio(url: str) -> Any:
    """A WebSocket with the Engine.IO handshake done and no Socket.IO namespace."""
    base = url.replace("http://", "ws://").rstrip("/")
    ws = await websockets.connect(
        f"{base}/socket.io/?EIO=4&transport=websocket", compression=None, max_size=2**22
    )
    opened = await ws.recv()
    assert isinstance(opened, str) and opened.startswith("0"), opened
    return ws


async def send_and_expect_close(ws: Any, frames: list[str | bytes], timeout: float = 10) -> None:
    """Send `frames`, then wait for the server to close the connection (fail if it does not)."""
    for frame in frames:
        try:
            await ws.send(frame)
        except websockets.ConnectionClosed:
            return
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except TimeoutError:
        await ws.close()
        raise AssertionError(f"still open after {len(frames)} frames") from None
    except websockets.ConnectionClosed:
        pass


class LoopThread:
    """An event loop in a thread, for synchronous (hypothesis) tests driving async clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coro` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Start `coro` on the loop without waiting."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
