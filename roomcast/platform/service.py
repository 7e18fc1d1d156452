"""A service process's lifecycle: connect, start, ready, graceful stop.

Every service (`services.<name>.app`) hands `run_service` a `start` coroutine that
builds its adapters and serves its endpoints on the given NATS connection, and
returns the coroutine that stops them. `run_service` does the rest the same way for
all of them: the NATS connection with its `NatsGuard` (a connection closed for good
ends the process), the platform listener (`/healthz`, `/readyz`, `/metrics`), the
ready file, SIGINT/SIGTERM, and the order of a graceful stop: not ready, stop taking
work, finish what is in flight, drain NATS.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS

from roomcast.platform.backbone import nats_options
from roomcast.platform.listener import PlatformListener
from roomcast.platform.runtime import (
    NatsGuard,
    connect_nats,
    instance_name,
    mark_ready,
    mark_unready,
    tune_gc,
)
from roomcast.platform.settings import CommonSettings

log = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]
Start = Callable[[NATS], Awaitable[Stop]]


async def run_service(
    service: str, settings: CommonSettings, start: Start, **dependencies: Any
) -> None:
    """Run one service until SIGINT or SIGTERM.

    Args:
        service: the service's name (`rooms`, `presence`, `persistence`).
        settings: its settings (NATS URL, instance id, health listener).
        start: builds the service on a connected client and returns its stop.
        dependencies: what `/readyz` checks besides NATS (`postgres=engine`,
            `redis=client`) and the service's own metrics (`metric_sets=(...)`), passed
            to the platform listener.
    """
    name = instance_name(settings.instance_id, service)
    guard = NatsGuard(service)
    nc = await connect_nats(settings.nats_url, name, guard, **nats_options(settings))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    stop = await start(nc)
    platform = PlatformListener(settings, guard, **dependencies)
    try:
        await platform.start()
    except BaseException:  # e.g. the health port is taken: undo the start, then fail
        guard.stopping()
        await stop()
        await nc.close()
        raise
    log.info("%s %s ready", service, name)
    tune_gc()
    mark_ready(name=name, **platform.ready_info())
    await stopping.wait()
    log.info("%s %s stopping", service, name)
    mark_unready()
    guard.stopping()
    await stop()
    await platform.stop()
    await nc.drain()
