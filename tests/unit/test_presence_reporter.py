"""The gateway's presence reporter against a fake presence service on a fake NATS."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from nats.errors import NoRespondersError

from contracts import subjects
from contracts.identity import Identity
from contracts.presence import GatewayReport, ReportReply
from services.gateway.handlers.presence import presence_heartbeat, presence_list
from services.gateway.limits import TokenBucket
from services.gateway.presence import PresenceReporter
from services.gateway.sessions import Session
from services.gateway.settings import GatewaySettings

SECRET = "x" * 32


@dataclass
class FakePresence:
    """Answers reports like the service: resync unless epoch and lease match."""

    epoch: str = "e1"
    leases: set[str] = field(default_factory=set)
    reports: list[GatewayReport] = field(default_factory=list)
    down: bool = False
    unknown: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def request(self, subject: str, payload: bytes, timeout: float) -> Any:
        if self.down:
            raise NoRespondersError
        if subject == subjects.presence_list():
            return SimpleNamespace(data=b'{"ok": true, "users": []}')
        assert subject == subjects.presence_report()
        report = GatewayReport.model_validate_json(payload)
        self.reports.append(report)
        self.arrived.set()
        if not report.resync and (report.epoch != self.epoch or report.gateway not in self.leases):
            reply = ReportReply(ok=False, epoch=self.epoch, resync=True)
        else:
            self.leases.add(report.gateway)
            if report.leaving:
                self.leases.discard(report.gateway)
            reply = ReportReply(ok=True, epoch=self.epoch, unknown=self.unknown)
            self.unknown = []
        return SimpleNamespace(data=reply.model_dump_json().encode())

    @property
    def is_connected(self) -> bool:
        return True


def settings(**extra: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "jwt_secret": SECRET,
        "presence_beat_interval": 0.2,
        "gateway_lease_ttl": 1.0,
        "presence_flush_delay": 0.01,
        "request_timeout": 1.0,
        **extra,
    }
    return GatewaySettings(**values)


def session(sid: str, user: str = "alice", tenant: str = "t1", ns: str = "/tenant") -> Session:
    who = Identity(tenant=tenant, user_id=user, role="member", name=user.title())
    return Session(sid=sid, namespace=ns, identity=who, exp=0, bucket=TokenBucket(1, 1))


@pytest.fixture
def fake() -> FakePresence:
    return FakePresence()


@pytest.fixture
def reporter(fake: FakePresence) -> PresenceReporter:
    return PresenceReporter(fake, settings(), gateway_id="gw-a")  # type: ignore[arg-type]


async def test_first_report_restates_then_batches_connects(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    for i in range(50):
        reporter.opened(session(f"s{i}", user=f"u{i}"))
    assert await reporter.flush()
    restate, *rest = fake.reports
    assert restate.resync and restate.epoch == ""
    assert {o.sid for o in restate.opened} == {f"s{i}" for i in range(50)}
    assert not any(o.acked for o in restate.opened)
    assert all(not r.opened for r in rest), "restated connections are not sent twice"
    assert all(c.acked for c in reporter.conns.values())


async def test_heartbeats_travel_with_the_next_report_with_their_age(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    for sid in ("s1", "s2", "s3"):
        reporter.opened(session(sid))
    assert await reporter.flush()
    reporter.heartbeat("s1")
    reporter.heartbeat("s2")
    reporter.heartbeat("nobody")
    fake.reports.clear()
    assert await reporter.flush()
    (report,) = fake.reports
    assert set(report.alive) == {"s1", "s2"}
    assert all(0 <= idle < 1000 for idle in report.alive.values())
    assert report.epoch == "e1" and not report.resync
    assert report.lease_ttl_ms == 1000


async def test_heartbeats_during_a_report_wait_for_the_next_beat(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    reporter.opened(session("s1"))
    assert await reporter.flush()
    answer = fake.request

    async def beating_meanwhile(subject: str, payload: bytes, timeout: float) -> Any:
        reporter.heartbeat("s1")
        return await answer(subject, payload, timeout)

    fake.request = beating_meanwhile  # type: ignore[method-assign]
    fake.reports.clear()
    assert await reporter.flush()
    assert len(fake.reports) == 1, "one report per beat"
    assert "s1" in reporter._alive


async def test_a_connection_closed_before_it_was_sent_is_never_reported(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    assert await reporter.flush()
    reporter.opened(session("blink"))
    reporter.closed("blink")
    reporter.opened(session("stays"))
    assert await reporter.flush()
    reporter.closed("stays")
    assert await reporter.flush()
    sent_opens = [o.sid for r in fake.reports for o in r.opened]
    sent_closes = [c.sid for r in fake.reports for c in r.closed]
    assert sent_opens == ["stays"]
    assert sent_closes == ["stays"]


async def test_what_could_not_be_sent_is_kept_for_the_next_attempt(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    reporter.opened(session("s1"))
    reporter.opened(session("s2", user="bob"))
    assert await reporter.flush()
    fake.down = True
    reporter.closed("s1")
    reporter.heartbeat("s2")
    reporter.opened(session("s3", user="carol"))
    assert not await reporter.flush()
    fake.down = False
    fake.reports.clear()
    assert await reporter.flush()
    (report,) = fake.reports
    assert [c.sid for c in report.closed] == ["s1"]
    assert [o.sid for o in report.opened] == ["s3"]
    assert set(report.alive) == {"s2"}


async def test_resync_restates_every_live_connection_with_the_old_epoch(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    reporter.opened(session("s1"))
    assert await reporter.flush()
    reporter.opened(session("s2", user="bob"))
    reporter.closed("s1")
    fake.epoch, fake.leases = "e2", set()
    fake.reports.clear()
    assert await reporter.flush()
    rejected, restate, *_ = fake.reports
    assert not rejected.resync
    assert restate.resync and restate.epoch == "e1"
    assert {(o.sid, o.acked) for o in restate.opened} == {("s2", False)}
    assert [c.sid for c in restate.closed] == ["s1"]
    assert fake.reports[-1].epoch == "e2"


async def test_restated_connections_keep_their_acknowledged_flag(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    reporter.opened(session("s1"))
    assert await reporter.flush()
    fake.leases = set()
    fake.reports.clear()
    assert await reporter.flush()
    restate = next(r for r in fake.reports if r.resync)
    assert [(o.sid, o.acked) for o in restate.opened] == [("s1", True)]


async def test_unknown_connections_are_reported_again_as_new(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    reporter.opened(session("s1"))
    assert await reporter.flush()
    reporter.heartbeat("s1")
    fake.unknown = ["s1"]
    fake.reports.clear()
    assert await reporter.flush()
    assert await reporter.flush()
    beat, reopen = fake.reports
    assert set(beat.alive) == {"s1"}
    assert [(o.sid, o.acked) for o in reopen.opened] == [("s1", False)]


async def test_manage_sockets_do_not_count(reporter: PresenceReporter) -> None:
    reporter.opened(session("m1", ns="/manage"))
    assert "m1" not in reporter.conns


async def test_chunks_respect_the_batch_limit(fake: FakePresence) -> None:
    small = PresenceReporter(fake, settings(presence_batch_max=4), "gw-b")  # type: ignore[arg-type]
    assert await small.flush()
    for i in range(10):
        small.opened(session(f"s{i}", user=f"u{i}"))
    fake.reports.clear()
    assert await small.flush()
    assert [len(r.opened) for r in fake.reports] == [4, 4, 2]


async def test_stop_says_the_gateway_leaves(reporter: PresenceReporter, fake: FakePresence) -> None:
    reporter.start()
    reporter.opened(session("s1"))
    assert await reporter.wait_reported("s1", 5.0)
    assert reporter.healthy
    await reporter.stop()
    assert fake.reports[-1].leaving
    assert "gw-a" not in fake.leases


async def test_wait_reported_gives_up_while_presence_is_down(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    fake.down = True
    reporter.start()
    reporter.opened(session("s1"))
    try:
        assert not await reporter.wait_reported("s1", 5.0)
    finally:
        await reporter.stop()


async def test_the_loop_renews_the_lease_without_traffic(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    reporter.start()
    try:
        async with asyncio.timeout(10):
            while len(fake.reports) < 4:
                fake.arrived.clear()
                await fake.arrived.wait()
    finally:
        await reporter.stop()
    assert all(not r.opened for r in fake.reports)


async def test_heartbeat_ack_says_unavailable_while_reports_fail(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    gw = SimpleNamespace(presence=reporter, settings=reporter._settings, nc=fake)
    s = session("s1")
    reporter.opened(s)
    with pytest.raises(Exception, match="unavailable"):
        await presence_heartbeat(gw, s, {})  # type: ignore[arg-type]
    reporter.healthy = True
    assert await presence_heartbeat(gw, s, {}) == {"ok": True}  # type: ignore[arg-type]
    assert "s1" in reporter._alive


async def test_list_on_tenant_takes_no_tenant(
    reporter: PresenceReporter, fake: FakePresence
) -> None:
    gw = SimpleNamespace(presence=reporter, settings=reporter._settings, nc=fake)
    with pytest.raises(ValueError, match="tenant"):
        await presence_list(gw, session("s1"), {"tenant": "other"})  # type: ignore[arg-type]
    manage = session("m1", ns="/manage")
    assert await presence_list(gw, manage, {"tenant": "t2"}) == {"ok": True, "users": []}  # type: ignore[arg-type]
