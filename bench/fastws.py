"""A Socket.IO v4 client on a bare `asyncio.Protocol`, cheap enough to receive fan-out.

`bench.sioclient.RawClient` (the `websockets` library) spends tens of microseconds per
received frame; a fan-out bench receiving 60k+ frames per second on a 2-core machine
would measure its own client. This one parses WebSocket frames out of each TCP read
with a few slice operations, hands each text payload to a callback as `bytes`, and
frames what it sends with an all-zero mask (legal, and no XOR to compute). It speaks
just enough Engine.IO 4 / Socket.IO 5: open, namespace connect with `auth`, events,
acks, ping/pong. No TLS, no compression, no fragmented frames (the gateway sends none).
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

_MASK = b"\x00\x00\x00\x00"


def _frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One client frame (FIN, masked with zeros)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + _MASK + payload


class FastSocket(asyncio.Protocol):
    """One Socket.IO connection on one namespace."""

    def __init__(self, namespace: str = "/tenant") -> None:
        self._ns = b"" if namespace == "/" else namespace.encode() + b","
        self._event = b"42" + self._ns
        self._ack = b"43" + self._ns
        self._buf = bytearray()
        self._upgraded = False
        self._transport: Any = None
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._connected: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self.closed = False
        self.on_event: Callable[[bytes], None] = lambda payload: None
        """Called with the raw `[event, data]` JSON of every event (no decoding)."""

    # asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for fut in (self._opened, self._connected, *self._acks.values()):
            if not fut.done():
                fut.set_exception(ConnectionError("the connection was closed"))

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(ConnectionError(bytes(buf[:200]).decode(errors="replace")))
                return
            self._upgraded = True
            del buf[: end + 4]
        pos, size = 0, len(buf)
        while size - pos >= 2:
            opcode, n = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if size - start < 2:
                    break
                n = (buf[start] << 8) | buf[start + 1]
                start += 2
            elif n == 127:
                if size - start < 8:
                    break
                n = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            if size - start < n:
                break
            pos = start + n
            if opcode == 0x1:
                self._packet(bytes(buf[start:pos]))
            elif opcode == 0x9:
                self._write(bytes(buf[start:pos]), 0xA)
            elif opcode == 0x8 and self._transport is not None:
                self._transport.close()
        del buf[:pos]

    # Engine.IO / Socket.IO -------------------------------------------------------

    def _packet(self, p: bytes) -> None:
        if p.startswith(self._event):
            self.on_event(p[len(self._event) :])
        elif p == b"2":
            self._write(b"3")
        elif p.startswith(self._ack):
            rest = p[len(self._ack) :]
            bracket = rest.index(b"[")
            fut = self._acks.pop(int(rest[:bracket]), None)
            if fut is not None and not fut.done():
                fut.set_result(orjson.loads(rest[bracket:])[0])
        elif p.startswith(b"0"):
            if not self._opened.done():
                self._opened.set_result(None)
        elif p.startswith(b"40" + self._ns):
            sid = orjson.loads(p[2 + len(self._ns) :])["sid"]
            if not self._connected.done():
                self._connected.set_result(sid)
        elif p.startswith(b"44" + self._ns):
            self._fail(ConnectionError(p.decode(errors="replace")))

    def _fail(self, exc: Exception) -> None:
        for fut in (self._opened, self._connected):
            if not fut.done():
                fut.set_exception(exc)
        if self._transport is not None:
            self._transport.close()

    def _write(self, payload: bytes, opcode: int = 0x1) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_frame(payload, opcode))

    async def open(self, url: str, auth: dict[str, Any], wait: float = 30) -> str:
        """Connect to a gateway at `url` (`http://host:port`); returns the socket's sid."""
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert self._transport is not None
        self._transport.write(request.encode())
        async with asyncio.timeout(wait):
            await self._opened
            self._write(b"40" + self._ns + orjson.dumps(auth))
            return await self._connected

    def call_nowait(self, event: str, data: Any) -> asyncio.Future[Any]:
        """Send an event with an ack; the future resolves to the ack's payload."""
        self._next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.closed:
            fut.set_exception(ConnectionError("the connection was closed"))
            return fut
        self._acks[self._next_id] = fut
        self._write(self._event + str(self._next_id).encode() + orjson.dumps([event, data]))
        return fut

    async def call(self, event: str, data: Any, wait: float = 30) -> Any:
        async with asyncio.timeout(wait):
            return await self.call_nowait(event, data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
