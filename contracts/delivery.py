"""Delivery messages: what gateways hand to sockets (`deliver.…` subjects).

The NATS message body is the event payload exactly as clients receive it (JSON), so a
gateway can frame it for Socket.IO without decoding it. Routing metadata travels in
headers:

- `Rc-Event`: the Socket.IO event name, e.g. `chat:message`.
- `Rc-Skip-Sid`: a socket not to deliver to (the sender's socket, which has the ack).
- `Rc-Skip`: comma-separated delivery subjects served by an earlier copy of the same
  message; sockets in any of them are skipped, so a socket in several target rooms
  gets one copy.
- `Rc-Seq`: the message's position in the message log (its `seq`), on deliveries of
  logged messages (`chat:message`, `room:message`), so a gateway can track what it
  delivered without decoding the body (see `services/gateway/resync.py`).
- `Rc-Revoke`: the delivery ends subscriptions (`room:left`): `*` for every socket in
  the room, else a JSON array of `[tenant, userId]` pairs whose sockets leave it. Each
  such socket gets the event, then is taken out of the room on that gateway.
- `Rc-Published`: when the publisher built the delivery, in seconds since the Unix epoch
  (microseconds); gateways observe the time from it to the socket writes
  (`roomcast_gateway_delivery_latency_seconds`). Optional.
- `Rc-Keep`: with `Rc-Revoke: *`, a JSON array of `[tenant, userId]` pairs whose
  sockets stay (a room turned private keeps its members).

Any backend may publish a delivery with `encode`; gateways read it with `decode`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

EVENT = "Rc-Event"
SKIP_SID = "Rc-Skip-Sid"
SKIP_SUBJECTS = "Rc-Skip"
REVOKE = "Rc-Revoke"
SEQ = "Rc-Seq"
REVOKE_ALL = "*"
PUBLISHED = "Rc-Published"
KEEP = "Rc-Keep"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A decoded delivery."""

    event: str
    body: bytes
    skip_sid: str | None = None
    skip_subjects: tuple[str, ...] = field(default=())
    revoke_all: bool = False
    revoke_users: frozenset[tuple[str, str]] = field(default=frozenset())
    published: float | None = None
    """When the publisher built it (`Rc-Published`), if it said."""
    keep_users: frozenset[tuple[str, str]] = field(default=frozenset())
    """With `revoke_all`: the users whose sockets stay in the room."""
    seq: int | None = None
    """The logged message's `seq` (`Rc-Seq`), None for deliveries of unlogged events."""

    @property
    def revokes(self) -> bool:
        """True when this delivery takes sockets out of the room (`room:left`)."""
        return self.revoke_all or bool(self.revoke_users)


def encode(
    event: str,
    data: Mapping[str, Any],
    *,
    skip_sid: str | None = None,
    skip_subjects: Sequence[str] = (),
    revoke: Sequence[tuple[str, str]] | None = None,
    keep: Sequence[tuple[str, str]] = (),
    seq: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """Build the headers and body of a delivery.

    Args:
        event: Socket.IO event name.
        data: the event payload, JSON-serialisable.
        skip_sid: a socket that must not receive this copy.
        skip_subjects: delivery subjects an earlier copy of this message went to.
        revoke: take sockets out of the room after this event: those of these
            `(tenant, userId)` pairs, or every socket when the sequence is empty.
        keep: with an empty `revoke`, the users whose sockets stay.
        seq: the message's position in the message log, for logged messages.

    Returns:
        `(headers, body)` for `nats.publish(subject, body, headers=headers)`.
    """
    headers = {EVENT: event, PUBLISHED: f"{time.time():.6f}"}
    if skip_sid:
        headers[SKIP_SID] = skip_sid
    if skip_subjects:
        headers[SKIP_SUBJECTS] = ",".join(skip_subjects)
    if revoke is not None:
        headers[REVOKE] = orjson.dumps([list(p) for p in revoke]).decode() if revoke else "*"
        if keep and not revoke:
            headers[KEEP] = orjson.dumps([list(p) for p in keep]).decode()
    if seq is not None:
        headers[SEQ] = str(seq)
    return headers, orjson.dumps(data)


def decode(headers: Mapping[str, str] | None, body: bytes) -> Delivery:
    """Read a delivery; raises `ValueError` when the event header is missing."""
    if not headers or not headers.get(EVENT):
        raise ValueError("delivery without an Rc-Event header")
    skip = headers.get(SKIP_SUBJECTS)
    revoke = headers.get(REVOKE)
    published = headers.get(PUBLISHED)
    keep = headers.get(KEEP) if revoke == REVOKE_ALL else None
    seq = headers.get(SEQ)
    return Delivery(
        event=headers[EVENT],
        body=body,
        skip_sid=headers.get(SKIP_SID) or None,
        skip_subjects=tuple(skip.split(",")) if skip else (),
        revoke_all=revoke == REVOKE_ALL,
        revoke_users=_revoked_users(revoke) if revoke and revoke != REVOKE_ALL else frozenset(),
        published=_seconds(published) if published else None,
        keep_users=_revoked_users(keep) if keep else frozenset(),
        seq=_seq(seq) if seq else None,
    )


def _seconds(raw: str) -> float | None:
    """A `Rc-Published` value, or None when it is not a number (the delivery still goes)."""
    try:
        return float(raw)
    except ValueError:
        return None


def _seq(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("Rc-Seq is not an integer") from None


def _revoked_users(raw: str) -> frozenset[tuple[str, str]]:
    """The `[tenant, userId]` pairs of an `Rc-Revoke` or `Rc-Keep` header."""
    try:
        pairs = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("Rc-Revoke is not JSON") from None
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in pairs
    ):
        raise ValueError("Rc-Revoke is not a list of [tenant, userId] pairs")
    return frozenset((p[0], p[1]) for p in pairs)
