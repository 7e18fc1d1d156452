"""Which log messages a reconnecting socket missed, per room. Pure logic.

Which rooms may be recovered is decided in `contracts/access.py`: a user's own
`user:{userId}` room (every direct message they sent or received) and, for an admin,
their tenant's `tenant:{t}:admins` room (supervised direct messages). Each has log
filter subjects and a predicate on the decoded message (was it routed to this room,
by the same rule the rooms service routes with), because a filter subject alone
cannot tell a super_admin's message from a tenant member with the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from contracts import subjects
from contracts.access import dm_reaches, recoverable_room
from contracts.identity import Identity
from contracts.ids import message_id
from contracts.messages import ChatMessage, LoggedMessage
from contracts.recovery import RecoveryReason
from contracts.rooms import RoomKind


@dataclass(frozen=True, slots=True)
class RoomPlan:
    """How to find one room's messages in the log."""

    room: str
    filters: tuple[str, ...]
    accept: Callable[[LoggedMessage], bool]
    sparse: bool
    """True when the filters match many messages the predicate drops (admins room)."""


def plan_room(who: Identity, room: str) -> RoomPlan | None:
    """The plan for `room`, or None when `who` may not recover it."""
    recoverable = recoverable_room(who, room)
    if recoverable is None:
        return None

    def routed_here(m: LoggedMessage) -> bool:
        return dm_reaches(recoverable, m.sender, m.tenant, m.to, supervised=m.supervised)

    tenant = who.tenant
    if recoverable.kind is RoomKind.USER:
        filters = tuple(subjects.log_dm_of_user(tenant, who.user_id))
        return RoomPlan(room, filters, routed_here, sparse=False)
    return RoomPlan(room, (subjects.log_dm_of_tenant(tenant),), routed_here, sparse=True)


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
    message: LoggedMessage


def merge(found: Iterable[Found]) -> list[Found]:
    """One copy per message, in log order; the earliest requested room wins.

    A socket in several rooms receives one copy of a message live (the gateway skips
    rooms an earlier copy served), so replay does the same.
    """
    first: dict[int, Found] = {}
    for item in found:
        first.setdefault(item.seq, item)
    return [first[seq] for seq in sorted(first)]


def chat_message(item: Found, epoch: int) -> ChatMessage:
    """The `chat:message` payload of a replayed message, with its room and seq."""
    m = item.message
    return ChatMessage(
        id=message_id(epoch, item.seq),
        tenant=m.tenant,
        from_=m.sender.user_id,
        to=m.to,
        body=m.body,
        ts=m.ts,
        room=item.room,
        seq=item.seq,
    )
