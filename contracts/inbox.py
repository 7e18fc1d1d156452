"""A user's notifications: what clients see, and what gateways ask on their behalf.

The persistence service answers; the gateway attaches the verified identity, so a user
only ever reads and marks their own inbox (`cmd.notifications.list`, `mark`,
`counts`). Every model of the bus is camelCase on the wire.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, model_validator
from pydantic.alias_generators import to_camel

from contracts.errors import Reply
from contracts.identity import Identity
from contracts.notifications import Priority

MAX_IDS = 200
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
UNREAD_CAP = 1000
"""`unread` is exact below this; this value means this many or more (a badge shows
"999+"). Counting stops there, so a count costs at most this many rows per audience."""
MAX_COUNT_VIEWERS = 500
"""Most users one `CountNotifications` asks about."""

_NOTIFICATION_ID = re.compile(r"^[1-9][0-9]{0,18}$")


def _notification_id(value: Any) -> Any:
    """Ids are strings of digits; seed 002 clients send them as numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and not _NOTIFICATION_ID.match(value):
        raise ValueError("not a notification id")
    return value


NotificationId = Annotated[str, BeforeValidator(_notification_id)]
"""A notification id: a decimal string (`"123"`; the number `123` is accepted)."""


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


# what clients see -----------------------------------------------------------------


class Status(StrEnum):
    """A user's state of one notification."""

    UNREAD = "unread"
    READ = "read"
    DISMISSED = "dismissed"


class Notification(_Wire):
    """`notification:new`, and each item of a `notification:list` page."""

    id: str = Field(description="Notification id; later notifications have larger ids.")
    event: str = Field(description="What kind of notification.")
    title: str | None = Field(default=None, description="Short title, if any.")
    body: str | None = Field(default=None, description="Text, if any.")
    data: dict[str, JsonValue] = Field(description="The publisher's JSON object.")
    priority: Priority = Field(description="`low`, `normal`, `high` or `urgent`.")
    ts: int = Field(description="Milliseconds since the epoch it was stored.")
    status: Status = Field(description="This user's state: `unread`, `read` or `dismissed`.")
    expires_at: int | None = Field(
        default=None, description="When it stops being listed (ms since the epoch), if ever."
    )


class NotificationCount(_Wire):
    """`notification:count`: the user's unread count now."""

    unread: int = Field(
        ge=0,
        le=UNREAD_CAP,
        description="Notifications neither read nor dismissed nor expired; exact below "
        f"{UNREAD_CAP}, and {UNREAD_CAP} means {UNREAD_CAP} or more.",
    )


# inbox requests (gateway → persistence) ---------------------------------------------


class ListFilter(StrEnum):
    """Which notifications a page holds (`notification:list` `status`)."""

    UNREAD = "unread"
    READ = "read"
    DISMISSED = "dismissed"
    ALL = "all"
    ACTIVE = "active"
    """Everything not dismissed: the default."""


class ListNotifications(_Wire):
    """Gateway → persistence: one page of a user's notifications, newest first."""

    viewer: Identity = Field(description="The verified user whose inbox this is.")
    status: ListFilter = Field(default=ListFilter.ACTIVE, description="Which notifications.")
    before: NotificationId | None = Field(default=None, description="Exclusive id cursor.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")


class NotificationPage(Reply):
    """Persistence → gateway: a page and the user's unread count."""

    notifications: list[Notification] = Field(default_factory=list, description="Newest first.")
    unread: int = Field(default=0, description="The user's unread count.")


class MarkAction(StrEnum):
    READ = "read"
    DISMISS = "dismiss"


class MarkNotifications(_Wire):
    """Gateway → persistence: mark notifications read or dismissed for one user."""

    viewer: Identity = Field(description="The verified user.")
    action: MarkAction = Field(description="`read` or `dismiss`.")
    ids: list[NotificationId] = Field(
        default_factory=list, max_length=MAX_IDS, description="Notifications to mark."
    )
    all: bool = Field(
        default=False, description="`read` only: every notification the user sees now."
    )

    @model_validator(mode="after")
    def _ids_or_all(self) -> MarkNotifications:
        if self.all == bool(self.ids):
            raise ValueError("give `ids` or `all`, not both nor neither")
        if self.all and self.action is not MarkAction.READ:
            raise ValueError("only `read` takes `all`")
        return self


class CountReply(Reply):
    """Persistence → gateway: the user's unread count after a change."""

    unread: int = Field(default=0, description="The user's unread count.")


class CountNotifications(_Wire):
    """Gateway → persistence: the unread counts of several users at once."""

    viewers: list[Identity] = Field(
        min_length=1, max_length=MAX_COUNT_VIEWERS, description="Users to count for."
    )


class CountsReply(Reply):
    """Persistence → gateway: `unread[i]` is the count of `viewers[i]`."""

    unread: list[int] = Field(default_factory=list, description="One count per viewer, in order.")


# client events ----------------------------------------------------------------------


class _ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class NotificationListIn(_ClientIn):
    """`notification:list`."""

    status: Literal["unread", "read", "dismissed", "all"] | None = Field(
        default=None, description="Filter; default: everything not dismissed."
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size 1..200.")
    before: NotificationId | None = Field(
        default=None, description="Exclusive cursor: an `id` from a previous page."
    )


class NotificationMarkIn(_ClientIn):
    """`notification:read` / `notification:dismiss`: `{id}`, `{ids}` or (`read`) `{all: true}`.

    Seed 002's `{tenantId, notificationId, userId, status}` is accepted; `tenantId` and
    `userId`, when given, must be the caller's (`FORBIDDEN` otherwise).
    """

    id: NotificationId | None = Field(default=None, description="One notification.")
    ids: list[NotificationId] | None = Field(
        default=None, min_length=1, max_length=MAX_IDS, description="Several (1..200)."
    )
    all: Literal[True] | None = Field(
        default=None, description="`notification:read` only: every notification."
    )
    notification_id: NotificationId | None = Field(
        default=None, alias="notificationId", description="Seed 002: one notification."
    )
    tenant_id: str | None = Field(
        default=None, alias="tenantId", description="Seed 002: the caller's tenant."
    )
    user_id: str | None = Field(
        default=None, alias="userId", description="Seed 002: the caller's user id."
    )
    status: str | None = Field(
        default=None, max_length=32, description="Seed 002: `READ` (or `DISMISSED`)."
    )

    @model_validator(mode="after")
    def _one_selection(self) -> NotificationMarkIn:
        given = [self.id, self.ids, self.all, self.notification_id]
        if sum(v is not None for v in given) != 1:
            raise ValueError("give exactly one of `id`, `ids`, `all` or `notificationId`")
        return self

    def selected(self) -> list[str]:
        """The ids this payload names (empty for `all`)."""
        if self.ids is not None:
            return list(dict.fromkeys(self.ids))
        one = self.id or self.notification_id
        return [one] if one else []


class NotificationListAck(BaseModel):
    """The ack of `notification:list`: a page, newest first, and the unread count."""

    ok: Literal[True] = Field(description="Always true.")
    notifications: list[Notification] = Field(description="Newest first.")
    unread: int = Field(description="The caller's unread count.")


class UnreadAck(BaseModel):
    """The ack of `notification:read`, `notification:dismiss` and `notification:count`."""

    ok: Literal[True] = Field(description="Always true.")
    unread: int = Field(description="The caller's unread count after the change.")
