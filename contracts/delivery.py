"""Delivery messages: what gateways hand to sockets (`deliver.…` subjects).

The NATS message body is the event payload exactly as clients receive it (JSON), so a
gateway can frame it for Socket.IO without decoding it. Routing metadata travels in
headers:

- `Rc-Event`: the Socket.IO event name, e.g. `chat:message`.
- `Rc-Skip-Sid`: a socket not to deliver to (the sender's socket, which has the ack).
- `Rc-Skip`: comma-separated delivery subjects served by an earlier copy of the same
  message; sockets in any of them are skipped, so a socket in several target rooms
  gets one copy.

Any backend may publish a delivery with `encode`; gateways read it with `decode`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

EVENT = "Rc-Event"
SKIP_SID = "Rc-Skip-Sid"
SKIP_SUBJECTS = "Rc-Skip"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A decoded delivery."""

    event: str
    body: bytes
    skip_sid: str | None = None
    skip_subjects: tuple[str, ...] = field(default=())


def encode(
    event: str,
    data: Mapping[str, Any],
    *,
    skip_sid: str | None = None,
    skip_subjects: Sequence[str] = (),
) -> tuple[dict[str, str], bytes]:
    """Build the headers and body of a delivery.

    Args:
        event: Socket.IO event name.
        data: the event payload, JSON-serialisable.
        skip_sid: a socket that must not receive this copy.
        skip_subjects: delivery subjects an earlier copy of this message went to.

    Returns:
        `(headers, body)` for `nats.publish(subject, body, headers=headers)`.
    """
    headers = {EVENT: event}
    if skip_sid:
        headers[SKIP_SID] = skip_sid
    if skip_subjects:
        headers[SKIP_SUBJECTS] = ",".join(skip_subjects)
    return headers, orjson.dumps(data)


def decode(headers: Mapping[str, str] | None, body: bytes) -> Delivery:
    """Read a delivery; raises `ValueError` when the event header is missing."""
    if not headers or not headers.get(EVENT):
        raise ValueError("delivery without an Rc-Event header")
    skip = headers.get(SKIP_SUBJECTS)
    return Delivery(
        event=headers[EVENT],
        body=body,
        skip_sid=headers.get(SKIP_SID) or None,
        skip_subjects=tuple(skip.split(",")) if skip else (),
    )
