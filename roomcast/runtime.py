"""Process plumbing every service shares: logging, readiness file, NATS connect."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS

from roomcast import logs

log = logging.getLogger(__name__)

READY_FILE_ENV = "ROOMCAST_READY_FILE"
GC_GEN0_THRESHOLD = 20_000


def setup_logging(level: str, name: str) -> None:
    """One line format for every logger, `$ROOMCAST_LOG_FORMAT` (text or json), masked.

    See `roomcast.logs`: FastStream's coloured handlers are replaced, escape codes
    are stripped off a non-terminal stdout, tokens and secrets are masked.
    """
    logs.configure(level, name)


def instance_name(configured: str, service: str) -> str:
    """This replica's name: the configured one, else `service-host-pid`."""
    return configured or f"{service}-{socket.gethostname()}-{os.getpid()}"


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's main coroutine on uvloop when installed, else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def tune_gc() -> None:
    """Move start-up objects out of the collector's way and collect young objects less often.

    Long-lived services allocate most of their objects at start-up; freezing them keeps
    full collections short, and a larger first-generation threshold makes collections
    rarer under message load (fewer latency spikes; `bench/dm_load.py` p99).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)


def mark_ready(**info: Any) -> None:
    """Create `$ROOMCAST_READY_FILE` (if set) once the service is serving.

    The file holds JSON (e.g. the URL a gateway listens on), written atomically.
    """
    target = os.environ.get(READY_FILE_ENV)
    if not target:
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **info}))
    tmp.replace(path)


async def connect_nats(url: str, name: str) -> NATS:
    """Connect to NATS, reconnecting forever once connected."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats: %s", exc)

    async def on_disconnect() -> None:
        log.warning("nats: disconnected")

    async def on_reconnect() -> None:
        log.info("nats: reconnected")

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )
