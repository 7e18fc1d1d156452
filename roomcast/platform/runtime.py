"""Process plumbing every service shares: logging, readiness file, NATS connect."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.errors import AuthorizationError

from roomcast.platform import logs
from roomcast.platform.settings import nats_servers

log = logging.getLogger(__name__)

READY_FILE_ENV = "ROOMCAST_READY_FILE"
GC_GEN0_THRESHOLD = 20_000


def setup_logging(level: str, name: str) -> None:
    """One line format for every logger, `$ROOMCAST_LOG_FORMAT` (text or json), masked.

    See `roomcast.platform.logs`: libraries' coloured handlers are replaced, escape codes
    are stripped off a non-terminal stdout, tokens and secrets are masked.
    """
    logs.configure(level, name)


def instance_name(configured: str, service: str) -> str:
    """This replica's name: the configured one, else `service-host-pid`."""
    return configured or f"{service}-{socket.gethostname()}-{os.getpid()}"


class ListenError(OSError):
    """A listener could not bind its address."""


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's main coroutine on uvloop when installed, else asyncio.

    An address the process cannot listen on ends it with its message and status 1,
    after the loop has closed (no traceback).
    """
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(main)
    except ListenError as exc:
        log.critical("%s", exc)
        raise SystemExit(1) from None


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


EXIT_NATS_CLOSED = 75
"""Exit status of a process whose NATS connection closed for good (EX_TEMPFAIL)."""


class NatsGuard:
    """Ends the process when its NATS connection closes for good.

    nats-py reconnects after a network failure, but a connection the server closes
    with a protocol error (a control line over `max_control_line`, an authorization
    violation) is closed for good: the process would stay alive serving nothing, and
    nothing would restart it. The guard's `closed_cb` removes the ready file and exits
    with `EXIT_NATS_CLOSED`, so `roomcast dev` or Kubernetes restarts the process;
    a graceful stop calls `stopping()` first, and then a close is expected.
    """

    def __init__(self, service: str) -> None:
        self._service = service
        self._stopping = False
        self.client: NATS | None = None
        self.refused: Exception | None = None
        """Set when the server refused the first connection for a reason no retry cures."""
        self._refusal = asyncio.Event()
        self.on_disconnected: list[Callable[[], None]] = []
        """Called (synchronously) when the connection drops, unless stopping."""
        self.on_reconnected: list[Callable[[], None]] = []
        """Called (synchronously) once the connection is back and re-subscribed."""

    def stopping(self) -> None:
        """The process is shutting down: the connection's close is expected."""
        self._stopping = True

    def callbacks(self) -> dict[str, Any]:
        """Keyword arguments for `nats.connect` / `NatsBroker`: logging and the guard."""
        return {
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnect,
            "reconnected_cb": self._on_reconnect,
            "closed_cb": self._on_closed,
        }

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats: %s", exc or type(exc).__name__)
        if self.client is None and _refusal(exc):
            self.refused = exc
            self._refusal.set()

    async def refusal(self) -> Exception:
        """The refusal of the first connection, once there is one."""
        await self._refusal.wait()
        assert self.refused is not None
        return self.refused

    async def _on_disconnect(self) -> None:
        if not self._stopping:  # a graceful stop drains and disconnects on purpose
            log.warning("nats: disconnected")
            for listener in self.on_disconnected:
                listener()

    async def _on_reconnect(self) -> None:
        log.info("nats: reconnected")
        for listener in self.on_reconnected:
            listener()

    async def _on_closed(self) -> None:
        if self._stopping:
            return
        reason = self.client.last_error if self.client is not None else None
        log.critical(
            "nats: the connection closed for good (%s); %s exits so that it is restarted",
            reason or "no reason given",
            self._service,
        )
        mark_unready()
        logging.shutdown()
        os._exit(EXIT_NATS_CLOSED)


def mark_unready() -> None:
    """Remove `$ROOMCAST_READY_FILE` (if set): the service no longer serves."""
    target = os.environ.get(READY_FILE_ENV)
    if target:
        Path(target).unlink(missing_ok=True)


def _refusal(exc: Exception) -> bool:
    """A connection error that retrying cannot cure: TLS verification or handshake
    failures, and authorization refusals (wrong password, token or credentials)."""
    return isinstance(exc, (ssl.SSLError, AuthorizationError)) or (
        "authorization violation" in str(exc).lower()
    )


async def connect_nats(url: str, name: str, guard: NatsGuard, **options: Any) -> NATS:
    """Connect to NATS, reconnecting forever after network failures; `guard` ends the
    process if the connection closes for good. `options` are further `nats.connect`
    arguments (TLS, credentials: `roomcast.platform.backbone.nats_options`).

    While the servers cannot be reached the first connection is retried (NATS may
    start after the services), but a server that refuses the TLS handshake or the
    credentials ends the process at once with the reason.

    Raises:
        SystemExit: the server refused the connection.
    """
    connecting = asyncio.ensure_future(
        nats.connect(
            servers=nats_servers(url),
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            **guard.callbacks(),
            **options,
        )
    )
    refused = asyncio.ensure_future(guard.refusal())
    await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
    if not connecting.done():
        connecting.cancel()
        exc = refused.result()
        raise SystemExit(
            f"roomcast: NATS refused the connection ({exc or type(exc).__name__}); check "
            "ROOMCAST_NATS_URL (user, password or token), ROOMCAST_NATS_TLS_CA/_CERT/_KEY "
            "and ROOMCAST_NATS_CREDS/_NKEY"
        )
    refused.cancel()
    nc = connecting.result()
    guard.client = nc
    return nc
