"""The platform listener of one service process: health, readiness, metrics.

Every service starts one once its own start-up is done (so an answering `/healthz`
means "started"), on `ROOMCAST_HEALTH_HOST:ROOMCAST_HEALTH_PORT` (port 0: a free
port, written into the ready file as `health_port` / `health_url`):

    platform = PlatformListener(settings, guard, postgres=engine)
    await platform.start()
    mark_ready(name=name, **platform.ready_info())
    ...
    await platform.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from roomcast.platform.checks import (
    Check,
    HasNatsClient,
    Pingable,
    nats_check,
    redis_check,
    sql_check,
)
from roomcast.platform.http import HttpListener, platform_app
from roomcast.platform.metrics import MetricSet, ServiceMetrics, gateway_collector
from roomcast.platform.settings import CommonSettings

log = logging.getLogger(__name__)


class PlatformListener:
    """Health, readiness and metrics of one process, on its own HTTP listener.

    Args:
        settings: Where to listen (`health_host`, `health_port`).
        nats: Holder of the process's NATS client (`NatsGuard`); always checked.
        postgres: The service's engine, when it uses PostgreSQL.
        redis: The service's Redis client, when it uses Redis.
        gateway_stats: A gateway's `stats()`: exported as metrics and as `/statz`.
        metric_sets: The service's own metrics (`roomcast.platform.metrics.MetricSet`).
    """

    def __init__(
        self,
        settings: CommonSettings,
        nats: HasNatsClient,
        *,
        postgres: AsyncEngine | None = None,
        redis: Pingable | None = None,
        gateway_stats: Callable[[], Mapping[str, int]] | None = None,
        metric_sets: Sequence[MetricSet] = (),
    ) -> None:
        checks: dict[str, Check] = {"nats": nats_check(nats)}
        if postgres is not None:
            checks["postgres"] = sql_check(postgres)
        if redis is not None:
            checks["redis"] = redis_check(redis)
        collectors = (gateway_collector(gateway_stats),) if gateway_stats else ()
        self.metrics = ServiceMetrics(nats, collectors, metric_sets)
        routes = {"/statz": gateway_stats} if gateway_stats else None
        app = platform_app(checks, self.metrics, routes)
        self._http = HttpListener(app, settings.health_host, settings.health_port)

    @property
    def url(self) -> str:
        """`http://HOST:PORT` of the listener (the bound port once started)."""
        return f"http://{self._http.host}:{self._http.port}"

    async def start(self) -> None:
        """Listen; `/healthz` answers from now on."""
        await self._http.start()
        log.info("health and metrics on %s", self.url)

    async def stop(self) -> None:
        """Stop listening."""
        await self._http.stop()

    def ready_info(self) -> dict[str, Any]:
        """What the ready file tells about the listener: `health_port`, `health_url`."""
        return {"health_port": self._http.port, "health_url": self.url}
