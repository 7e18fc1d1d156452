"""Conversation keys and what a history query reads. Pure logic.

A direct conversation is keyed by its two participants, each qualified by their tenant
(a super_admin writing from `/manage` belongs to another tenant than the recipient), in
a fixed order, so both sides compute the same key and nobody else can. Who may read
what is decided in `contracts/access.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from contracts.access import authorize_read, readable_room
from contracts.errors import ErrorCode, ServiceError
from contracts.history import HistoryQuery
from contracts.identity import Identity
from contracts.rooms import RoomKind
from contracts.tokens import encode_token


@lru_cache(maxsize=100_000)
def participant(tenant: str, user_id: str) -> str:
    """One side of a conversation key: `tenant/user`, both subject-token encoded."""
    return f"{encode_token(tenant)}/{encode_token(user_id)}"


def dm_key(a: str, b: str) -> str:
    """The key of the direct conversation between participants `a` and `b`."""
    first, second = sorted((a, b))
    return f"dm:{first}|{second}"


def room_key(room: str) -> str:
    """The key of a room's conversation (room messages)."""
    return f"room:{room}"


@dataclass(frozen=True, slots=True)
class Conversation:
    """A direct conversation of the requester."""

    tenant: str
    key: str


@dataclass(frozen=True, slots=True)
class UserRoom:
    """Everything `user_id` sent or received in `tenant` (their `user:` room)."""

    tenant: str
    user_id: str


@dataclass(frozen=True, slots=True)
class AdminsRoom:
    """Supervised direct messages of `tenant` (its `tenant:{t}:admins` room)."""

    tenant: str


Target = Conversation | UserRoom | AdminsRoom


def history_target(query: HistoryQuery) -> Target:
    """What a history query reads, after checking the requester may read it.

    Raises:
        ServiceError: `FORBIDDEN` for another tenant without being a super_admin, or
            a room the requester is not part of; `INVALID` without `with` or `room`.
    """
    who = query.requester
    authorize_read(who, query.tenant)
    if query.with_user is not None:
        me = participant(who.tenant, who.user_id)
        other = participant(query.tenant, query.with_user)
        return Conversation(query.tenant, dm_key(me, other))
    if query.room is None:
        raise ServiceError(ErrorCode.INVALID, "give `with` or `room`")
    return room_target(who, query.tenant, query.room)


def room_target(who: Identity, tenant: str, room: str) -> UserRoom | AdminsRoom:
    """The stored messages behind a room name, if `who` may read them in `tenant`.

    Raises:
        ServiceError: `FORBIDDEN` when `who` is not part of the room.
    """
    readable = readable_room(who, tenant, room)
    if readable is None:
        raise ServiceError(ErrorCode.FORBIDDEN, "you are not a participant of this room")
    if readable.kind is RoomKind.USER:
        return UserRoom(tenant, who.user_id)
    return AdminsRoom(tenant)
