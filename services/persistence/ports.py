"""What the persistence service's use cases need from the outside world.

Adapters (`adapters/`) implement these against PostgreSQL and JetStream; unit tests
pass fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from contracts.history import StoredMessage
from contracts.identity import Identity
from services.persistence.domain.conversations import Target
from services.persistence.domain.records import Row

AuthorizeRoom = Callable[[Identity, str, str], Awaitable[str]]
"""Asks the rooms service whether an identity may read an explicit room of a tenant:
`(who, tenant, room name)` → the room's canonical name.

Raises:
    ServiceError: `NOT_FOUND`/`FORBIDDEN` as the rooms service refuses, `UNAVAILABLE`
        when it does not answer.
"""


class StoreUnavailable(Exception):
    """The store could not be reached; retrying later may succeed."""


class RowsRejected(Exception):
    """The store refused a batch because of its content."""


class TooMany(Exception):
    """More log messages match a read than its limit."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """First and last sequence the log holds (first > last when it is empty)."""

    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Raw:
    """One log message read back."""

    seq: int
    subject: str
    data: bytes


class Store(Protocol):
    """Where rows are written and history is read (PostgreSQL)."""

    async def insert(self, rows: Sequence[Row]) -> int:
        """Insert rows idempotently in one transaction; returns how many were new."""
        ...

    async def page(self, target: Target, before: str | None, limit: int) -> list[StoredMessage]:
        """One history page of `target`, newest first."""
        ...


class Delivered(Protocol):
    """One message delivered by the log's durable consumer."""

    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def seq(self) -> int: ...
    @property
    def deliveries(self) -> int: ...
    async def ack(self) -> None: ...
    async def nak(self, delay: float) -> None: ...
    async def in_progress(self) -> None: ...


class DeadLetters(Protocol):
    """Where messages that can never be stored go, with the reason."""

    async def send(self, item: Delivered, reason: str) -> None: ...


class Log(Protocol):
    """The JetStream message log, read for recovery."""

    async def bounds(self) -> Bounds: ...
    async def read(self, filters: Sequence[str], start_seq: int, limit: int) -> list[Raw]: ...
