"""What the notification use cases need: a store (PostgreSQL) and a way to reach sockets.

`adapters` implement these (`sql.py`, `deliveries.py`); unit tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.notifications import ListFilter, MarkAction, Notification

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


class Deliveries(Protocol):
    """Sends a delivery (`contracts.delivery`) to the sockets of a delivery subject."""

    async def send(self, subject: str, event: str, data: Mapping[str, Any]) -> None: ...
