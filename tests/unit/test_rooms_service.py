"""RoomsService with fake adapters: authorization, idempotency, caches."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from contracts import delivery
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.messages import ChatSend, LoggedMessage
from contracts.tenants import TenantSettings
from services.rooms.ports import Appended
from services.rooms.service import RoomsService


class FakeDirectory:
    def __init__(self) -> None:
        self.members: set[tuple[str, str]] = set()
        self.registered: list[Identity] = []
        self.stored: dict[str, TenantSettings] = {}
        self.lookups = 0
        self.down = False

    async def register(self, who: Identity) -> None:
        self.registered.append(who)
        self.members.add((who.tenant, who.user_id))

    async def is_member(self, tenant: str, user_id: str) -> bool:
        self.lookups += 1
        if self.down:
            raise ServiceError(ErrorCode.UNAVAILABLE, "down")
        return (tenant, user_id) in self.members

    async def settings(self, tenant: str) -> TenantSettings:
        self.lookups += 1
        return self.stored.get(tenant, TenantSettings())

    async def update_settings(self, tenant: str, values: dict[str, Any]) -> TenantSettings:
        merged = TenantSettings.model_validate(
            {**self.stored.get(tenant, TenantSettings()).model_dump(), **values}
        )
        self.stored[tenant] = merged
        return merged


class FakeLog:
    def __init__(self) -> None:
        self.entries: list[LoggedMessage] = []
        self.keys: dict[str, int] = {}

    async def append(self, subject: str, message: LoggedMessage, dedup_key: str | None) -> Appended:
        if dedup_key and dedup_key in self.keys:
            return Appended(seq=self.keys[dedup_key], duplicate=True)
        self.entries.append(message)
        seq = len(self.entries)
        if dedup_key:
            self.keys[dedup_key] = seq
        return Appended(seq=seq, duplicate=False)

    async def read(self, seq: int) -> LoggedMessage:
        return self.entries[seq - 1]


def build() -> tuple[RoomsService, FakeDirectory, FakeLog, list[tuple[str, dict[str, str], bytes]]]:
    directory, log = FakeDirectory(), FakeLog()
    published: list[tuple[str, dict[str, str], bytes]] = []

    async def publish(subject: str, body: bytes, headers: dict[str, str]) -> None:
        published.append((subject, headers, body))

    service = RoomsService(directory, log, publish, log_epoch=7, member_cache_size=10)
    return service, directory, log, published


def cmd(client_id: str | None = None, role: str = "member") -> ChatSend:
    return ChatSend(
        sender=Identity(tenant="acme", user_id="ann", role=role),
        tenant="acme",
        to="bob",
        body="hi",
        sid="s1",
        client_id=client_id,
    )


async def test_non_member_recipient_is_forbidden_and_nothing_is_logged() -> None:
    service, _, log, published = build()
    with pytest.raises(ServiceError) as err:
        await service.send_dm(cmd())
    assert err.value.code is ErrorCode.FORBIDDEN
    assert log.entries == [] and published == []


async def test_delivered_copies_carry_room_and_seq() -> None:
    service, directory, _, published = build()
    directory.members.add(("acme", "bob"))
    ack = await service.send_dm(cmd())
    assert ack.ok and ack.id and ack.ts
    rooms = [orjson.loads(body)["room"] for _, _, body in published]
    assert rooms == ["user:bob", "user:ann"]
    assert {orjson.loads(body)["seq"] for _, _, body in published} == {1}
    second = delivery.decode(published[1][1], published[1][2])
    assert second.skip_sid == "s1" and second.skip_subjects == (published[0][0],)


async def test_repeated_client_id_returns_the_same_id_and_is_not_redelivered() -> None:
    service, directory, log, published = build()
    directory.members.add(("acme", "bob"))
    first = await service.send_dm(cmd("c1"))
    count = len(published)
    again = await service.send_dm(cmd("c1"))
    assert (again.id, again.ts) == (first.id, first.ts)
    assert len(published) == count and len(log.entries) == 1


async def test_supervision_follows_settings_changes() -> None:
    service, directory, _, published = build()
    directory.members.add(("acme", "bob"))
    await service.set_tenant_settings("acme", {"supervise_dms": True})
    await service.send_dm(cmd())
    assert len(published) == 3
    await service.send_dm(cmd(role="admin"))
    assert len(published) == 5


async def test_settings_are_cached_until_forgotten() -> None:
    service, directory, _, _ = build()
    await service.tenant_settings("acme")
    await service.tenant_settings("acme")
    assert directory.lookups == 1
    directory.stored["acme"] = TenantSettings(supervise_dms=True)
    service.forget_settings("acme")
    assert (await service.tenant_settings("acme")).supervise_dms is True


async def test_unknown_setting_is_invalid() -> None:
    service, _, _, _ = build()
    with pytest.raises(ServiceError) as err:
        await service.set_tenant_settings("acme", {"nope": 1})
    assert err.value.code is ErrorCode.INVALID


async def test_directory_outage_is_unavailable_but_cached_members_still_work() -> None:
    service, directory, _, _ = build()
    directory.members.add(("acme", "bob"))
    await service.send_dm(cmd())
    directory.down = True
    assert (await service.send_dm(cmd())).ok
    with pytest.raises(ServiceError) as err:
        await service.is_member("acme", "carol")
    assert err.value.code is ErrorCode.UNAVAILABLE


async def test_a_user_known_from_a_membership_is_messaged_and_still_registered_on_connect() -> None:
    service, directory, _, _ = build()
    assert await service.is_member("acme", "bob") is False  # not cached: asked again
    directory.members.add(("acme", "bob"))  # added to a room: known, never connected
    assert (await service.send_dm(cmd())).ok
    bob = Identity(tenant="acme", user_id="bob", role="admin", name="Bob")
    await service.register(bob)
    await service.register(bob)
    assert directory.registered == [bob]
