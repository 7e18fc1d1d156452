"""Gateway composition: NATS, token verifier, Socket.IO server, HTTP API, health, uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Iterator
from typing import Any

import socketio
import uvicorn

from roomcast.platform.backbone import nats_options
from roomcast.platform.listener import PlatformListener
from roomcast.platform.runtime import (
    NatsGuard,
    connect_nats,
    instance_name,
    mark_ready,
    run,
    setup_logging,
    tune_gc,
)
from roomcast.platform.settings import describe, load_settings
from services.gateway.auth import TokenVerifier
from services.gateway.edge_watch import watch
from services.gateway.http import API_PREFIX, ApiDeps, ApiLimits, build_api
from services.gateway.server import Gateway
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` stops it and drains NATS."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def health_app(gw: Gateway) -> Any:
    """`/healthz` (alive) and `/readyz` (NATS connected) on the public port, for load
    balancers. Counters (`/statz`, `/metrics`) are only on the internal platform
    listener (`ROOMCAST_HEALTH_PORT`), never on the public port."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        body: dict[str, Any]
        if path == "/healthz":
            status, body = 200, {"ok": True}
        elif path == "/readyz":
            ready = gw.nc.is_connected
            status, body = (200 if ready else 503), {"ok": ready, "nats": ready}
        else:
            status, body = 404, {"ok": False}
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return app


def public_app(api: Any, health: Any) -> Any:
    """What the public port serves beside Socket.IO: the HTTP API under `/api`, the
    health checks elsewhere."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await api(scope, receive, send)
        else:
            await health(scope, receive, send)

    return app


async def serve(settings: GatewaySettings) -> None:
    """Run one gateway until SIGINT/SIGTERM."""
    name = instance_name(settings.instance_id, "gateway")
    guard = NatsGuard("gateway")
    nc = await connect_nats(settings.nats_url, name, guard, **nats_options(settings))
    verifier = TokenVerifier(settings)
    await verifier.warm_up()
    gw = Gateway(settings, nc, verifier)
    await gw.forwarder.start()
    await gw.disconnects.start()
    guard.on_disconnected.append(gw.resync.disconnected)
    guard.on_reconnected.append(gw.resync.reconnected)
    await gw.resync.poll(wait=1.0)  # the log's position before any socket is served
    gw.resync.start()
    gw.presence.start()
    platform = PlatformListener(
        settings, guard, gateway_stats=gw.stats, metric_sets=gw.signals.metric_sets()
    )
    await platform.start()
    limits = ApiLimits.from_settings(settings)
    api = build_api(ApiDeps(settings, nc, verifier, limits, signals=gw.signals))
    other = public_app(api, health_app(gw))
    asgi = gw.fanout.transports.wrap(
        watch(socketio.ASGIApp(gw.sio, other_asgi_app=other, socketio_path="socket.io"), gw.signals)
    )
    config = uvicorn.Config(
        asgi,
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        log_config=None,
        access_log=False,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise SystemExit(f"gateway could not listen on {settings.host}:{settings.port}")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://{settings.host}:{port}"
    log.info("gateway %s listening on %s", name, url)
    tune_gc()
    mark_ready(url=url, name=name, **platform.ready_info())
    await task
    await gw.fanout.settle()
    for s in list(gw.sessions.values()):
        if s.expiry is not None:
            s.expiry.cancel()
    await gw.resync.stop()
    await gw.presence.stop()
    if gw.shared_limits is not None:
        await gw.shared_limits.close()
    await gw.signals.security.settle()
    await platform.stop()
    guard.stopping()
    await nc.drain()


def main() -> None:
    """Entry point: `python -m services.gateway` / `roomcast gateway`."""
    settings = load_settings(GatewaySettings)
    setup_logging(settings.log_level, "gateway")
    log.debug("config: %s", describe(settings))
    run(serve(settings))
