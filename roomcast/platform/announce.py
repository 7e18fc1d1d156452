"""Publishing a broadcast (`contracts.endpoints.Broadcast`) and knowing the server has it.

A broadcast has no reply: every subscriber acts on its own. `announce` publishes and
then flushes (a PING the server answers after it processed everything before it), so
when it returns the NATS server has routed the message to every subscriber connected
at that moment.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from pydantic import BaseModel

from contracts.endpoints import Broadcast
from contracts.errors import ErrorCode, ServiceError


async def announce(nc: NATS, broadcast: Broadcast, payload: BaseModel, *, wait: float) -> None:
    """Publish `payload` on `broadcast`'s subject and wait until the server has it.

    Raises:
        ServiceError: `UNAVAILABLE` when NATS is unreachable or did not confirm within
            `wait` seconds (the message may still have been delivered).
    """
    if not isinstance(payload, broadcast.payload):
        raise TypeError(f"{broadcast.name} carries {broadcast.payload.__name__}")
    body = payload.model_dump_json(by_alias=True).encode()
    try:
        await nc.publish(broadcast.subject, body)
        await nc.flush(timeout=max(1, round(wait)))
    except (NatsError, TimeoutError):
        raise ServiceError(
            ErrorCode.UNAVAILABLE, "the message bus did not confirm the publication"
        ) from None
