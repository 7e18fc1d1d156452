"""Presence changes and what sockets receive for them. Pure logic, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contracts import delivery
from contracts.presence import (
    OFFLINE_EVENT,
    ONLINE_EVENT,
    OfflineReason,
    OnlineUser,
    PresenceChange,
)
from contracts.rooms import Room


@dataclass(frozen=True, slots=True)
class Change:
    """A user came online (`reason` None) or went offline (with the reason)."""

    tenant: str
    user_id: str
    reason: OfflineReason | None = None

    @property
    def online(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One NATS publication: subject, delivery headers and body."""

    subject: str
    headers: dict[str, str]
    body: bytes


def parse_changes(flat: Sequence[bytes | str]) -> list[Change]:
    """Read the scripts' flat `kind, tenant, user, reason, ...` list."""
    items = [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    if len(items) % 4:
        raise ValueError("a presence change has four fields")
    changes = []
    for i in range(0, len(items), 4):
        kind, tenant, user_id, reason = items[i : i + 4]
        if kind == "online":
            changes.append(Change(tenant, user_id))
        elif kind == "offline":
            changes.append(Change(tenant, user_id, OfflineReason(reason)))
        else:
            raise ValueError(f"unknown presence change {kind!r}")
    return changes


def outgoing(changes: Iterable[Change], ts: int) -> list[Outgoing]:
    """The deliveries announcing `changes` to each tenant's room (and its watchers)."""
    out = []
    for change in changes:
        event = PresenceChange(
            user_id=change.user_id, tenant=change.tenant, ts=ts, reason=change.reason
        )
        data = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        headers, body = delivery.encode(ONLINE_EVENT if change.online else OFFLINE_EVENT, data)
        out.append(Outgoing(Room.tenant(change.tenant).subject, headers, body))
    return out


def parse_online(entries: Mapping[bytes | str, bytes | str]) -> list[OnlineUser]:
    """Read a tenant's online hash (`user → "since|name"`), sorted by user id."""
    users = []
    for raw_user, raw_value in entries.items():
        user_id = raw_user.decode() if isinstance(raw_user, bytes) else raw_user
        value = raw_value.decode() if isinstance(raw_value, bytes) else raw_value
        since, _, name = value.partition("|")
        users.append(OnlineUser(user_id=user_id, name=name or None, since=int(since)))
    users.sort(key=lambda u: u.user_id)
    return users
