"""`chat:history`: one page of a conversation, served by the persistence service."""

from __future__ import annotations

from typing import Any

from contracts import endpoints
from contracts.history import ChatHistoryIn, HistoryQuery, ManageChatHistoryIn
from roomcast.platform import bus
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session, scoped


async def chat_history(gw: Context, s: Session, data: Any) -> Ack:
    """`chat:history`: `{with?, room?, before?, limit?}` → `{ok, messages}`, newest first."""
    payload, tenant = scoped(s, data, ChatHistoryIn, ManageChatHistoryIn)
    query = HistoryQuery(
        requester=s.identity,
        tenant=tenant,
        with_user=payload.with_,
        room=payload.room,
        before=payload.before,
        limit=payload.limit,
    )
    wait = gw.settings.request_timeout
    reply = (await bus.request(gw.nc, endpoints.HISTORY, query, wait=wait)).checked()
    return ok(messages=[m.model_dump(by_alias=True, exclude_none=True) for m in reply.messages])
