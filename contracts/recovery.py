"""Recovery of missed messages after a reconnect (docs/protocol.md, "Recovery").

A client reconnects with `auth: {token, since: {<room>: <last seq>}}`. The gateway
holds live deliveries for that socket, asks the persistence service
(`cmd.persistence.recover`, queue group `persistence`) for what the socket missed, and
the service reads it from the JetStream message log, not from PostgreSQL, so nothing
is missing because of persistence lag. The answer comes as one or more `RecoverChunk`
messages on the request's reply subject (a recovery may exceed one NATS message); the
last has `done` set and the per-room outcomes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field

from contracts.errors import ErrorBody, ErrorCode, Reply
from contracts.identity import Identity
from contracts.messages import ChatMessage

MAX_ROOMS = 16
"""Rooms one reconnect may ask to recover; more are answered `unknown_room`."""


class RecoveryReason(StrEnum):
    """Why a room was not recovered (`session:recovered` → `rooms[].reason`)."""

    TOO_OLD = "too_old"
    """The log no longer holds every message after the client's `seq`."""
    TOO_MANY = "too_many"
    """More missed messages than the configured cap."""
    UNKNOWN_ROOM = "unknown_room"
    """Not a room this socket is in, or not one that can be recovered."""
    UNAVAILABLE = "unavailable"
    """The message log or the persistence service did not answer in time."""


class RecoverRoom(BaseModel):
    """One room to recover: its name and the last `seq` the client saw in it."""

    room: str = Field(max_length=600, description="Room name, e.g. `user:bob`.")
    after: int = Field(ge=0, description="Last `seq` the client saw; replay starts after it.")


class RecoverRequest(BaseModel):
    """Gateway → persistence: rooms a reconnecting socket asks to recover."""

    identity: Identity = Field(description="The reconnecting user.")
    rooms: list[RecoverRoom] = Field(max_length=MAX_ROOMS, description="Entitled rooms only.")


class RoomOutcome(BaseModel):
    """One entry of `session:recovered.rooms`."""

    room: str = Field(description="Room name as the client sent it.")
    recovered: bool = Field(description="True when every missed message was replayed.")
    replayed: int = Field(default=0, description="Messages replayed for this room.")
    reason: RecoveryReason | None = Field(default=None, description="Set when not recovered.")


class RecoverChunk(Reply):
    """Persistence → gateway, on the request's reply subject; the last has `done`."""

    messages: list[ChatMessage] = Field(
        default_factory=list, description="Missed messages, in log order, each with room/seq."
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
