"""What the rooms service's use cases need from the outside world.

Adapters (`adapters/`) implement these against PostgreSQL and JetStream; unit tests
pass fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from contracts.entities import AnyEntityEvent
from contracts.explicit_rooms import (
    EntityLink,
    MemberRole,
    MemberView,
    RoomStatus,
    RoomView,
    Visibility,
)
from contracts.identity import Identity
from contracts.messages import LeftReason, LoggedMessage, LoggedRoomMessage
from contracts.tenants import TenantSettings
from services.rooms.domain.entity_state import Decision, EntityState, MemberState

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
"""Sends one delivery to NATS: subject, body, headers."""


@dataclass(frozen=True, slots=True)
class Appended:
    """Where a message landed in the log."""

    seq: int
    duplicate: bool


class Directory(Protocol):
    """Where tenant members and settings live (PostgreSQL in production).

    Every method raises `ServiceError(UNAVAILABLE)` when the store cannot be reached.
    """

    async def register(self, who: Identity) -> None:
        """Record that `who` is a member of their tenant (idempotent)."""
        ...

    async def is_member(self, tenant: str, user_id: str) -> bool:
        """Whether `user_id` is known to `tenant`: has connected, or was made a member of
        one of its rooms or entities."""
        ...

    async def settings(self, tenant: str) -> TenantSettings:
        """The settings in force for `tenant` (the defaults when none are stored)."""
        ...

    async def update_settings(self, tenant: str, values: dict[str, Any]) -> TenantSettings:
        """Merge `values` into the stored settings and return what is now in force."""
        ...


class Log(Protocol):
    """The message log (a JetStream stream): the durability point of every message."""

    async def append(self, subject: str, message: LoggedMessage, dedup_key: str | None) -> Appended:
        """Store `message`; returns once the log has it.

        Raises:
            ServiceError: `UNAVAILABLE` when the log does not confirm the write.
        """
        ...

    async def read(self, seq: int) -> LoggedMessage:
        """The message stored at `seq`."""
        ...


class RoomLog(Protocol):
    """The message log as room messages use it (the same stream as direct messages)."""

    async def append(self, subject: str, message: BaseModel, dedup_key: str | None) -> Appended:
        """Store `message`; returns once the log has it.

        Raises:
            ServiceError: `UNAVAILABLE` when the log does not confirm the write.
        """
        ...

    async def read_room(self, seq: int) -> LoggedRoomMessage:
        """The room message stored at `seq`."""
        ...


@dataclass(frozen=True, slots=True)
class NewRoom:
    """A room to create, checked and with its slug decided."""

    slug: str
    name: str
    description: str | None
    visibility: Visibility
    created_by: str
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RoomAccess:
    """What deciding access to a room needs, read in one statement (`RoomStore.access`)."""

    id: int
    room: str
    """The canonical name: `{entityType}:{entityId}` of the primary link, else `room:{slug}`."""
    status: RoomStatus
    visibility: Visibility
    role: MemberRole | None
    """The asking user's role in the room, None when not a member."""


@dataclass(frozen=True, slots=True)
class RoomQuery:
    """Which rooms of a tenant `RoomStore.list_rooms` returns, in id order."""

    status: RoomStatus | None
    visibility: Visibility | None
    q: str | None
    viewer: str | None
    """Only rooms this user is a member of, or public ones; None: every room."""
    joined: bool
    """With `viewer`: only rooms the viewer is a member of."""
    after: int | None
    limit: int


