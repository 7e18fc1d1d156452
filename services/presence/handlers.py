"""Thin FastStream subscribers: parse the contract, call the service, reply."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from faststream.nats import NatsBroker, NatsMessage
from pydantic import BaseModel, ValidationError

from contracts import subjects
from contracts.errors import ErrorBody, ErrorCode, ServiceError
from contracts.presence import GatewayReport, PresenceListReply, PresenceListRequest, ReportReply
from services.presence.service import PresenceService

log = logging.getLogger(__name__)

C = TypeVar("C", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


async def answer(
    raw: bytes, command: type[C], reply: type[R], run: Callable[[C], Awaitable[R]]
) -> R:
    """Parse `raw` as `command`, run it, and turn failures into an error reply."""
    try:
        parsed = command.model_validate_json(raw)
    except ValidationError as exc:
        return _failed(reply, ErrorCode.INVALID, str(exc))
    try:
        return await run(parsed)
    except ServiceError as exc:
        return _failed(reply, exc.code, exc.message)
    except Exception:
        log.exception("%s failed", command.__name__)
        return _failed(reply, ErrorCode.INTERNAL, "internal error")


def _failed(reply: type[R], code: ErrorCode, message: str) -> R:
    error = ErrorBody(code=code, message=message[:500])
    return reply.model_validate({"ok": False, "error": error})


def register_handlers(broker: NatsBroker, service: PresenceService, workers: int) -> None:
    """Attach every presence subscriber to `broker` (one queue group for all replicas)."""

    @broker.subscriber(
        subjects.presence_report(), queue=subjects.PRESENCE_QUEUE, max_workers=workers
    )
    async def presence_report(msg: NatsMessage) -> ReportReply:
        """Apply a gateway's batch of connection changes, heartbeats and lease renewal."""
        return await answer(msg.body, GatewayReport, ReportReply, service.report)

    @broker.subscriber(subjects.presence_list(), queue=subjects.PRESENCE_QUEUE)
    async def presence_list(msg: NatsMessage) -> PresenceListReply:
        """Answer the online users of one tenant."""

        async def run(cmd: PresenceListRequest) -> PresenceListReply:
            return await service.online(cmd.tenant)

        return await answer(msg.body, PresenceListRequest, PresenceListReply, run)
