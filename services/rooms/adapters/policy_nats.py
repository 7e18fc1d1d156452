"""Asks a kind's policy workers over NATS request/reply (`ports.Policies`)."""

from __future__ import annotations

from typing import TypeVar

from nats.aio.client import Client as NATS
from pydantic import BaseModel

from contracts import endpoints as e
from contracts.endpoints import Endpoint
from contracts.errors import ErrorCode, Reply, ServiceError
from contracts.policies import AccessAnswer, AccessQuestion, IdentifierQuestion
from roomcast.platform import bus
from services.rooms.domain.decisions import Action

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=Reply)

_PASSED_ON = frozenset({ErrorCode.INVALID, ErrorCode.FORBIDDEN})
"""Refusals a policy gives that reach the client as they are; any other is `FORBIDDEN`."""


class NatsPolicies:
    """Each question goes to the queue group of its kind and waits at most `timeout`
    seconds; no answer is `UNAVAILABLE`, never allowed."""

    def __init__(self, nc: NATS, timeout: float) -> None:
        self._nc = nc
        self._timeout = timeout

    async def identifier(self, question: IdentifierQuestion) -> str:
        endpoint = e.POLICY_IDENTIFIER.at(question.kind)
        reply = await self._ask(question.kind, endpoint, question)
        if reply.id is None:
            raise ServiceError(ErrorCode.INVALID, f"the {question.kind} policy derived no id")
        return reply.id

    async def access(self, action: Action, question: AccessQuestion) -> AccessAnswer:
        base = e.POLICY_CAN_POST if action is Action.POST else e.POLICY_CAN_JOIN
        return await self._ask(question.kind, base.at(question.kind), question)

    async def _ask(self, kind: str, endpoint: Endpoint[Req, Rep], question: Req) -> Rep:
        try:
            reply = await bus.request(self._nc, endpoint, question, wait=self._timeout)
        except ServiceError as exc:
            if exc.code is ErrorCode.UNAVAILABLE:
                what = "is not running" if "not running" in exc.message else "did not answer"
                raise ServiceError(ErrorCode.UNAVAILABLE, f"the {kind} policy {what}") from None
            raise ServiceError(ErrorCode.UNAVAILABLE, f"the {kind} policy answered badly") from None
        if reply.ok and reply.error is None:
            return reply
        error = reply.error
        code = error.code if error is not None and error.code in _PASSED_ON else ErrorCode.FORBIDDEN
        message = error.message if error is not None else ""
        raise ServiceError(code, message or f"the {kind} policy refused")
