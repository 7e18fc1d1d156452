"""What the notification use cases need: a store (PostgreSQL) and a way to reach sockets.

`adapters` implement these (`sql.py`, `deliveries.py`); unit tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.identity import Identity
from contracts.inbox import ListFilter, MarkAction, Notification

Key = tuple[str, str]
"""`(tenant_id, audience)` (see `audience.py`)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """A user looking at their inbox: whose state rows, and which keys they see."""

    tenant: str
    user_id: str
    keys: Sequence[Key]


@dataclass(frozen=True, slots=True)
class NewNotification:
    """A notification to store under `key`."""

    key: Key
    event: str
    title: str | None
    body: str | None
    data: Mapping[str, Any]
    priority: str
    ts: int
    expires_at: int | None
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store says about an insert: the id and ts, and whether it was new."""

    id: str
    ts: int
    created: bool


class NotFound(Exception):
    """Ids the viewer does not see (unknown, another audience's, or expired)."""

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__(", ".join(ids))
        self.ids = list(ids)


class NotificationStore(Protocol):
    """Notifications, read states and read-all cursors (PostgreSQL)."""

    async def insert(self, row: NewNotification) -> Stored:
        """Store `row` once; a repeated idempotency key of the tenant returns the first."""
        ...

    async def page(
        self, viewer: Viewer, status: ListFilter, before: str | None, limit: int, now: int
    ) -> list[Notification]:
        """The viewer's notifications matching `status`, ids below `before`, newest first."""
        ...

    async def unread(self, viewer: Viewer, now: int) -> int:
        """The viewer's unread count, from the stored rows."""
        ...

    async def mark(self, viewer: Viewer, action: MarkAction, ids: Sequence[str], now: int) -> None:
        """Mark `ids` read or dismissed, all or none.

        Raises:
            NotFound: some ids are not the viewer's to see; nothing changed.
        """
        ...

    async def read_all(self, viewer: Viewer) -> None:
        """Mark every notification the viewer sees now read."""
        ...

    async def has_room_notifications(self, tenant: str, now: int) -> bool:
        """Whether a live notification to an explicit room of `tenant` is stored."""
        ...


@dataclass(frozen=True, slots=True)
class RoomRef:
    """An explicit room: its numeric id (stable) and canonical name (its delivery room)."""

    id: int
    name: str


class RoomDirectory(Protocol):
    """The rooms service's answers about explicit rooms."""

    async def resolve(self, tenant: str, name: str) -> RoomRef:
        """The room `name` (any of its names) of `tenant`.

        Raises:
            ServiceError: `NOT_FOUND` when there is no such room; `UNAVAILABLE`.
        """
        ...

    async def readable(self, who: Identity) -> list[int]:
        """Ids of the rooms of `who`'s tenant that `who` may read (at most a bound).

        Raises:
            ServiceError: `UNAVAILABLE` when the rooms service does not answer.
        """
        ...


class Deliveries(Protocol):
    """Sends a delivery (`contracts.delivery`) to the sockets of a delivery subject."""

    async def send(self, subject: str, event: str, data: Mapping[str, Any]) -> None: ...
