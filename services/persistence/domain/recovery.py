"""Which log messages a reconnecting socket missed, per room. Pure logic.

Which rooms may be recovered is decided in `contracts/access.py`: a user's own
`user:{userId}` room (every direct message they sent or received) and, for an admin,
their tenant's `tenant:{t}:admins` room (supervised direct messages). Each has log
filter subjects and a predicate on the decoded message (was it routed to this room,
by the same rule the rooms service routes with), because a filter subject alone
cannot tell a super_admin's message from a tenant member with the same id.

An explicit room (`room:{slug}`, `{entityType}:{entityId}`) is read under its canonical
name, the one the rooms service answered; who may read it is the rooms service's
decision, asked by the service layer after the read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from contracts import subjects
from contracts.access import dm_reaches, recoverable_room
from contracts.identity import Identity
from contracts.ids import message_id
from contracts.messages import ChatMessage, LoggedMessage, LoggedRoomMessage, RoomMessage
from contracts.recovery import RecoveryReason
from contracts.rooms import RoomKind

Logged = LoggedMessage | LoggedRoomMessage
"""A message as the log stores it: direct, or to an explicit room."""


@dataclass(frozen=True, slots=True)
class RoomPlan:
    """How to find one room's messages in the log."""

    room: str
    filters: tuple[str, ...]
    accept: Callable[[Logged], bool]
    sparse: bool
    """True when the filters match many messages the predicate drops (admins room)."""
    canonical: str | None = None
    """The canonical name of an explicit room, which the caller authorizes."""


def plan_room(who: Identity, room: str) -> RoomPlan | None:
    """The plan for `room`, or None when `who` may not recover it."""
    recoverable = recoverable_room(who, room)
    if recoverable is None:
        return None

    def routed_here(m: Logged) -> bool:
        if not isinstance(m, LoggedMessage):
            return False
        return dm_reaches(recoverable, m.sender, m.tenant, m.to, supervised=m.supervised)

    tenant = who.tenant
    if recoverable.kind is RoomKind.USER:
        filters = tuple(subjects.log_dm_of_user(tenant, who.user_id))
        return RoomPlan(room, filters, routed_here, sparse=False)
    return RoomPlan(room, (subjects.log_dm_of_tenant(tenant),), routed_here, sparse=True)


def plan_explicit(tenant: str, room: str, canonical: str) -> RoomPlan:
    """The plan for explicit room `canonical` of `tenant`, asked for as `room`.

    Whether the requester may read it is not decided here: the caller asks the rooms
    service for `canonical` once the log has been read.
    """

    def in_room(m: Logged) -> bool:
        return isinstance(m, LoggedRoomMessage) and m.tenant == tenant and m.room == canonical

    filters = (subjects.log_room(tenant, canonical),)
    return RoomPlan(room, filters, in_room, sparse=False, canonical=canonical)


def position_problem(after: int, first_seq: int, last_seq: int) -> RecoveryReason | None:
    """Whether the log still holds everything after `after`.

    `too_old` when messages after the client's position have aged out of the log
    (`first_seq` is past `after + 1`), or when the position is beyond the log's end
    (the client's `seq` comes from a log that no longer exists).
    """
    if after + 1 < first_seq or after > last_seq:
        return RecoveryReason.TOO_OLD
    return None


@dataclass(frozen=True, slots=True)
class Found:
    """A log message selected for a room."""

    seq: int
    room: str
    message: Logged


def merge(found: Iterable[Found]) -> list[Found]:
    """One copy per message, in log order; the earliest requested room wins.

    A socket in several rooms receives one copy of a message live (the gateway skips
    rooms an earlier copy served), so replay does the same.
    """
    first: dict[int, Found] = {}
    for item in found:
        first.setdefault(item.seq, item)
    return [first[seq] for seq in sorted(first)]


def replayed(item: Found, epoch: int) -> ChatMessage | RoomMessage:
    """The payload of a replayed message: `chat:message` with the room it was recovered
    through, or `room:message` (which names the room's canonical name)."""
    m = item.message
    mid = message_id(epoch, item.seq)
    if isinstance(m, LoggedRoomMessage):
        return RoomMessage(
            id=mid,
            tenant=m.tenant,
            room=m.room,
            from_=m.sender.user_id,
            body=m.body,
            ts=m.ts,
            seq=item.seq,
        )
    return ChatMessage(
        id=mid,
        tenant=m.tenant,
        from_=m.sender.user_id,
        to=m.to,
        body=m.body,
        ts=m.ts,
        room=item.room,
        seq=item.seq,
    )
