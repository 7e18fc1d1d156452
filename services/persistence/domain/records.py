"""From a message of the JetStream log to a row of `messages`. Pure logic.

Direct messages (`log.<tenant>.dm.…`) and messages to explicit rooms
(`log.<tenant>.room.<room>`, keyed `room_key(room)`, with `room` set and no recipient)
become rows.

A log message that cannot become a row (not JSON, not the contract, an unknown kind,
text PostgreSQL cannot hold) is `Invalid`: retrying cannot fix it, so it goes to the
dead-letter stream at once with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from contracts import subjects
from contracts.ids import message_id
from contracts.messages import LoggedMessage, LoggedRoomMessage
from services.persistence.domain.conversations import dm_key, participant, room_key

COLUMNS = (
    "id",
    "tenant_id",
    "seq",
    "conversation",
    "sender_tenant",
    "sender_id",
    "sender_role",
    "sender_name",
    "recipient_id",
    "room",
    "body",
    "ts",
    "client_id",
    "supervised",
)
"""Columns of `messages` a row fills, in `Row` order."""

INT64_MAX = 2**63 - 1

Row = tuple[
    str,
    str,
    int,
    str,
    str,
    str,
    str,
    str | None,
    str | None,
    str | None,
    str,
    int,
    str | None,
    bool,
]
"""One `messages` row, values in `COLUMNS` order."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a log message can never be stored."""

    reason: str


def to_row(subject: str, data: bytes, seq: int, epoch: int) -> Row | Invalid:
    """The row for log message `seq` (stream created at `epoch`), or why there is none."""
    kind = subjects.log_kind(subject)
    if kind == "room":
        return _room_row(data, seq, epoch)
    if kind != "dm":
        return Invalid(f"unsupported log subject {subject[:200]!r}")
    try:
        msg = LoggedMessage.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return Invalid(f"not a LoggedMessage ({where}: {first['msg']})")
    if _has_nul(msg):
        return Invalid("contains a NUL character, which PostgreSQL text cannot hold")
    if not 0 <= msg.ts <= INT64_MAX:
        return Invalid(f"ts {msg.ts} is outside PostgreSQL's bigint range")
    sender = msg.sender
    conversation = dm_key(
        participant(sender.tenant, sender.user_id), participant(msg.tenant, msg.to)
    )
    return (
        message_id(epoch, seq),
        msg.tenant,
        seq,
        conversation,
        sender.tenant,
        sender.user_id,
        sender.role,
        sender.name,
        msg.to,
        None,
        msg.body,
        msg.ts,
        msg.client_id,
        msg.supervised,
    )


def _room_row(data: bytes, seq: int, epoch: int) -> Row | Invalid:
    """The row of a message to an explicit room: keyed by the room, no recipient."""
    try:
        msg = LoggedRoomMessage.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return Invalid(f"not a LoggedRoomMessage ({where}: {first['msg']})")
    texts = (msg.body, msg.tenant, msg.room, msg.client_id or "", msg.sender.name or "")
    if any("\x00" in text for text in texts):
        return Invalid("contains a NUL character, which PostgreSQL text cannot hold")
    if not 0 <= msg.ts <= INT64_MAX:
        return Invalid(f"ts {msg.ts} is outside PostgreSQL's bigint range")
    sender = msg.sender
    return (
        message_id(epoch, seq),
        msg.tenant,
        seq,
        room_key(msg.room),
        sender.tenant,
        sender.user_id,
        sender.role,
        sender.name,
        None,
        msg.room,
        msg.body,
        msg.ts,
        msg.client_id,
        False,
    )


def _has_nul(msg: LoggedMessage) -> bool:
    return (
        "\x00" in msg.body
        or "\x00" in msg.tenant
        or "\x00" in msg.to
        or "\x00" in (msg.client_id or "")
        or "\x00" in (msg.sender.name or "")
    )
