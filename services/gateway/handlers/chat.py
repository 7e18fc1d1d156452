"""`chat:send`: a direct message, authorized, logged and routed by the rooms service."""

from __future__ import annotations

from typing import Any

from contracts import endpoints
from contracts.client import ChatSendIn, ManageChatSendIn
from contracts.messages import ChatSend
from services.gateway.commands import ask, check_body
from services.gateway.envelope import Ack, ok
from services.gateway.handlers.context import Context
from services.gateway.sessions import Session, scoped


async def chat_send(gw: Context, s: Session, data: Any) -> Ack:
    """`chat:send`: `{to, body, clientId?}` (`/manage`: with `tenant`) → `{ok, id, ts}`."""
    payload, tenant = scoped(s, data, ChatSendIn, ManageChatSendIn)
    check_body(gw, payload.body)
    command = ChatSend(
        sender=s.identity,
        tenant=tenant,
        to=payload.to,
        body=payload.body,
        client_id=payload.client_id,
        via_manage=s.on_manage,
        sid=s.sid,
    )
    reply = await ask(gw, endpoints.CHAT_SEND, command)
    return ok(id=reply.id, ts=reply.ts)
