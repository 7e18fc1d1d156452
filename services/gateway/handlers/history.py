"""`chat:history`: one page of a conversation, served by the persistence service."""

from __future__ import annotations

from typing import Any

from contracts.history import ChatHistoryIn, ManageChatHistoryIn
from services.gateway.commands import read_history
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session, scoped


async def chat_history(gw: Context, s: Session, data: Any) -> Ack:
    """`chat:history`: `{with?, room?, before?, limit?}` → `{ok, messages}`, newest first."""
    payload, tenant = scoped(s, data, ChatHistoryIn, ManageChatHistoryIn)
    messages = await read_history(
        gw,
        s.identity,
        tenant,
        room=payload.room,
        with_user=payload.with_,
        before=payload.before,
        limit=payload.limit,
    )
    return ok(messages=[m.model_dump(by_alias=True, exclude_none=True) for m in messages])
