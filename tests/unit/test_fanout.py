"""Fan-out: interest tracking and one copy per socket, with fake Socket.IO internals."""

from __future__ import annotations

import asyncio
from typing import Any

from bidict import bidict

from contracts import delivery
from services.gateway.fanout import Fanout


class FakeSocket:
    def __init__(self) -> None:
        self.closed = False
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def send(self, pkt: Any) -> None:
        await self.queue.put(pkt)


class FakeEio:
    def __init__(self) -> None:
        self.sockets: dict[str, FakeSocket] = {}
        self.disconnected: list[str] = []

    async def disconnect(self, eio_sid: str) -> None:
        self.disconnected.append(eio_sid)


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


async def test_a_socket_that_stops_reading_is_dropped() -> None:
    fanout, sio, _ = make(max_pending=2)
    await fanout.join("a", "/tenant", ["r"])
    for _ in range(3):
        await fanout.deliver("r", delivery.Delivery(event="ev", body=b"{}"))
    await asyncio.sleep(0)
    assert sio.eio.sockets["ea"].queue.qsize() == 2
    assert sio.eio.disconnected == ["ea"]
    assert fanout.dropped_slow == 1
