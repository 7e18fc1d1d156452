"""Thin handlers of the presence service's endpoints (one queue group for all replicas)."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from contracts import endpoints
from contracts.presence import PresenceListReply, PresenceListRequest
from roomcast.platform.bus import Served, serve
from services.presence.service import PresenceService


async def serve_presence(nc: NATS, service: PresenceService, workers: int) -> list[Served]:
    """Serve `presence.report` (a gateway's batch of connection changes, heartbeats and
    lease renewal) and `presence.list` (the online users of one tenant)."""

    async def online(cmd: PresenceListRequest) -> PresenceListReply:
        return await service.online(cmd.tenant)

    return [
        await serve(nc, endpoints.PRESENCE_REPORT, service.report, workers),
        await serve(nc, endpoints.PRESENCE_LIST, online, workers),
    ]
