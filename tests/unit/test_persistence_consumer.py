"""The log consumer's pull requests: completion, late messages, reply-subject metadata."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from nats.aio.msg import Msg

from contracts import subjects
from roomcast.platform.jetstream import Fetched
from services.persistence.adapters.log_consumer import LogConsumer


class FakeNats:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any], str]] = []
        self.sent = asyncio.Event()

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        self.published.append((subject, orjson.loads(payload), reply))
        self.sent.set()


def delivery(seq: int, delivered: int = 1) -> Msg:
    reply = f"$JS.ACK.ROOMCAST_LOG.persistence.{delivered}.{seq}.{seq}.1700000000000000000.0"
    return Msg(_client=None, subject="roomcast.v1.log.t.dm.a.b", reply=reply, data=b"{}")  # type: ignore[arg-type]


def status(code: str) -> Msg:
    return Msg(_client=None, subject="_INBOX.test", data=b"", headers={"Status": code})  # type: ignore[arg-type]


def consumer(nc: FakeNats, batch: int = 3) -> LogConsumer:
    return LogConsumer(nc, None, "persistence", batch, 1, fetch_wait=0.05, ack_wait=30)  # type: ignore[arg-type]


async def answered(nc: FakeNats, c: LogConsumer, *replies: Msg) -> None:
    await asyncio.wait_for(nc.sent.wait(), 1)
    nc.sent.clear()
    for msg in replies:
        await c._on_msg(msg)


async def test_a_no_wait_request_ends_at_the_batch_or_at_no_messages() -> None:
    nc = FakeNats()
    c = consumer(nc)
    pull = asyncio.create_task(c._request(3, None))
    await answered(nc, c, delivery(1), delivery(2), status("404"))
    assert [Fetched(m).seq for m in await pull] == [1, 2]
    subject, body, reply = nc.published[0]
    assert subject == subjects.jetstream_pull_next(subjects.LOG_STREAM, "persistence")
    assert body == {"batch": 3, "no_wait": True}
    assert reply == "_INBOX.test"

    pull = asyncio.create_task(c._request(2, None))
    await answered(nc, c, delivery(3), delivery(4))
    assert [Fetched(m).seq for m in await pull] == [3, 4]


async def test_messages_arriving_after_a_request_ended_go_to_the_next_one() -> None:
    nc = FakeNats()
    c = consumer(nc)
    pull = asyncio.create_task(c._request(3, None))
    await answered(nc, c, delivery(1), status("408"))
    assert [Fetched(m).seq for m in await pull] == [1]
    await c._on_msg(delivery(2))  # late, for the request that already ended
    pull = asyncio.create_task(c._request(3, None))
    await answered(nc, c, delivery(3), status("404"))
    assert [Fetched(m).seq for m in await pull] == [2, 3]


async def test_when_drained_it_waits_for_one_then_lingers_for_a_batch() -> None:
    nc = FakeNats()
    c = LogConsumer(nc, None, "persistence", 10, 1, fetch_wait=5, ack_wait=30, linger=0.01)  # type: ignore[arg-type]
    pull = asyncio.create_task(c._pull())
    await answered(nc, c, status("404"))
    await answered(nc, c, delivery(1))
    await answered(nc, c, delivery(2), status("404"))
    assert [Fetched(m).seq for m in await pull] == [1, 2]
    assert [body for _, body, _ in nc.published] == [
        {"batch": 10, "no_wait": True},
        {"batch": 1, "expires": 5_000_000_000},
        {"batch": 9, "no_wait": True},
    ]


def test_sequence_and_deliveries_come_from_either_reply_subject_form() -> None:
    short = Fetched(delivery(42, delivered=3))
    assert (short.seq, short.deliveries) == (42, 3)
    long_reply = "$JS.ACK.hub.ACCHASH.ROOMCAST_LOG.persistence.2.77.70.1700000000000000000.5.tok"
    msg = Msg(_client=None, subject="s", reply=long_reply, data=b"")  # type: ignore[arg-type]
    assert (Fetched(msg).seq, Fetched(msg).deliveries) == (77, 2)
