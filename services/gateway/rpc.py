"""Typed request/reply from the gateway to the services."""

from __future__ import annotations

from typing import Protocol, TypeVar

from nats.aio.client import Client as NATS
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ValidationError

from contracts.errors import ErrorBody, ErrorCode, ServiceError

R = TypeVar("R", bound=BaseModel)


class Reply(Protocol):
    """What every service reply carries."""

    ok: bool
    error: ErrorBody | None


RR = TypeVar("RR", bound=Reply)


def checked(reply: RR) -> RR:
    """`reply` if it succeeded; else its error as a `ServiceError` for the client's ack."""
    if reply.ok and reply.error is None:
        return reply
    error = reply.error
    raise ServiceError(
        error.code if error else ErrorCode.INTERNAL,
        error.message if error else "refused without a reason",
    )


async def request(
    nc: NATS, subject: str, command: BaseModel, reply_type: type[R], wait: float, what: str
) -> R:
    """Send `command` and parse the reply.

    Raises:
        ServiceError: `UNAVAILABLE` when no replica answers in time (the client may
            retry with the same `clientId`), `INTERNAL` when the reply is malformed.
    """
    payload = command.model_dump_json(by_alias=True).encode()
    try:
        msg = await nc.request(subject, payload, timeout=wait)
    except NoRespondersError:
        raise ServiceError(ErrorCode.UNAVAILABLE, f"the {what} service is not running") from None
    except (NatsTimeout, TimeoutError):
        raise ServiceError(ErrorCode.UNAVAILABLE, f"the {what} service did not answer") from None
    except (ConnectionClosedError, NatsError):
        raise ServiceError(ErrorCode.UNAVAILABLE, "the message bus is unreachable") from None
    try:
        return reply_type.model_validate_json(msg.data)
    except ValidationError:
        raise ServiceError(ErrorCode.INTERNAL, f"the {what} service answered badly") from None
