"""`chat:history`: one page of a conversation, served by the persistence service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contracts import subjects
from contracts.history import ChatHistoryIn, HistoryQuery, HistoryReply, ManageChatHistoryIn
from services.gateway.envelope import Ack, ok
from services.gateway.rpc import checked, request
from services.gateway.sessions import Session, scoped

if TYPE_CHECKING:
    from services.gateway.server import Gateway


async def chat_history(gw: Gateway, s: Session, data: Any) -> Ack:
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
    reply = await request(
        gw.nc, subjects.history(), query, HistoryReply, gw.settings.request_timeout, "persistence"
    )
    checked(reply)
    return ok(messages=[m.model_dump(by_alias=True, exclude_none=True) for m in reply.messages])
