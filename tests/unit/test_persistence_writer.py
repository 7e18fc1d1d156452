"""The writer: ack after commit, retries through outages, bisection, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from contracts import subjects
from contracts.history import StoredMessage
from contracts.identity import Identity
from contracts.messages import LoggedMessage
from services.persistence.domain.conversations import Target
from services.persistence.domain.records import COLUMNS, Row
from services.persistence.ports import Delivered, RowsRejected, StoreUnavailable
from services.persistence.writer import Stopped, Writer

SUBJECT = subjects.log_dm("acme", "alice", "bob")
BODY = COLUMNS.index("body")


def payload(body: str) -> bytes:
    message = LoggedMessage(
        tenant="acme",
        sender=Identity(tenant="acme", user_id="alice", role="member"),
        to="bob",
        body=body,
        ts=1,
        supervised=False,
    )
    return message.model_dump_json().encode()


@dataclass
class FakeMsg:
    seq: int
    data: bytes
    subject: str = SUBJECT
    deliveries: int = 1
    events: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.events.append("ack")

    async def nak(self, delay: float) -> None:
        self.events.append("nak")

    async def in_progress(self) -> None:
        self.events.append("progress")


@dataclass
class FakeStore:
    rows: dict[str, Row] = field(default_factory=dict)
    outages: int = 0
    refuse: Callable[[Row], bool] = lambda row: False
    calls: int = 0
    called: asyncio.Event = field(default_factory=asyncio.Event)

    async def insert(self, rows: Sequence[Row]) -> int:
        self.calls += 1
        self.called.set()
        if self.outages:
            self.outages -= 1
            raise StoreUnavailable("connection refused")
        if any(self.refuse(row) for row in rows):
            raise RowsRejected("check constraint violated")
        new = [row for row in rows if row[0] not in self.rows]
        self.rows.update((row[0], row) for row in new)
        return len(new)

    async def page(self, target: Target, before: str | None, limit: int) -> list[StoredMessage]:
        return []


@dataclass
class FakeDeadLetters:
    sent: list[tuple[int, str]] = field(default_factory=list)

    async def send(self, item: Delivered, reason: str) -> None:
        self.sent.append((item.seq, reason))


def writer(store: FakeStore, dlq: FakeDeadLetters, max_deliveries: int = 3) -> Writer:
    return Writer(store, dlq, epoch=1, max_deliveries=max_deliveries, retry_first=0.001)


async def test_every_message_is_acked_only_after_its_batch_is_stored() -> None:
    store, dlq = FakeStore(), FakeDeadLetters()
    batch = [FakeMsg(seq, payload(f"m{seq}")) for seq in range(1, 6)]
    await writer(store, dlq).write(batch)
    assert store.calls == 1
    assert len(store.rows) == 5
    assert all(m.events == ["ack"] for m in batch)


async def test_a_redelivered_batch_leaves_one_row_per_message() -> None:
    store, dlq = FakeStore(), FakeDeadLetters()
    w = writer(store, dlq)
    await w.write([FakeMsg(1, payload("a")), FakeMsg(2, payload("b"))])
    await w.write([FakeMsg(2, payload("b"), deliveries=2), FakeMsg(3, payload("c"))])
    assert len(store.rows) == 3
    assert (w.counters.stored, w.counters.duplicates) == (3, 1)


async def test_an_invalid_message_is_dead_lettered_and_the_rest_stored() -> None:
    store, dlq = FakeStore(), FakeDeadLetters()
    bad = FakeMsg(2, b"{not json")
    batch = [FakeMsg(1, payload("a")), bad, FakeMsg(3, payload("c"))]
    await writer(store, dlq).write(batch)
    assert [seq for seq, _ in dlq.sent] == [2]
    assert "not a LoggedMessage" in dlq.sent[0][1]
    assert len(store.rows) == 2
    assert all(m.events == ["ack"] for m in batch)


async def test_an_outage_is_retried_without_giving_up_or_acking_early() -> None:
    store, dlq = FakeStore(outages=4), FakeDeadLetters()
    batch = [FakeMsg(1, payload("a"), deliveries=99)]
    w = writer(store, dlq, max_deliveries=1)
    await w.write(batch)
    assert store.calls == 5
    assert batch[0].events == ["progress"] * 4 + ["ack"]
    assert dlq.sent == []
    assert w.counters.outages == 4


async def test_stopping_during_an_outage_acks_nothing() -> None:
    store, dlq = FakeStore(outages=1000), FakeDeadLetters()
    w = writer(store, dlq)
    batch = [FakeMsg(1, payload("a"))]
    task = asyncio.create_task(w.write(batch))
    await asyncio.wait_for(store.called.wait(), 5)
    w.stopping.set()
    with pytest.raises(Stopped):
        await task
    assert "ack" not in batch[0].events


async def test_a_refused_row_is_isolated_retried_then_dead_lettered() -> None:
    store = FakeStore(refuse=lambda row: row[BODY] == "poison")
    dlq = FakeDeadLetters()
    w = writer(store, dlq, max_deliveries=3)
    batch = [FakeMsg(seq, payload("poison" if seq == 5 else f"m{seq}")) for seq in range(1, 9)]
    await w.write(batch)
    assert sorted(int(r[2]) for r in store.rows.values()) == [1, 2, 3, 4, 6, 7, 8]
    assert batch[4].events == ["nak"]
    assert all(m.events == ["ack"] for m in batch if m.seq != 5)
    assert dlq.sent == []

    again = FakeMsg(5, payload("poison"), deliveries=3)
    await w.write([again])
    assert again.events == ["ack"]
    assert dlq.sent and dlq.sent[0][0] == 5
    assert "refused by the store 3 times" in dlq.sent[0][1]
