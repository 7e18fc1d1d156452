"""Publishing entity lifecycle events (`contracts/entities.py`) from another service.

```python
import nats
from roomcast.sdk.entities import publish_entity_event

nc = await nats.connect(url)
await publish_entity_event(nc, {"event": "created", "tenant": "acme", "type": "event",
                                "id": "42", "name": "Launch party", "createdBy": "alice"})
await publish_entity_event(nc, {"event": "member_added", "tenant": "acme", "type": "event",
                                "id": "42", "userId": "bob"})
```

An event is validated against its contract before it leaves, then published to the
JetStream stream `ROOMCAST_ENTITIES`; the call returns once the stream stored it
(its sequence), whether or not the rooms service is running: it applies stored events
when it comes back. `EntityEventRefused` says why an event was not stored: invalid,
no entity stream (the rooms service creates it on its first start), or no
acknowledgement in time (the outcome is then unknown; publishing the same event
again is harmless, events are idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError, NoStreamResponseError
from pydantic import BaseModel, ValidationError

from contracts import subjects
from contracts.entities import AnyEntityEvent, EntityEvent

PUBLISH_TIMEOUT = 5.0
"""Seconds to wait for the stream's acknowledgement."""


class EntityEventRefused(Exception):
    """The event was not stored; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def entity_event(event: BaseModel | Mapping[str, Any]) -> AnyEntityEvent:
    """Validate an event given as a contract model or as its JSON fields (camelCase).

    Raises:
        EntityEventRefused: not a valid entity event (the reason names the field).
    """
    data = event.model_dump(by_alias=True) if isinstance(event, BaseModel) else dict(event)
    try:
        return EntityEvent.model_validate(data).root
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise EntityEventRefused(f"invalid entity event: {where}: {error['msg']}") from None


async def publish_entity_event(
    nc: NATS, event: BaseModel | Mapping[str, Any], *, wait: float = PUBLISH_TIMEOUT
) -> int:
    """Validate `event` and store it in the entity stream.

    Args:
        nc: a connected client.
        event: an `EntityCreated`, `EntityUpdated`, ... or a mapping of its fields.
        wait: seconds to wait for the stream's acknowledgement.

    Returns:
        The event's sequence in the stream.

    Raises:
        EntityEventRefused: invalid, no stream, or not acknowledged in time.
    """
    checked = entity_event(event)
    subject = subjects.entity_event(checked.tenant, checked.entity_type, checked.entity_id)
    body = checked.model_dump_json(by_alias=True).encode()
    try:
        ack = await nc.jetstream().publish(
            subject, body, timeout=wait, stream=subjects.ENTITY_STREAM
        )
    except (NoStreamResponseError, NoRespondersError):
        raise EntityEventRefused(
            f"no JetStream stream {subjects.ENTITY_STREAM}: the rooms service creates it when "
            "it starts; start it once"
        ) from None
    except (NatsTimeout, TimeoutError):
        raise EntityEventRefused(
            f"JetStream did not acknowledge the event within {wait:g} s (it may still "
            "be stored; publishing it again is harmless)"
        ) from None
    except APIError as exc:
        raise EntityEventRefused(f"JetStream refused the event: {exc.description}") from None
    except (ConnectionClosedError, NatsError) as exc:
        raise EntityEventRefused(f"the message bus is unreachable ({exc})") from None
    return int(ack.seq)
