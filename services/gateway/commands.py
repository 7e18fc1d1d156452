"""What the gateway asks the services for a caller, whichever edge the caller used.

The Socket.IO handlers (`handlers/`) and the HTTP API (`http/`) each validate their own
input, then go through these: the same body check, the same commands, the same wait
for an answer (`ROOMCAST_REQUEST_TIMEOUT`) and the same refusals.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from nats.aio.client import Client as NATS
from pydantic import BaseModel

from contracts import endpoints
from contracts.endpoints import Endpoint
from contracts.errors import ErrorCode, Reply, ServiceError
from contracts.history import HistoryQuery, StoredMessage
from contracts.identity import Identity
from contracts.messages import RoomAck, RoomSend
from roomcast.platform import bus
from services.gateway.settings import GatewaySettings

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=Reply)
T = TypeVar("T")


class Asker(Protocol):
    """What asking a service needs: the NATS connection and the settings."""

    @property
    def nc(self) -> NATS: ...

    @property
    def settings(self) -> GatewaySettings: ...


async def ask(gw: Asker, endpoint: Endpoint[Req, Rep], payload: Req) -> Rep:
    """Send `payload` to `endpoint` and return the successful reply.

    Raises:
        ServiceError: the service's refusal, or `UNAVAILABLE` when no answer came within
            `ROOMCAST_REQUEST_TIMEOUT` (the outcome is then unknown).
    """
    reply = await bus.request(gw.nc, endpoint, payload, wait=gw.settings.request_timeout)
    return reply.checked()


def check_body(gw: Asker, body: str) -> None:
    """A message `body` over `ROOMCAST_MAX_BODY_BYTES` is `TOO_LARGE`."""
    limit = gw.settings.max_body_bytes
    if len(body.encode()) > limit:
        raise ServiceError(ErrorCode.TOO_LARGE, f"body is over {limit} bytes")


async def post_to_room(
    gw: Asker,
    sender: Identity,
    tenant: str,
    room: str,
    body: str,
    client_id: str | None,
    *,
    via_manage: bool,
    sid: str | None,
    claims: dict[str, Any] | None = None,
) -> RoomAck:
    """Post `body` to the explicit room named `room`; the ack comes once it is stored.

    Args:
        gw: the gateway.
        sender: the verified caller.
        tenant: the tenant acted in.
        room: `room:{slug}` or `{entityType}:{entityId}`.
        body: the message text, checked against `ROOMCAST_MAX_BODY_BYTES` here.
        client_id: the sender's idempotency key.
        via_manage: a super_admin acting in a tenant it named.
        sid: the sending socket, which gets no copy; None over HTTP.
        claims: token claims forwarded to a room kind's policy (`policy_claims`).
    """
    check_body(gw, body)
    command = RoomSend(
        sender=sender,
        tenant=tenant,
        room=room,
        body=body,
        client_id=client_id,
        via_manage=via_manage,
        sid=sid,
        claims=claims,
    )
    return await ask(gw, endpoints.ROOM_SEND, command)


async def read_history(
    gw: Asker,
    requester: Identity,
    tenant: str,
    *,
    room: str | None = None,
    with_user: str | None = None,
    before: str | None = None,
    limit: int,
) -> list[StoredMessage]:
    """One page of a conversation, newest first: a room, or a direct one `with_user`."""
    query = HistoryQuery(
        requester=requester,
        tenant=tenant,
        with_user=with_user,
        room=room,
        before=before,
        limit=limit,
    )
    return (await ask(gw, endpoints.HISTORY, query)).messages


def present(value: T | None, what: str) -> T:
    """A field a successful reply must carry.

    Raises:
        ServiceError: `INTERNAL` when the service answered `ok` without it.
    """
    if value is None:
        raise ServiceError(ErrorCode.INTERNAL, f"the service answered without {what}")
    return value
