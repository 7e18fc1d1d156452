"""Recovery of missed messages after a reconnect (docs/protocol.md, "Recovery").

A client reconnects with `auth: {token, since: {<room>: <last seq>}}`. The gateway
holds live deliveries for that socket, re-subscribes it to the explicit rooms it names
and may still join (asking the rooms service, which owns room access), asks the
persistence service
(`cmd.persistence.recover`, queue group `persistence`) for what the socket missed, and
the service reads it from the JetStream message log, not from PostgreSQL, so nothing
is missing because of persistence lag. The answer comes as one or more `RecoverChunk`
messages on the request's reply subject (a recovery may exceed one NATS message); the
last has `done` set and the per-room outcomes. Explicit rooms are authorized by the
rooms service twice: by the gateway before it subscribes the socket, and by the
persistence service after it has read the log, so a membership that ended before the
read replays nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field

from contracts.errors import ErrorBody, ErrorCode, Reply
from contracts.identity import MAX_ROOM_ID, Identity
from contracts.messages import ChatMessage, RoomMessage

MAX_ROOMS = 16
"""Rooms one reconnect may ask to recover, automatic and explicit together; more are
answered `unknown_room`."""


class RecoveryReason(StrEnum):
    """Why a room was not recovered (`session:recovered` → `rooms[].reason`)."""

    TOO_OLD = "too_old"
    """The log no longer holds every message after the client's `seq`."""
    TOO_MANY = "too_many"
    """More missed messages than the configured cap."""
    UNKNOWN_ROOM = "unknown_room"
    """Not a room this socket is in, or not one that can be recovered."""
    FORBIDDEN = "forbidden"
    """An explicit room the user may no longer join (membership ended, private room)."""
    NOT_FOUND = "not_found"
    """An explicit room that does not exist (any more) or that the user may not see."""
    UNAVAILABLE = "unavailable"
    """The message log, the persistence or the rooms service did not answer in time."""


def refusal_reason(code: ErrorCode) -> RecoveryReason:
    """The outcome of an explicit room whose authorization was refused with `code`."""
    if code is ErrorCode.FORBIDDEN:
        return RecoveryReason.FORBIDDEN
    if code is ErrorCode.NOT_FOUND:
        return RecoveryReason.NOT_FOUND
    if code is ErrorCode.INVALID:
        return RecoveryReason.UNKNOWN_ROOM
    return RecoveryReason.UNAVAILABLE


class RecoverRoom(BaseModel):
    """One room to recover: its name and the last `seq` the client saw in it."""

    room: str = Field(
        max_length=600, description="Room name as the client sent it, e.g. `user:bob`."
    )
    after: int = Field(ge=0, description="Last `seq` the client saw; replay starts after it.")
    canonical: str | None = Field(
        default=None,
        max_length=MAX_ROOM_ID * 2 + 1,
        description="Explicit rooms only: the room's canonical name, as the rooms service "
        "answered the gateway's authorization. The log is read under it; the persistence "
        "service authorizes it again after the read.",
    )


class RecoverRequest(BaseModel):
    """Gateway → persistence: rooms a reconnecting socket asks to recover."""

    identity: Identity = Field(description="The reconnecting user.")
    rooms: list[RecoverRoom] = Field(
        max_length=MAX_ROOMS,
        description="Automatic rooms the socket is in, and explicit rooms the gateway "
        "subscribed it to (with `canonical`).",
    )


class RoomOutcome(BaseModel):
    """One entry of `session:recovered.rooms`."""

    room: str = Field(description="Room name as the client sent it.")
    recovered: bool = Field(description="True when every missed message was replayed.")
    replayed: int = Field(default=0, description="Messages replayed for this room.")
    reason: RecoveryReason | None = Field(default=None, description="Set when not recovered.")


class RecoverChunk(Reply):
    """Persistence → gateway, on the request's reply subject; the last has `done`."""

    messages: list[ChatMessage] = Field(
        default_factory=list,
        description="Missed direct messages (`chat:message`), in log order, each with room/seq.",
    )
    room_messages: list[RoomMessage] = Field(
        default_factory=list,
        description="Missed messages of explicit rooms (`room:message`), in log order; "
        "merged with `messages` by `seq`, which orders the whole log.",
    )
    ok: bool = Field(default=True, description="False when recovery failed (`error` says why).")
    done: bool = Field(default=False, description="True on the last chunk.")
    rooms: list[RoomOutcome] = Field(
        default_factory=list, description="Outcome per requested room (last chunk only)."
    )

    @classmethod
    def failure(cls, code: ErrorCode, message: str) -> Self:
        """A failed recovery: one last chunk with the error."""
        return cls(ok=False, done=True, error=ErrorBody(code=code, message=message[:500]))
