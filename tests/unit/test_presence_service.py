"""Presence service use cases, change parsing and settings, with a fake store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from contracts import delivery
from contracts.errors import ErrorCode, ServiceError
from contracts.presence import GatewayReport, OfflineReason, OnlineUser
from contracts.rooms import Room
from services.gateway.settings import GatewaySettings
from services.presence.domain.changes import Change, outgoing, parse_changes, parse_online
from services.presence.ports import ReportOutcome, StoreUnavailable, SweepOutcome
from services.presence.service import PresenceService
from services.presence.settings import PresenceSettings


@dataclass
class FakeStore:
    outcome: ReportOutcome | None = None
    sweeps: list[SweepOutcome] = field(default_factory=list)
    down: bool = False

    async def report(self, report: GatewayReport) -> ReportOutcome:
        if self.down:
            raise StoreUnavailable("redis: ConnectionError")
        assert self.outcome is not None
        return self.outcome

    async def sweep(self, budget: int) -> SweepOutcome:
        if self.down:
            raise StoreUnavailable("redis: ConnectionError")
        return self.sweeps.pop(0)

    async def online(self, tenant: str) -> list[OnlineUser]:
        if self.down:
            raise StoreUnavailable("redis: ConnectionError")
        return [OnlineUser(user_id="u1", name="U", since=1)]


@dataclass
class Published:
    items: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        self.items.append((subject, body, headers))


REPORT = GatewayReport(gateway="gw", epoch="e", lease_ttl_ms=1000)


def test_changes_parse_from_the_script_output() -> None:
    flat: list[Any] = [b"online", b"t1", b"u1", b"", "offline", "t1", "u2", "gateway_lost"]
    assert parse_changes(flat) == [
        Change("t1", "u1"),
        Change("t1", "u2", OfflineReason.GATEWAY_LOST),
    ]
    with pytest.raises(ValueError, match="four"):
        parse_changes([b"online"])
    with pytest.raises(ValueError, match="unknown"):
        parse_changes([b"away", b"t", b"u", b""])


def test_changes_are_delivered_to_the_tenant_room() -> None:
    online, offline = outgoing(
        [Change("t 1", "u1"), Change("t 1", "u1", OfflineReason.TIMEOUT)], ts=42
    )
    assert online.subject == offline.subject == Room.tenant("t 1").subject
    first = delivery.decode(online.headers, online.body)
    assert first.event == "user:online"
    assert orjson.loads(first.body) == {"userId": "u1", "tenant": "t 1", "ts": 42}
    second = delivery.decode(offline.headers, offline.body)
    assert second.event == "user:offline"
    assert orjson.loads(second.body)["reason"] == "timeout"


def test_online_users_parse_with_names_containing_the_separator() -> None:
    users = parse_online({b"zed": b"20|Z|ed", b"amy": b"10|", "bob": "15|Bob"})
    assert [(u.user_id, u.name, u.since) for u in users] == [
        ("amy", None, 10),
        ("bob", "Bob", 15),
        ("zed", "Z|ed", 20),
    ]


async def test_report_announces_what_the_store_decided() -> None:
    store, published = FakeStore(), Published()
    store.outcome = ReportOutcome(7, "e", False, ["gone"], [Change("t", "u")])
    reply = await PresenceService(store, published, 100).report(REPORT)
    assert reply.ok and reply.epoch == "e" and reply.unknown == ["gone"]
    assert [s for s, _, _ in published.items] == [Room.tenant("t").subject]


async def test_report_asks_for_a_resync_without_announcing() -> None:
    store, published = FakeStore(), Published()
    store.outcome = ReportOutcome(7, "e2", True)
    reply = await PresenceService(store, published, 100).report(REPORT)
    assert not reply.ok and reply.resync and reply.epoch == "e2"
    assert published.items == []


async def test_redis_down_is_unavailable() -> None:
    service = PresenceService(FakeStore(down=True), Published(), 100)
    for call in (service.report(REPORT), service.online("t")):
        with pytest.raises(ServiceError) as caught:
            await call
        assert caught.value.code == ErrorCode.UNAVAILABLE
    with pytest.raises(StoreUnavailable):
        await service.sweep()


async def test_sweep_repeats_while_the_store_has_more() -> None:
    store, published = FakeStore(), Published()
    change = Change("t", "u", OfflineReason.DISCONNECT)
    store.sweeps = [SweepOutcome(1, True, False, [change]), SweepOutcome(2, False, False, [])]
    assert await PresenceService(store, published, 1).sweep() == 1
    assert store.sweeps == []
    assert len(published.items) == 1


def test_presence_settings_read_seconds_and_check_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOMCAST_PRESENCE_TTL", "3")
    monkeypatch.setenv("ROOMCAST_PRESENCE_GRACE", "0.5")
    timing = PresenceSettings().timing()
    assert (timing.ttl_ms, timing.grace_ms, timing.gap_ms) == (3000, 500, 5000)
    monkeypatch.setenv("ROOMCAST_PRESENCE_GAP", "1")
    with pytest.raises(ValidationError, match="presence_gap"):
        PresenceSettings()


def test_gateway_lease_must_outlive_two_beats() -> None:
    with pytest.raises(ValidationError, match="gateway_lease_ttl"):
        GatewaySettings(jwt_secret="x" * 32, presence_beat_interval=5, gateway_lease_ttl=9)
    ok = GatewaySettings(jwt_secret="x" * 32)
    assert (ok.presence_beat_interval, ok.gateway_lease_ttl) == (5.0, 15.0)
