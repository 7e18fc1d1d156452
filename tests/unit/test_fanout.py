"""Fan-out: interest tracking and one copy per socket, with fake Socket.IO internals."""

from __future__ import annotations

import asyncio
import types
from typing import Any

from bidict import bidict

from contracts import delivery
from services.gateway.fanout import Fanout


class FakeSocket:
    def __init__(self) -> None:
        self.closing = False
        self.closed = False
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closes: list[dict[str, Any]] = []
        self.may_close = asyncio.Event()
        self.may_close.set()

    async def send(self, pkt: Any) -> None:
        await self.queue.put(pkt)

    async def close(self, **kwargs: Any) -> None:
        """Like engineio's: disconnect handlers run (here: wait) before `closed` is set."""
        self.closes.append(kwargs)
        await self.may_close.wait()
        self.closed = True


class FakeEio:
    reason = types.SimpleNamespace(SERVER_DISCONNECT="server disconnect")

    def __init__(self) -> None:
        self.sockets: dict[str, FakeSocket] = {}


class FakeManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, bidict[str, str]]] = {}


class FakeSio:
    def __init__(self) -> None:
        self.manager = FakeManager()
        self.eio = FakeEio()

    async def enter_room(self, sid: str, room: str, namespace: str) -> None:
        ns = self.manager.rooms.setdefault(namespace, {})
        ns.setdefault(room, bidict())[sid] = "e" + sid
        self.eio.sockets.setdefault("e" + sid, FakeSocket())

    async def leave_room(self, sid: str, room: str, namespace: str) -> None:
        self.manager.rooms[namespace][room].pop(sid, None)


class FakeSub:
    def __init__(self, nc: FakeNats, subject: str) -> None:
        self.nc, self.subject = nc, subject

    async def unsubscribe(self) -> None:
        self.nc.active.discard(self.subject)


class FakeNats:
    is_connected = True

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.subscribes = 0

    async def subscribe(self, subject: str, cb: Any) -> FakeSub:
        self.subscribes += 1
        self.active.add(subject)
        return FakeSub(self, subject)

    async def flush(self) -> None:
        return None


def make(max_pending: int = 100) -> tuple[Fanout, FakeSio, FakeNats]:
    sio, nc = FakeSio(), FakeNats()
    return Fanout(sio, nc, ["/", "/tenant"], max_pending), sio, nc  # type: ignore[arg-type]


async def test_subscribes_on_first_join_and_unsubscribes_on_last_leave() -> None:
    fanout, _, nc = make()
    await fanout.join("a", "/tenant", ["room.x"])
    await fanout.join("b", "/tenant", ["room.x"])
    assert nc.active == {"room.x"} and nc.subscribes == 1
    await fanout.leave("a", "/tenant", ["room.x"])
    assert nc.active == {"room.x"}
    await fanout.forget("room.x")
    assert nc.active == set() and fanout.hosted == frozenset()


async def test_one_copy_per_socket_and_skip_sid() -> None:
    fanout, sio, _ = make()
    await fanout.join("a", "/tenant", ["user.bob", "admins"])
    await fanout.join("b", "/tenant", ["admins"])
    await fanout.join("c", "/tenant", ["user.bob"])
    first = delivery.Delivery(event="chat:message", body=b'{"n":1}')
    assert await fanout.deliver("user.bob", first) == 2
    second = delivery.Delivery(
        event="chat:message", body=b'{"n":1}', skip_subjects=("user.bob",), skip_sid="zzz"
    )
    assert await fanout.deliver("admins", second) == 1
    assert sio.eio.sockets["eb"].queue.qsize() == 1
    assert sio.eio.sockets["ea"].queue.qsize() == 1
    skip = delivery.Delivery(event="chat:message", body=b"{}", skip_sid="c")
    assert await fanout.deliver("user.bob", skip) == 1


async def test_packet_is_framed_per_namespace() -> None:
    fanout, sio, _ = make()
    await fanout.join("a", "/tenant", ["r"])
    await fanout.join("b", "/", ["r"])
    await fanout.deliver("r", delivery.Delivery(event="ev", body=b'{"x":1}'))
    assert sio.eio.sockets["ea"].queue.get_nowait().data == '2/tenant,["ev",{"x":1}]'
    assert sio.eio.sockets["eb"].queue.get_nowait().data == '2["ev",{"x":1}]'


async def test_a_socket_that_stops_reading_is_dropped_once_without_waiting_for_its_queue() -> None:
    fanout, sio, _ = make(max_pending=2)
    await fanout.join("a", "/tenant", ["r"])
    sock = sio.eio.sockets["ea"]
    sock.may_close.clear()
    for _ in range(6):
        await fanout.deliver("r", delivery.Delivery(event="ev", body=b"{}"))
        await asyncio.sleep(0)
    assert sock.queue.qsize() == 2
    assert fanout.dropped_slow == 1
    assert sock.closes == [{"wait": False, "abort": True, "reason": "server disconnect"}]
    sock.may_close.set()
    await fanout.settle()
    assert "ea" not in sio.eio.sockets


async def test_a_socket_dropped_from_two_paths_is_counted_once() -> None:
    fanout, sio, _ = make(max_pending=2)
    await fanout.join("a", "/tenant", ["r"])
    sio.eio.sockets["ea"].may_close.clear()
    fanout.drop("ea", "packets unread")
    fanout.drop("ea", "replay not read")
    assert fanout.dropped_slow == 1
    sio.eio.sockets["ea"].may_close.set()
    await fanout.settle()
    assert sio.eio.sockets == {}
