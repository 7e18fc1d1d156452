"""The periodic sweep every replica runs; the scripts make concurrent sweeps safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from services.presence.ports import StoreUnavailable
from services.presence.service import PresenceService

log = logging.getLogger(__name__)

WARN_EVERY = 30.0
"""Seconds between repeated warnings while Redis stays unreachable."""


class Sweeper:
    """Calls `PresenceService.sweep` every `interval` seconds until stopped."""

    def __init__(self, service: PresenceService, interval: float) -> None:
        self._service = service
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._warned_at: float | None = None
        self.healthy = False

    def start(self) -> None:
        """Start sweeping in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sweeper")

    async def stop(self) -> None:
        """Stop sweeping and wait for the current sweep to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self.sweep_once()
            await asyncio.sleep(self._interval)

    async def sweep_once(self) -> None:
        """One sweep; Redis failures are logged (rate-limited), never raised."""
        try:
            announced = await self._service.sweep()
        except StoreUnavailable as exc:
            now = time.monotonic()
            if self._warned_at is None or now - self._warned_at >= WARN_EVERY:
                log.warning("presence sweep failed, retrying every %ss: %s", self._interval, exc)
                self._warned_at = now
            self.healthy = False
            return
        except Exception:
            log.exception("presence sweep failed")
            self.healthy = False
            return
        if self._warned_at is not None:
            log.info("presence sweep works again")
            self._warned_at = None
        self.healthy = True
        if announced:
            log.debug("sweep announced %d presence changes", announced)
