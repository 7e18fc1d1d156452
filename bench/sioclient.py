"""A minimal Socket.IO v4 client over a raw WebSocket, for load generation only.

python-socketio's client costs more CPU per message than the gateway under test, and
on a 2-core machine the load generator would measure itself. This speaks just enough
of Engine.IO 4 / Socket.IO 5 (open, namespace connect, events, acks, ping/pong).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import websockets


class RawClient:
    """One socket on one namespace."""

    def __init__(
        self,
        url: str,
        token: str,
        namespace: str = "/tenant",
        auth: dict[str, Any] | None = None,
    ) -> None:
        base = url.replace("http://", "ws://").rstrip("/")
        self._url = f"{base}/socket.io/?EIO=4&transport=websocket"
        self._auth = auth if auth is not None else {"token": token}
        self._ns = "" if namespace == "/" else f"{namespace},"
        """The namespace as packets spell it: nothing for `/`, else `/name,`."""
        self._ids = itertools.count(1)
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self.on_event: Callable[[str, Any], None] = lambda event, data: None
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.sid: str | None = None

    async def connect(self) -> float:
        """Open the socket and the namespace; returns when the namespace was acknowledged."""
        self._ws = await websockets.connect(self._url, compression=None, max_size=2**22)
        opened = await self._ws.recv()
        assert opened.startswith("0"), opened
        await self._ws.send(f"40{self._ns}{json.dumps(self._auth)}")
        while True:
            reply = await self._ws.recv()
            if reply.startswith(f"40{self._ns}"):
                self.sid = json.loads(reply[len(f"40{self._ns}") :])["sid"]
                break
            if reply.startswith(f"44{self._ns}"):
                raise ConnectionError(reply)
        connected = time.perf_counter()
        self._reader = asyncio.create_task(self._read())
        return connected

    @property
    def local_port(self) -> int:
        """This end's TCP port (to find the connection in the server's socket table)."""
        return int(self._ws.local_address[1])

    def pause_reading(self) -> None:
        """Stop reading the socket, as a client that no longer keeps up would."""
        self._ws.transport.pause_reading()

    async def _read(self) -> None:
        try:
            await self._read_frames()
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the connection was closed"))
            self._acks.clear()

    @property
    def event_prefix(self) -> str:
        """What an EVENT packet on this client's namespace starts with (`42/tenant,`)."""
        return f"42{self._ns}"

    @property
    def closed(self) -> bool:
        """True once the server (or `close`) ended the connection."""
        return self._reader is None or self._reader.done()

    async def _read_frames(self) -> None:
        prefix_event = f"42{self._ns}"
        prefix_ack = f"43{self._ns}"
        async for frame in self._ws:
            if frame == "2":
                await self._ws.send("3")
            elif frame.startswith(prefix_event):
                event, data = json.loads(frame[len(prefix_event) :])
                self.on_event(event, data)
            elif frame.startswith(prefix_ack):
                rest = frame[len(prefix_ack) :]
                bracket = rest.index("[")
                fut = self._acks.pop(int(rest[:bracket]), None)
                if fut is not None and not fut.done():
                    fut.set_result(json.loads(rest[bracket:])[0])

    async def call(self, event: str, data: Any) -> Any:
        return await self.call_frame(json.dumps([event, data]))

    async def call_frame(self, payload: str) -> Any:
        """Send an event whose JSON array is `payload` (any text); return its ack.

        Raises `ConnectionError` if the connection closes before the ack arrives.
        """
        if self.closed:
            raise ConnectionError("the connection was closed")
        ack_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = fut
        try:
            await self._ws.send(f"42{self._ns}{ack_id}{payload}")
            return await fut
        except websockets.ConnectionClosed:
            raise ConnectionError("the connection was closed") from None
        finally:
            self._acks.pop(ack_id, None)

    async def send_frame(self, frame: str | bytes) -> bool:
        """Send one raw WebSocket frame; False if the connection is already closed."""
        try:
            await self._ws.send(frame)
        except websockets.ConnectionClosed:
            return False
        return True

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
