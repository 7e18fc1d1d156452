"""The presence reporter: batches, beats, retries and resyncs (see the package doc)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS

from contracts import endpoints
from contracts.errors import ServiceError
from contracts.presence import ClosedConnection, GatewayReport, OpenedConnection, ReportReply
from roomcast.platform import bus
from roomcast.platform.runtime import instance_name
from services.gateway.sessions import Session
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


@dataclass(slots=True)
class Tracked:
    """A live connection as presence sees it."""

    sid: str
    tenant: str
    user_id: str
    name: str | None
    opened_at: float
    beat_at: float
    sent: bool = False
    acked: bool = False

    def opened(self, now: float) -> OpenedConnection:
        return OpenedConnection(
            sid=self.sid,
            tenant=self.tenant,
            user_id=self.user_id,
            name=self.name,
            age_ms=_ms(now - self.opened_at),
            idle_ms=_ms(now - self.beat_at),
            acked=self.acked,
        )


class PresenceReporter:
    """Tracks this gateway's connections and reports them to the presence service."""

    def __init__(self, nc: NATS, settings: GatewaySettings, gateway_id: str = "") -> None:
        self._nc = nc
        self._settings = settings
        self.gateway_id = gateway_id or (
            f"{instance_name(settings.instance_id, 'gateway')}-{secrets.token_hex(4)}"
        )
        self.conns: dict[str, Tracked] = {}
        self._opened: dict[str, None] = {}
        self._closed: dict[str, ClosedConnection] = {}
        self._alive: set[str] = set()
        self._epoch = ""
        self._resync = True
        self._wake = asyncio.Event()
        self._done: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.healthy = False
        self.reports_sent = 0

    # what the connection lifecycle tells us ------------------------------------

    def opened(self, s: Session) -> None:
        """A socket connected; `/manage` sockets are not counted."""
        if s.on_manage:
            return
        now = time.monotonic()
        who = s.identity
        self.conns[s.sid] = Tracked(s.sid, who.tenant, who.user_id, who.name, now, now)
        self._opened[s.sid] = None
        self._wake.set()

    def closed(self, sid: str) -> None:
        """A socket disconnected; the service hears of it only if it may know it."""
        conn = self.conns.pop(sid, None)
        self._opened.pop(sid, None)
        self._alive.discard(sid)
        if conn is None or not conn.sent:
            return
        self._closed[sid] = ClosedConnection(
            sid=sid, tenant=conn.tenant, user_id=conn.user_id, name=conn.name
        )
        self._wake.set()

    def heartbeat(self, sid: str) -> None:
        """The client of `sid` sent `presence:heartbeat`: reported with the next beat."""
        conn = self.conns.get(sid)
        if conn is not None:
            conn.beat_at = time.monotonic()
            self._alive.add(sid)

    async def wait_reported(self, sid: str, within: float) -> bool:
        """Wait until the service has applied `sid`'s connection (False if it did not)."""
        deadline = time.monotonic() + within
        while True:
            conn = self.conns.get(sid)
            if conn is None or conn.acked:
                return conn is not None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._done is None:
                return False
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._done), remaining)
            except TimeoutError:
                return False
            if not self.healthy:
                return False

    # the report loop -----------------------------------------------------------

    def start(self) -> None:
        """Start reporting in the background."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._task = loop.create_task(self._run(), name="presence-reporter")

    async def stop(self) -> None:
        """Stop reporting; tell the service this gateway leaves (one short attempt)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._resync or not self._nc.is_connected:
            return
        closed = list(self._closed.values())
        report = self._report(closed=closed, leaving=True)
        with contextlib.suppress(ServiceError):
            await self._send(report, min(2.0, self._settings.request_timeout))

    async def _run(self) -> None:
        beat = self._settings.presence_beat_interval
        retry = min(1.0, beat)
        first = True
        while True:
            if first:
                first = False
            elif not self.healthy:
                await asyncio.sleep(retry)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), beat)
                    await asyncio.sleep(self._settings.presence_flush_delay)
            self._wake.clear()
            try:
                applied = await self.flush()
            except Exception:
                log.exception("presence report failed")
                applied = False
            self._finish_round(applied)

    def _finish_round(self, applied: bool) -> None:
        if applied != self.healthy:
            level = logging.INFO if applied else logging.WARNING
            log.log(level, "presence reports %s", "applied" if applied else "fail; retrying")
        self.healthy = applied
        done, self._done = self._done, asyncio.get_running_loop().create_future()
        if done is not None and not done.done():
            done.set_result(None)

    async def flush(self) -> bool:
        """Send everything pending, at least one report; True when all was applied.

        A `resync` answer makes the gateway restate its connections, then carry on.
        """
        for _ in range(3):
            if self._resync and not await self._restate():
                return False
            if await self._drain():
                return True
            if not self._resync:
                return False
        return False

    async def _drain(self) -> bool:
        """Send what is pending now, in as few reports as the batch limit allows.

        What arrives meanwhile waits: connects and closes wake the loop again,
        heartbeats ride with the next beat.
        """
        backlog = max(len(self._opened), len(self._closed), len(self._alive))
        for _ in range(max(1, -(-backlog // self._settings.presence_batch_max))):
            if not await self._send_pending():
                return False
        return True

    # reports -------------------------------------------------------------------

    def _report(
        self, *, resync: bool = False, leaving: bool = False, **items: Any
    ) -> GatewayReport:
        return GatewayReport(
            gateway=self.gateway_id,
            epoch=self._epoch,
            lease_ttl_ms=_ms(self._settings.gateway_lease_ttl),
            resync=resync,
            leaving=leaving,
            **items,
        )

    async def _send_pending(self) -> bool:
        limit, now = self._settings.presence_batch_max, time.monotonic()
        opened = [self.conns[sid] for sid in list(self._opened)[:limit]]
        closed = list(self._closed.values())[:limit]
        alive = [sid for sid in list(self._alive)[:limit] if sid in self.conns]
        for conn in opened:
            conn.sent = True
        report = self._report(
            opened=[c.opened(now) for c in opened],
            closed=closed,
            alive={sid: _ms(now - self.conns[sid].beat_at) for sid in alive},
        )
        reply = await self._try(report)
        if reply is None:
            return False
        for conn in opened:
            conn.acked = True
            self._opened.pop(conn.sid, None)
        for item in closed:
            self._closed.pop(item.sid, None)
        self._alive.difference_update(alive)
        self._forget_unknown(reply.unknown)
        return True

    async def _restate(self) -> bool:
        """Send every live connection again (`resync`); adopt the new epoch after."""
        limit, now = self._settings.presence_batch_max, time.monotonic()
        conns = list(self.conns.values())
        closed = list(self._closed.values())
        reply: ReportReply | None = None
        for start in range(0, max(len(conns), 1), limit):
            chunk = conns[start : start + limit]
            for conn in chunk:
                conn.sent = True
            first = start == 0
            report = self._report(
                resync=True, opened=[c.opened(now) for c in chunk], closed=closed if first else []
            )
            reply = await self._try(report, adopt=False)
            if reply is None:
                return False
        assert reply is not None
        self._epoch, self._resync = reply.epoch, False
        for conn in conns:
            conn.acked = True
            self._opened.pop(conn.sid, None)
            self._alive.discard(conn.sid)
        for item in closed:
            self._closed.pop(item.sid, None)
        log.info("presence: restated %d connections (epoch %s)", len(conns), self._epoch)
        return True

    def _forget_unknown(self, sids: list[str]) -> None:
        """Connections the service dropped (silent too long) are reported as new."""
        for sid in sids:
            conn = self.conns.get(sid)
            if conn is not None:
                conn.acked = False
                self._opened[sid] = None
                self._wake.set()

    async def _try(self, report: GatewayReport, *, adopt: bool = True) -> ReportReply | None:
        try:
            reply = await self._send(report, self._settings.request_timeout)
        except ServiceError as exc:
            log.debug("presence report not applied: %s", exc.message)
            return None
        if reply.resync:
            self._resync = True
            return None
        if not reply.ok:
            error = reply.error
            log.debug("presence report refused: %s", error.message if error else "no reason")
            return None
        if adopt:
            self._epoch = reply.epoch
        return reply

    async def _send(self, report: GatewayReport, wait: float) -> ReportReply:
        self.reports_sent += 1
        return await bus.request(self._nc, endpoints.PRESENCE_REPORT, report, wait=wait)
