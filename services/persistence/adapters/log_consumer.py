"""The durable JetStream consumer that feeds the writer (pull requests on nats-py).

Neither FastStream's batch subscriber nor nats-py's `fetch` fits the hot path:
FastStream acknowledges or rejects a batch as a whole and waits for a full batch or
its timeout, while the writer needs one outcome per message (ack, nak with a delay,
dead letter); `fetch` hands each message over through `asyncio.wait_for` on a queue,
which cost more CPU per message than writing it to PostgreSQL. So this adapter sends
JetStream pull requests itself and collects the replies with a callback subscription:

- when the log has a backlog, `no_wait` requests return up to `batch` messages at once;
- when it is drained, a lingering request for one message returns as soon as one
  arrives; the consumer then waits `linger` (50 ms by default) and takes whatever
  came meanwhile with a `no_wait` request. At 500 messages/s that is one commit per
  ~25 messages instead of one per message: PostgreSQL's WAL fsyncs share the disk
  with the log's, and one commit per message measurably slowed every send's ack.

Up to `inflight` batches are written at once (on separate connections), so reading
from NATS and writing to PostgreSQL overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts import subjects
from roomcast.platform.jetstream import Fetched
from services.persistence.ports import Delivered
from services.persistence.writer import Stopped

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Delivered]], Awaitable[None]]

STATUS = "Status"
NO_WAIT_GRACE_S = 5.0
"""How long a `no_wait` request may take before it is given up (it normally takes ms)."""


def consumer_config(name: str, ack_wait: float, max_ack_pending: int) -> ConsumerConfig:
    """The durable consumer: every log subject, explicit acks, unlimited deliveries.

    Deliveries are unlimited on the server on purpose: the writer decides when a
    message is given up, and dead-letters it with its reason instead of letting
    JetStream stop delivering it silently.
    """
    return ConsumerConfig(
        durable_name=name,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=max_ack_pending,
        max_waiting=64,
        filter_subject=subjects.log_all(),
    )


class _Request:
    """The messages answering one pull request, complete at `wanted` or a status."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.msgs: list[Msg] = []
        self.taken = 0
        self.done = asyncio.Event()

    def add(self, msg: Msg) -> None:
        self.msgs.append(msg)
        if len(self.msgs) >= self.wanted:
            self.done.set()


class LogConsumer:
    """Pulls batches from the durable consumer and hands them to the writer."""

    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        name: str,
        batch: int,
        inflight: int,
        fetch_wait: float,
        ack_wait: float,
        linger: float = 0.0,
    ) -> None:
        self._nc = nc
        self._js = js
        self._name = name
        self._batch = batch
        self._inflight = inflight
        self._fetch_wait = fetch_wait
        self._linger = linger
        self._config = consumer_config(name, ack_wait, max_ack_pending=batch * (inflight + 2))
        self._next = subjects.jetstream_pull_next(subjects.LOG_STREAM, name)
        self._inbox = nc.new_inbox()
        self._current: _Request | None = None

    async def ensure(self) -> None:
        """Create the durable consumer, or update it to this configuration."""
        with contextlib.suppress(NotFoundError):
            await self._js.consumer_info(subjects.LOG_STREAM, self._name)
        await self._js.add_consumer(subjects.LOG_STREAM, self._config)

    async def run(self, handler: Handler, stopping: asyncio.Event) -> None:
        """Pull and hand over batches until `stopping` is set."""
        sub = await self._nc.subscribe(
            self._inbox, cb=self._on_msg, pending_msgs_limit=self._batch * (self._inflight + 4)
        )
        slots = asyncio.Semaphore(self._inflight)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stopping.is_set():
                await slots.acquire()
                try:
                    msgs = await self._pull()
                except Exception:
                    slots.release()
                    log.exception("pulling from the message log failed")
                    await _pause(stopping, 1.0)
                    continue
                if not msgs:
                    slots.release()
                    continue
                task = asyncio.create_task(self._handle(handler, msgs, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _pull(self) -> list[Msg]:
        msgs = await self._request(self._batch, None)
        if not msgs:
            msgs = await self._request(1, self._fetch_wait)
            if not msgs:
                return msgs
        if len(msgs) < self._batch and self._linger > 0:
            await asyncio.sleep(self._linger)
        if len(msgs) < self._batch:
            msgs += await self._request(self._batch - len(msgs), None)
        return msgs

    async def _request(self, batch: int, expires: float | None) -> list[Msg]:
        """One pull request: `no_wait` when `expires` is None, else lingering."""
        request = _Request(batch)
        previous = self._current
        if previous is not None:
            request.msgs = previous.msgs[previous.taken :]
        self._current = request
        body: dict[str, object] = {"batch": batch}
        if expires is None:
            body["no_wait"] = True
            wait = NO_WAIT_GRACE_S
        else:
            body["expires"] = int(expires * 1e9)
            wait = expires + NO_WAIT_GRACE_S
        await self._nc.publish(self._next, orjson.dumps(body), reply=self._inbox)
        if len(request.msgs) < batch:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(request.done.wait(), wait)
        taken = request.msgs[:batch]
        request.taken = len(taken)
        return taken

    async def _on_msg(self, msg: Msg) -> None:
        request = self._current
        if msg.headers and STATUS in msg.headers and not msg.data:
            status = msg.headers[STATUS]
            if status not in ("404", "408", "100"):
                log.warning("pull request ended with %s %s", status, msg.headers.get("Description"))
            if request is not None and status != "100":
                request.done.set()
            return
        if request is None:
            log.warning("a log message arrived with no pull request open; it will be redelivered")
            return
        request.add(msg)

    async def _handle(self, handler: Handler, msgs: list[Msg], slots: asyncio.Semaphore) -> None:
        try:
            await handler([Fetched(m) for m in msgs])
        except Stopped:
            log.info("stopped with %d messages unwritten; they will be redelivered", len(msgs))
        except Exception:
            log.exception("writing %d log messages failed; they will be redelivered", len(msgs))
        finally:
            slots.release()


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