class RoomStore(Protocol):
    """Explicit rooms, their settings, members and entity links (PostgreSQL).

    Every method is scoped to one tenant: a room of another tenant does not exist.
    Deleted rooms are returned by `find_room` (the caller decides) but never listed.
    Every method raises `ServiceError(UNAVAILABLE)` when the store cannot be reached.
    """

    async def create_room(self, tenant: str, room: NewRoom, admin: str | None) -> RoomView:
        """Store a room, its settings and, if given, `admin` as its admin member (and a
        known member of the tenant, as `put_member`).

        Raises:
            ServiceError: `CONFLICT` ("slug already taken") for a duplicate slug.
        """
        ...

    async def find_room(
        self, tenant: str, *, room_id: int | None = None, slug: str | None = None
    ) -> RoomView | None:
        """The room with this id or slug, or None."""
        ...

    async def find_primary(self, tenant: str, entity_type: str, entity_id: str) -> RoomView | None:
        """The primary room of an entity, or None."""
        ...

    async def access(self, tenant: str, kind: str, key: str, user_id: str) -> RoomAccess | None:
        """The room `{kind}:{key}` (a slug for kind `room`, else the primary room of
        that entity) with `user_id`'s role in it, in one read; None if there is none.

        The hot path of `room:send` and `room:join`: one statement, no transaction.
        """
        ...

    async def list_rooms(self, tenant: str, query: RoomQuery) -> list[RoomView]:
        """Up to `query.limit` rooms after `query.after`, by id; never deleted ones."""
        ...

    async def update_room(
        self, tenant: str, room_id: int, changes: dict[str, Any], settings: dict[str, Any] | None
    ) -> RoomView:
        """Apply column `changes`, merge `settings` (a None value removes a key)."""
        ...

    async def member_role(self, tenant: str, room_id: int, user_id: str) -> MemberRole | None:
        """The user's role in the room, or None."""
        ...

    async def list_members(
        self, tenant: str, room_id: int, after: str | None, limit: int
    ) -> list[MemberView]:
        """Up to `limit` members after user id `after`, by user id."""
        ...

    async def put_member(
        self, tenant: str, room_id: int, user_id: str, role: MemberRole, *, replace: bool
    ) -> MemberView:
        """Add a membership; with `replace` an existing one takes `role`, else it stays.

        The user becomes a known member of the tenant in the same transaction (the
        tenant directory), so direct messages to them are accepted from then on.
        """
        ...

    async def remove_member(self, tenant: str, room_id: int, user_id: str) -> bool:
        """End a membership; False when there was none."""
        ...

    async def link(
        self, tenant: str, room_id: int, entity_type: str, entity_id: str, primary: bool
    ) -> EntityLink:
        """Link a room to an entity (idempotent for the same pair).

        Raises:
            ServiceError: `CONFLICT` when the entity already has another primary room.
        """
        ...

    async def unlink(self, tenant: str, link_id: int) -> bool:
        """Remove a link; False when there was none."""
        ...

    async def entity_rooms(self, tenant: str, entity_type: str, entity_id: str) -> list[RoomView]:
        """Rooms linked to an entity, primary first, then by id; never deleted ones."""
        ...


class Revocations(Protocol):
    """Tells every gateway to take sockets out of an explicit room (`room:left`).

    It returns once the NATS server has the revocation, so that any message routed
    after the command that caused it returns is routed after it, and never reaches a
    socket the revocation removes.
    """

    async def room_left(
        self,
        tenant: str,
        room: str,
        reason: LeftReason,
        users: list[tuple[str, str]],
        keep: list[tuple[str, str]] | None = None,
    ) -> None:
        """Take the sockets of `users` (`(tenant, userId)`), or every socket when the
        list is empty except those of `keep`, out of `room`, with `room:left {room,
        reason}`."""
        ...


Decide = Callable[[EntityState, dict[str, MemberState]], Decision]
"""The pure rule applied to an entity's registers and the memberships an event touches."""


class EntityStore(Protocol):
    """Registers of entities (`domain/entity_state.py`) and the primary rooms they drive."""

    async def apply(
        self, event: AnyEntityEvent, users: list[str], decide: Decide
    ) -> tuple[Decision, RoomView | None]:
        """Apply one event atomically, with the entity locked against concurrent events.

        Reads the entity's registers and the memberships of `users`, calls `decide`,
        stores what it returns, records present members in the tenant directory, and
        brings the entity's primary room in line (creating it when the first `created`
        is applied). Returns the decision and the primary room (None when there is none).

        Raises:
            ServiceError: `UNAVAILABLE` when the store cannot be reached.
        """
        ...


class Delivery(Protocol):
    """One JetStream message handed to a consumer, with what it needs to settle it."""

    @property
    def subject(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def seq(self) -> int:
        """Its sequence in the stream."""
        ...

    @property
    def deliveries(self) -> int:
        """How many times it was delivered, this time included."""
        ...

    async def ack(self) -> None: ...

    async def nak(self, delay: float) -> None:
        """Ask for a redelivery after `delay` seconds."""
        ...


class DeadLetters(Protocol):
    """Where a consumer keeps what it gave up on (stream `ROOMCAST_DLQ`)."""

    async def send(self, delivery: Delivery, reason: str) -> None:
        """Store `delivery`'s body with `reason`; returns once the stream has it."""
        ...
