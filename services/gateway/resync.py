"""Resync of every socket after the gateway's own NATS connection came back.

Deliveries are core NATS: those published to this gateway's subjects while its
connection is down are lost (nats-py reconnects to another cluster node within about
a second and re-subscribes, but nothing is buffered for it). The sockets stay
connected, so the gateway makes them whole itself; clients need nothing:

1. **Before**: every ~second the gateway polls the message log's last `seq`
   (`LogClock`), and `Fanout` records the `seq` of every logged message it receives,
   per subject (`Seen`).
2. **Disconnect**: every socket's live deliveries are held (and those of sockets
   that connect meanwhile). The resume point is the *floor*: the log's position
   `resync_horizon` seconds before the last successful poll, i.e. before the
   connection was last known to work (see `services/gateway/delivered.py`).
3. **Reconnect**: each held socket gets, at most `resync_concurrency` at a time, the
   ordinary recovery (`recovery.Recovery.resync`): its recoverable rooms (own `user:`
   room, an admin's admins room, the explicit rooms of its tenant it joined) are read
   from the log after the floor, once the log answers again; messages it already had
   (seen on its subjects, replayed to it, or sent by it; not those still held) are
   skipped, the rest are sent in log order, then the held deliveries not replayed.
   `session:recovered` is sent only when a room could not be resynced (`recovered:
   false`: page `chat:history`).

Why the floor is safe: a message at or below it was appended at least the horizon
before the connection could have failed; its delivery is published right after the
append (the rooms service acks the sender only after publishing), so unless it was
delayed by more than the horizon (a rooms replica stalled that long between append
and publish, or out-of-order publishes from several replicas spread that far), it
reached the gateway before the failure and was delivered. Messages above the floor
are replayed unless `Seen` says the socket had them, so the window costs a larger
log read, never a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from nats.aio.client import Client as NATS

from contracts import subjects
from services.gateway.delivered import LogClock
from services.gateway.fanout import Fanout
from services.gateway.recovery import Recovery
from services.gateway.sessions import Session

log = logging.getLogger(__name__)

READABLE_PATIENCE = 30.0
"""Seconds resyncs wait for the message log to answer after a reconnect, at most."""
PROBE_TIMEOUT, PROBE_PAUSE = 1.0, 0.25


class Throttle:
    """At most `limit` resyncs at once, each started only while NATS is connected."""

    def __init__(self, nc: NATS, limit: int) -> None:
        self._nc = nc
        self._slots = asyncio.Semaphore(limit)
        self._connected = asyncio.Event()
        self._connected.set()

    def connected(self, up: bool) -> None:
        """The NATS connection went down (`False`) or came back (`True`)."""
        if up:
            self._connected.set()
        else:
            self._connected.clear()

    async def __aenter__(self) -> None:
        while True:
            await self._connected.wait()
            await self._slots.acquire()
            if self._nc.is_connected:
                return
            self._slots.release()
            self._connected.clear()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._slots.release()


class Resync:
    """Watches the NATS connection and resyncs the sockets after each reconnect."""

    def __init__(
        self,
        nc: NATS,
        fanout: Fanout,
        recovery: Recovery,
        sessions: dict[str, Session],
        *,
        horizon: float,
        concurrency: int,
        poll_interval: float,
        timeout: float,
    ) -> None:
        self._nc = nc
        self._fanout = fanout
        self._recovery = recovery
        self._sessions = sessions
        self._horizon = horizon
        self._poll_interval = poll_interval
        self._timeout = timeout
        self.clock = LogClock()
        self.throttle = Throttle(nc, concurrency)
        self.outage = False
        """True from a disconnect until the reconnect: new sockets are held too."""
        self._floor: int | None = None
        self._pinned: int | None = None
        """The lowest floor of resyncs not finished: `Seen` keeps what is above it."""
        self._running: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self.resyncs = 0
        self.outages = 0
        self.last_resync_ms = 0
        """How long the last reconnect's resync of every socket took."""

    # the log's position ------------------------------------------------------------

    async def poll(self, wait: float | None = None) -> bool:
        """Ask the log for its last `seq` once; False (and a debug line) if it did not
        answer."""
        loop = asyncio.get_running_loop()
        sent = loop.time()
        try:
            js = self._nc.jetstream(timeout=wait or self._timeout)
            info = await js.stream_info(subjects.LOG_STREAM)
        except Exception as exc:
            log.debug("log position not polled: %r", exc)
            return False
        self.clock.record(sent, info.state.last_seq, self._horizon)
        floor = self.clock.floor(self._horizon)
        if floor is not None and not self._running and not self.outage:
            self._pinned = None
            self._fanout.seen.prune(floor)
        elif floor is not None and self._pinned is not None:
            self._fanout.seen.prune(min(floor, self._pinned))
        return True

    async def _log_readable(self) -> None:
        """Wait (at most `READABLE_PATIENCE`) until the log answers again: the node that
        died may have led it, or JetStream's metadata, and an election takes seconds.
        Resyncs sent before would each wait for a timeout."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + READABLE_PATIENCE
        while loop.time() < give_up and self._nc.is_connected:
            if await self.poll(wait=PROBE_TIMEOUT):
                return
            await asyncio.sleep(PROBE_PAUSE)

    def start(self) -> None:
        """Poll the log's position every `poll_interval` seconds until `stop`."""
        self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        while True:
            if self._nc.is_connected:
                await self.poll()
            await asyncio.sleep(self._poll_interval)

    async def stop(self) -> None:
        """Stop polling and cancel resyncs (shutdown)."""
        for task in [*([self._poller] if self._poller else []), *self._running]:
            task.cancel()
        if self._poller is not None:
            await asyncio.gather(self._poller, return_exceptions=True)

    # the connection ------------------------------------------------------------------

    def disconnected(self) -> None:
        """NATS is down: hold every socket, freeze the resume point."""
        self.throttle.connected(False)
        if self.outage:
            return
        self.outage = True
        self.outages += 1
        floor = self.clock.floor(self._horizon)
        self._floor = floor if self._floor is None or floor is None else min(self._floor, floor)
        if self._floor is not None:
            self._pinned = self._floor if self._pinned is None else min(self._pinned, self._floor)
        for sid in self._sessions:
            self._recovery.hold_for_resync(sid)
        log.warning(
            "nats: disconnected; holding %d sockets, resync from seq %s",
            len(self._sessions),
            self._floor,
        )

    def connecting(self, s: Session) -> None:
        """A socket connects: during an outage it is held for the resync as well."""
        if self.outage:
            self._recovery.hold_for_resync(s.sid)

    def reconnected(self) -> None:
        """NATS is back: once the log answers, resync every held socket, `concurrency`
        at a time."""
        if not self.outage:
            self.throttle.connected(True)
            return
        self.outage = False
        floor = self._floor
        held = (self._sessions.get(sid) for sid in self._recovery.awaiting_resync())
        waiting = [s for s in held if s is not None]
        log.warning("nats: reconnected; resyncing %d sockets from seq %s", len(waiting), floor)
        task = asyncio.get_running_loop().create_task(self._resync_all(waiting, floor))
        self._running.add(task)
        task.add_done_callback(self._finished)

    async def _resync_all(self, sockets: list[Session], floor: int | None) -> None:
        started = asyncio.get_running_loop().time()
        await self._log_readable()
        if not self.outage:
            self.throttle.connected(True)
        tasks = []
        for s in sockets:
            if self._sessions.get(s.sid) is s:
                self._recovery.resync(s, floor, self.throttle)
                task = self._recovery.task_of(s.sid)
                if task is not None:
                    tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)
        self.resyncs += len(tasks)
        took = asyncio.get_running_loop().time() - started
        self.last_resync_ms = round(took * 1000)
        log.warning("nats: %d sockets resynced in %.2fs", len(tasks), took)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._running and not self.outage:
            self._floor = None
