"""Transports: which TCP connection carries which Engine.IO socket, and cutting it."""

from __future__ import annotations

import socket
import struct
from typing import Any

from services.gateway.transports import Transports


class FakeSocket:
    def __init__(self) -> None:
        self.options: dict[tuple[int, int], bytes] = {}

    def setsockopt(self, level: int, name: int, value: bytes) -> None:
        self.options[(level, name)] = value


class FakeTransport:
    def __init__(self) -> None:
        self.sock = FakeSocket()
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


class FakeServerProtocol:
    """Stands for uvicorn's protocol, whose bound `send` the app receives."""

    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def receive() -> dict[str, Any]:
    return {"type": "websocket.connect"}


def ws_scope(query: bytes = b"EIO=4&transport=websocket") -> dict[str, Any]:
    return {"type": "websocket", "query_string": query}


async def test_sid_of_a_websocket_only_connection_comes_from_the_open_packet() -> None:
    transports = Transports()
    server = FakeServerProtocol()

    async def app(scope: Any, recv: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": '0{"sid":"s1","upgrades":[]}'})
        assert transports.abort("s1")

    await transports.wrap(app)(ws_scope(), receive, server.send)
    assert server.transport.aborted
    linger = server.transport.sock.options[(socket.SOL_SOCKET, socket.SO_LINGER)]
    assert struct.unpack("ii", linger) == (1, 0)
    assert [m["type"] for m in server.sent] == ["websocket.accept", "websocket.send"]


async def test_sid_of_an_upgrade_comes_from_the_query_and_is_forgotten_at_the_end() -> None:
    transports = Transports()
    server = FakeServerProtocol()
    seen: list[int] = []

    async def app(scope: Any, recv: Any, send: Any) -> None:
        seen.append(len(transports))

    await transports.wrap(app)(ws_scope(b"EIO=4&transport=websocket&sid=s2"), receive, server.send)
    assert seen == [1]
    assert len(transports) == 0
    assert not transports.abort("s2")
    assert not server.transport.aborted


async def test_a_second_connection_naming_the_same_sid_does_not_take_it_over() -> None:
    transports = Transports()
    owner, intruder = FakeServerProtocol(), FakeServerProtocol()

    async def intrude(scope: Any, recv: Any, send: Any) -> None:
        assert transports.abort("s3")

    async def own(scope: Any, recv: Any, send: Any) -> None:
        await send({"type": "websocket.send", "text": '0{"sid":"s3"}'})
        query = b"EIO=4&transport=websocket&sid=s3"
        await transports.wrap(intrude)(ws_scope(query), receive, intruder.send)

    await transports.wrap(own)(ws_scope(), receive, owner.send)
    assert owner.transport.aborted and not intruder.transport.aborted


async def test_http_and_unknown_servers_pass_through() -> None:
    transports = Transports()
    calls: list[str] = []

    async def app(scope: Any, recv: Any, send: Any) -> None:
        calls.append(scope["type"])
        await send({"type": "websocket.send", "text": '0{"sid":"s4"}'})

    async def plain_send(message: dict[str, Any]) -> None:
        return None

    await transports.wrap(app)({"type": "http"}, receive, FakeServerProtocol().send)
    await transports.wrap(app)(ws_scope(), receive, plain_send)
    assert calls == ["http", "websocket"]
    assert not transports.abort("s4")
