"""Resync after a NATS reconnect: the bookkeeping (log clock, seen seqs) and one socket's
resync with a fake fan-out and a fake recovery endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import pytest

from contracts import delivery
from contracts.errors import ErrorCode
from contracts.identity import Identity
from contracts.messages import ChatMessage
from contracts.recovery import RecoverChunk, RecoverRequest, RecoveryReason, RoomOutcome
from contracts.rooms import Room
from services.gateway import recovery as recovery_module
from services.gateway import resync as resync_module
from services.gateway.delivered import LogClock, Seen, logged_seq, sid_key
from services.gateway.fanout import Fanout, Held
from services.gateway.limits import TokenBucket
from services.gateway.recovery import Recovery, resync_rooms
from services.gateway.resync import Resync
from services.gateway.sessions import Session

BOB = Identity(tenant="acme", user_id="bob", role="member")
ADA = Identity(tenant="acme", user_id="ada", role="admin")
USER_BOB = Room.user("acme", "bob").subject


# the seq of a delivery ---------------------------------------------------------------


def test_the_seq_travels_in_a_header_and_is_read_without_the_body() -> None:
    headers, _ = delivery.encode("chat:message", {"seq": 7}, seq=7)
    assert headers[delivery.SEQ] == "7"
    assert logged_seq(delivery.decode(headers, b"not json")) == 7


def test_a_delivery_without_the_header_falls_back_to_the_body_for_logged_events() -> None:
    assert logged_seq(delivery.decode(*delivery.encode("room:message", {"seq": 9}))) == 9
    assert logged_seq(delivery.decode(*delivery.encode("user:online", {"seq": 9}))) is None
    assert logged_seq(delivery.decode(*delivery.encode("chat:message", {"seq": True}))) is None
    assert logged_seq(delivery.decode({delivery.EVENT: "chat:message"}, b"[]")) is None


def test_a_malformed_seq_header_is_refused() -> None:
    with pytest.raises(ValueError, match="Rc-Seq"):
        delivery.decode({delivery.EVENT: "chat:message", delivery.SEQ: "x"}, b"{}")


# the log clock ----------------------------------------------------------------------


def test_no_floor_before_the_first_poll() -> None:
    assert LogClock().floor(5) is None


def test_the_floor_is_the_position_a_horizon_before_the_newest_poll() -> None:
    clock = LogClock()
    for t in range(10):
        clock.record(float(t), 100 + t, horizon=5)
    # newest poll at t=9: the last one at or before t=4 answered 104
    assert clock.floor(5) == 104


def test_a_gateway_younger_than_the_horizon_uses_its_first_poll() -> None:
    clock = LogClock()
    clock.record(0.0, 50, horizon=5)
    clock.record(1.0, 60, horizon=5)
    assert clock.floor(5) == 50


def test_old_polls_are_forgotten_but_one_before_the_horizon_is_kept() -> None:
    clock = LogClock()
    for t in range(100):
        clock.record(float(t), t, horizon=5)
    assert len(clock._polls) <= 7
    assert clock.floor(5) == 94


def test_a_recreated_log_restarts_the_clock_and_late_answers_are_ignored() -> None:
    clock = LogClock()
    clock.record(0.0, 500, horizon=5)
    clock.record(10.0, 600, horizon=5)
    clock.record(9.0, 590, horizon=5)  # overtaken by the answer at t=10
    assert clock.floor(5) == 500
    clock.record(11.0, 3, horizon=5)
    assert clock.floor(5) == 3


# seen seqs --------------------------------------------------------------------------


def test_seen_collects_per_key_and_prunes_at_the_floor() -> None:
    seen = Seen()
    for seq in (5, 7, 6, 9):
        seen.add("deliver.a", seq)
    seen.add(sid_key("s1"), 8)
    seen.add("deliver.b", 3)
    assert seen.seqs(["deliver.a", sid_key("s1"), "deliver.none"]) == {5, 6, 7, 8, 9}
    seen.prune(6)
    # 5 goes; 7 stays, and 6 behind it (arrived late) is kept: keeping more is safe
    assert seen.seqs(["deliver.a"]) == {6, 7, 9}
    assert seen.seqs(["deliver.b"]) == set()
    assert len(seen) == 4
    seen.forget(sid_key("s1"))
    assert seen.seqs([sid_key("s1")]) == set()


# the rooms of a resync --------------------------------------------------------------


def tenant_session(who: Identity = BOB, namespace: str = "/tenant") -> Session:
    s = Session(sid="s1", namespace=namespace, identity=who, exp=0, bucket=TokenBucket(1, 1))
    s.subjects.add(Room.user(who.tenant, who.user_id).subject)
    return s


def test_resync_rooms_are_the_recoverable_automatic_and_joined_explicit_rooms() -> None:
    s = tenant_session(ADA)
    crew = Room.explicit("acme", "room:crew").subject
    # joined by its slug, canonical name `course:7`
    course = Room.explicit("acme", "course:7").subject
    s.joined[("acme", "room:crew")] = crew
    s.joined[("acme", "room:intro")] = course
    s.joined[("acme", "course:7")] = course
    rooms = {(r.room, r.after, r.canonical) for r in resync_rooms(s, 40)}
    assert rooms == {
        ("user:ada", 40, None),
        ("tenant:acme:admins", 40, None),
        ("room:crew", 40, "room:crew"),
        ("course:7", 40, "course:7"),
    }


def test_manage_sockets_resync_their_own_room_only() -> None:
    s = tenant_session(BOB, namespace="/manage")
    s.joined[("other", "room:x")] = Room.explicit("other", "room:x").subject
    assert [r.room for r in resync_rooms(s, 1)] == ["user:bob"]


# one socket's resync ----------------------------------------------------------------


@dataclass
class FakeFanout:
    seen: Seen = field(default_factory=Seen)
    held: list[Held] = field(default_factory=list)
    holding: bool = False
    events: list[tuple[str, Any]] = field(default_factory=list)

    def hold(self, sid: str) -> None:
        self.holding = True

    def unhold(self, sid: str) -> None:
        self.holding = False
        self.held = []

    def take_held(self, sid: str) -> list[Held]:
        held, self.held = self.held, []
        return held

    def held_now(self, sid: str) -> list[Held]:
        return self.held

    async def send_event(self, sid: str, namespace: str, event: str, body: bytes) -> bool:
        self.events.append((event, orjson.loads(body)))
        return True

    async def send_packet(self, sid: str, namespace: str, pkt: Any) -> bool:
        self.events.append(("live", pkt))
        return True

    async def leave(self, sid: str, namespace: str, subjects: Iterable[str]) -> None:
        return None


def message(seq: int) -> ChatMessage:
    return ChatMessage(
        id=f"m{seq}",
        tenant="acme",
        from_="ann",
        to="bob",
        body=str(seq),
        ts=seq,
        room="user:bob",
        seq=seq,
    )


def live(seq: int) -> Held:
    body = orjson.dumps({"tenant": "acme", "room": "user:bob", "seq": seq})
    return Held("chat:message", body, cast(Any, f"live {seq}"))


def fake_recover(
    monkeypatch: pytest.MonkeyPatch, seqs: list[int], outcome: RoomOutcome | None = None
) -> list[RecoverRequest]:
    asked: list[RecoverRequest] = []

    async def stream(
        nc: Any, endpoint: Any, request: RecoverRequest, *, wait: float
    ) -> AsyncIterator[RecoverChunk]:
        asked.append(request)
        after = request.rooms[0].after
        done = outcome or RoomOutcome(room="user:bob", recovered=True, replayed=0)
        missed = [message(q) for q in seqs if q > after]
        yield RecoverChunk(messages=missed, done=True, rooms=[done])

    monkeypatch.setattr(recovery_module.bus, "stream", stream)
    return asked


async def run_resync(fanout: FakeFanout, s: Session, after: int | None) -> Recovery:
    rec = Recovery(cast(Any, None), cast(Fanout, fanout), {s.sid: s}, timeout=1)
    rec.hold_for_resync(s.sid)
    assert rec.awaiting_resync() == [s.sid]
    rec.resync(s, after, cast(Any, contextlib.nullcontext()))
    assert rec.awaiting_resync() == []
    task = rec.task_of(s.sid)
    assert task is not None
    await task
    return rec


async def test_a_resync_replays_what_the_socket_missed_in_order_then_releases_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = fake_recover(monkeypatch, [4, 5, 6, 7, 8, 9, 10])  # 11 came after the read
    fanout = FakeFanout()
    s = tenant_session()
    fanout.seen.add(USER_BOB, 5)  # delivered live before the outage
    fanout.seen.add(USER_BOB, 7)
    fanout.seen.add(sid_key(s.sid), 8)  # replayed by an earlier recovery
    fanout.seen.add(USER_BOB, 10)  # arrived after the reconnect: held, not yet delivered
    fanout.held = [live(10), live(11)]
    await run_resync(fanout, s, after=4)
    assert asked[0].rooms[0].after == 4
    replayed = [body["seq"] for event, body in fanout.events if event == "chat:message"]
    # 9 was never seen; 10 is held, so it is replayed in its place in the log
    assert replayed == [6, 9, 10]
    # 10 was replayed, so its held copy is dropped; 11 (after the read) is released
    assert [body for event, body in fanout.events if event == "live"] == ["live 11"]
    assert not any(event == "session:recovered" for event, _ in fanout.events)
    assert not fanout.holding
    assert fanout.seen.seqs([sid_key(s.sid)]) == {6, 8, 9, 10}


async def test_a_room_not_resynced_is_announced_and_live_delivery_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    too_many = RoomOutcome(room="user:bob", recovered=False, reason=RecoveryReason.TOO_MANY)
    fake_recover(monkeypatch, [], too_many)
    fanout = FakeFanout(held=[live(3)])
    await run_resync(fanout, tenant_session(), after=1)
    assert fanout.events == [
        ("session:recovered", {"rooms": [too_many.model_dump(mode="json", exclude_none=True)]}),
        ("live", "live 3"),
    ]
    assert not fanout.holding


async def test_without_a_resume_point_nothing_is_replayed_and_the_socket_is_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = fake_recover(monkeypatch, [1, 2])
    fanout = FakeFanout()
    await run_resync(fanout, tenant_session(), after=None)
    assert asked == []
    event, body = fanout.events[0]
    assert event == "session:recovered"
    assert body == {
        "rooms": [{"room": "user:bob", "recovered": False, "replayed": 0, "reason": "unavailable"}]
    }


async def test_a_recovery_in_progress_keeps_the_socket_held_for_the_resync_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_recover(monkeypatch, [])
    fanout = FakeFanout()
    s = tenant_session()
    rec = Recovery(cast(Any, None), cast(Fanout, fanout), {s.sid: s}, timeout=1)
    rec.hold(s)
    gate = asyncio.Event()
    released: list[bool] = []

    async def first_recovery() -> None:
        await gate.wait()
        await rec._release(s, set())
        released.append(fanout.holding)

    rec._chain(s.sid, first_recovery())
    rec.hold_for_resync(s.sid)  # the outage begins while it runs
    rec.resync(s, 0, cast(Any, contextlib.nullcontext()))
    gate.set()
    task = rec.task_of(s.sid)
    assert task is not None
    await task
    assert released == [True], "the first recovery's release must not end the holding"
    assert not fanout.holding


async def test_closing_the_socket_cancels_its_queued_resync_and_forgets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_recover(monkeypatch, [])
    fanout = FakeFanout()
    s = tenant_session()
    fanout.seen.add(sid_key(s.sid), 3)
    rec = Recovery(cast(Any, None), cast(Fanout, fanout), {s.sid: s}, timeout=1)
    rec.hold_for_resync(s.sid)
    slot = asyncio.Semaphore(0)  # never free: the resync stays queued
    rec.resync(s, 0, cast(Any, slot))
    task = rec.task_of(s.sid)
    rec.end(s.sid)
    assert task is not None
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert rec.task_of(s.sid) is None and rec.awaiting_resync() == []
    assert fanout.seen.seqs([sid_key(s.sid)]) == set()


# the orchestration of a reconnect ----------------------------------------------------


class FakeJetStream:
    def __init__(self, nc: FakeNats) -> None:
        self.nc = nc

    async def stream_info(self, name: str) -> Any:
        if not self.nc.log_answers:
            raise TimeoutError
        state = type("State", (), {"last_seq": self.nc.last_seq})
        return type("Info", (), {"state": state})


class FakeNats:
    def __init__(self) -> None:
        self.is_connected = True
        self.log_answers = True
        self.last_seq = 0

    def jetstream(self, timeout: float) -> FakeJetStream:
        return FakeJetStream(self)


@dataclass
class FakeRecovery:
    awaiting: set[str] = field(default_factory=set)
    resyncs: list[tuple[str, int | None]] = field(default_factory=list)

    def hold_for_resync(self, sid: str) -> None:
        self.awaiting.add(sid)

    def awaiting_resync(self) -> list[str]:
        return sorted(self.awaiting)

    def resync(self, s: Session, after: int | None, throttle: Any) -> None:
        self.awaiting.discard(s.sid)
        self.resyncs.append((s.sid, after))

    def task_of(self, sid: str) -> None:
        return None


def orchestrator(sessions: dict[str, Session]) -> tuple[Resync, FakeNats, FakeRecovery]:
    nc, rec = FakeNats(), FakeRecovery()
    resync = Resync(
        cast(Any, nc),
        cast(Fanout, FakeFanout()),
        cast(Recovery, rec),
        sessions,
        horizon=5,
        concurrency=4,
        poll_interval=1,
        timeout=1,
    )
    return resync, nc, rec


async def test_an_outage_holds_every_socket_and_resyncs_from_the_frozen_floor() -> None:
    a, b = tenant_session(), tenant_session(ADA)
    a.sid, b.sid = "a", "b"
    sessions = {"a": a, "b": b}
    resync, nc, rec = orchestrator(sessions)
    for t in range(10):
        nc.last_seq = 100 + 10 * t
        resync.clock.record(float(t), nc.last_seq, 5)
    resync.disconnected()
    assert rec.awaiting == {"a", "b"}
    late = tenant_session()
    late.sid = "c"
    sessions["c"] = late
    resync.connecting(late)  # connects while NATS is down: held too
    nc.last_seq = 900  # the log moved on meanwhile; the floor does not
    resync.reconnected()
    await asyncio.gather(*resync._running)
    assert sorted(rec.resyncs) == [("a", 140), ("b", 140), ("c", 140)]
    assert resync.outages == 1 and not resync.outage


async def test_resyncs_wait_until_the_log_answers_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resync_module, "PROBE_PAUSE", 0.01)
    s = tenant_session()
    resync, nc, rec = orchestrator({s.sid: s})
    resync.clock.record(0.0, 7, 5)
    resync.disconnected()
    nc.log_answers = False  # a JetStream election after the node's death
    resync.reconnected()
    await asyncio.sleep(0.05)
    assert rec.resyncs == []
    nc.log_answers = True
    await asyncio.gather(*resync._running)
    assert rec.resyncs == [(s.sid, 7)]


async def test_without_any_poll_the_resume_point_is_unknown() -> None:
    s = tenant_session()
    resync, nc, rec = orchestrator({s.sid: s})
    nc.log_answers = False
    assert not await resync.poll()
    resync.disconnected()
    nc.log_answers = True
    resync.reconnected()
    await asyncio.gather(*resync._running)
    assert rec.resyncs == [(s.sid, None)]


async def test_no_persistence_at_all_releases_the_socket_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[RecoverRequest] = []

    async def stream(
        nc: Any, endpoint: Any, request: RecoverRequest, *, wait: float
    ) -> AsyncIterator[RecoverChunk]:
        asked.append(request)
        raise recovery_module.bus.NotRunning(ErrorCode.UNAVAILABLE, "not running")
        yield  # an async generator

    monkeypatch.setattr(recovery_module.bus, "stream", stream)
    fanout = FakeFanout(held=[live(3)])
    await asyncio.wait_for(run_resync(fanout, tenant_session(), after=1), timeout=5)
    assert len(asked) == 1, "no replica runs: asking again within seconds would only wait"
    assert fanout.events == [
        (
            "session:recovered",
            {
                "rooms": [
                    {"room": "user:bob", "recovered": False, "replayed": 0, "reason": "unavailable"}
                ]
            },
        ),
        ("live", "live 3"),
    ]
    assert not fanout.holding
