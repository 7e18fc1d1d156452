"""Request/reply over NATS, typed by `contracts.endpoints`: one way to call, one to serve.

Callers use `request(nc, endpoint, payload)` (or `stream(...)` for an endpoint whose
reply is a sequence of messages); services use `serve(nc, endpoint, handler,
concurrency)`. Both run on plain nats-py: FastStream's consume path cost about half a
millisecond of CPU per message here (`bench/rooms_cost.py`), several times the work of
the rooms service's hot path, so no endpoint goes through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ValidationError

from contracts.endpoints import Endpoint
from contracts.errors import ErrorCode, Reply, ServiceError

log = logging.getLogger(__name__)

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=Reply)

NO_RESPONDERS = "503"
"""The `Status` header NATS puts on the empty reply when nobody serves a subject."""


async def request(
    nc: NATS, endpoint: Endpoint[Req, Rep], payload: Req, *, wait: float | None = None
) -> Rep:
    """Send `payload` to `endpoint` and parse its reply (call `.checked()` to raise on a
    refusal).

    Args:
        nc: a connected client.
        endpoint: what to call.
        payload: the request, an instance of `endpoint.request`.
        wait: seconds to wait; the endpoint's own timeout by default.

    Raises:
        ServiceError: `UNAVAILABLE` when no replica runs or none answered in time (the
            outcome is unknown: a send may still happen, so clients retry with the same
            `clientId`), or NATS is unreachable; `INTERNAL` for a malformed reply.
    """
    body = payload.model_dump_json(by_alias=True).encode()
    wait = endpoint.timeout if wait is None else wait
    try:
        msg = await nc.request(endpoint.subject, body, timeout=wait)
    except NoRespondersError:
        raise _not_running(endpoint) from None
    except (NatsTimeout, TimeoutError):
        raise _unavailable(endpoint, "did not answer") from None
    except (ConnectionClosedError, NatsError):
        raise ServiceError(ErrorCode.UNAVAILABLE, "the message bus is unreachable") from None
    return _parse(endpoint, msg.data)


async def stream(
    nc: NATS, endpoint: Endpoint[Req, Rep], payload: Req, *, wait: float | None = None
) -> AsyncIterator[Rep]:
    """Send `payload` to a streamed endpoint and yield each reply until the one marked
    `done`, each wait bounded by `wait` (the endpoint's timeout by default); a reply
    with `ok` false raises.

    Raises:
        ServiceError: as `request`, and the refusal of a reply that has `ok` false.
    """
    wait = endpoint.timeout if wait is None else wait
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        await nc.publish(endpoint.subject, payload.model_dump_json(by_alias=True).encode(), inbox)
        while True:
            try:
                msg = await sub.next_msg(timeout=wait)
            except (NatsTimeout, TimeoutError):
                raise _unavailable(endpoint, "did not answer") from None
            if not msg.data and (msg.headers or {}).get("Status") == NO_RESPONDERS:
                raise _not_running(endpoint)
            reply = _parse(endpoint, msg.data).checked()
            yield reply
            if getattr(reply, "done", True):
                return
    finally:
        await sub.unsubscribe()


def _parse(endpoint: Endpoint[Req, Rep], data: bytes) -> Rep:
    try:
        return endpoint.reply.model_validate_json(data)
    except ValidationError:
        raise ServiceError(
            ErrorCode.INTERNAL, f"the {endpoint.server} service answered badly"
        ) from None


class NotRunning(ServiceError):
    """`UNAVAILABLE` because no replica of the service subscribes to the endpoint at all
    (NATS answered "no responders" at once): retrying within seconds rarely helps."""


def _unavailable(endpoint: Endpoint[Any, Any], what: str) -> ServiceError:
    return ServiceError(ErrorCode.UNAVAILABLE, f"the {endpoint.server} service {what}")


def _not_running(endpoint: Endpoint[Any, Any]) -> NotRunning:
    return NotRunning(ErrorCode.UNAVAILABLE, f"the {endpoint.server} service is not running")


Handler = Callable[[Req], Awaitable[Rep]]
StreamHandler = Callable[[Req], AsyncIterator[Rep]]


class Served:
    """One endpoint served by this process: a queue subscription and a bounded pool.

    Each request runs in its own task; at most `concurrency` run at once (further
    requests wait in nats-py's subscription queue). `stop()` unsubscribes and lets the
    requests in flight finish.
    """

    def __init__(
        self,
        nc: NATS,
        endpoint: Endpoint[Any, Any],
        run: Callable[[Msg], Coroutine[Any, Any, None]],
        concurrency: int,
    ) -> None:
        self.endpoint = endpoint
        self._nc = nc
        self._run = run
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sub: Subscription | None = None

    async def start(self) -> Served:
        """Join the endpoint's queue group."""
        self._sub = await self._nc.subscribe(
            self.endpoint.subject, queue=self.endpoint.queue, cb=self._on_msg
        )
        return self

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking requests and let those in flight finish (up to `grace` seconds)."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)

    async def _on_msg(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._run(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()


async def serve(
    nc: NATS, endpoint: Endpoint[Req, Rep], handler: Handler[Req, Rep], concurrency: int
) -> Served:
    """Answer `endpoint` with `handler` until `stop()`.

    The request is parsed as `endpoint.request` (`INVALID` when it does not match),
    a `ServiceError` becomes a refusal with its code, and any other exception is
    logged and answered `INTERNAL`: a caller always gets a reply of `endpoint.reply`.
    """

    async def run(msg: Msg) -> None:
        try:
            reply = await handler(endpoint.request.model_validate_json(msg.data))
        except Exception as exc:
            reply = _refusal(endpoint, exc)
        await _answer(nc, msg, reply)

    return await Served(nc, endpoint, run, concurrency).start()


async def serve_stream(
    nc: NATS, endpoint: Endpoint[Req, Rep], handler: StreamHandler[Req, Rep], concurrency: int
) -> Served:
    """Answer a streamed endpoint: every reply `handler` yields goes to the caller in
    order; a failure ends the stream with one refusal (built by `endpoint.reply.failure`,
    which marks it the last)."""

    async def run(msg: Msg) -> None:
        try:
            async for reply in handler(endpoint.request.model_validate_json(msg.data)):
                await _answer(nc, msg, reply)
        except Exception as exc:
            await _answer(nc, msg, _refusal(endpoint, exc))

    return await Served(nc, endpoint, run, concurrency).start()


def _refusal(endpoint: Endpoint[Any, Rep], exc: Exception) -> Rep:
    if isinstance(exc, ValidationError):
        return endpoint.reply.failure(ErrorCode.INVALID, str(exc))
    if isinstance(exc, ServiceError):
        return endpoint.reply.failure(exc.code, exc.message)
    log.exception("%s failed", endpoint.name, exc_info=exc)
    return endpoint.reply.failure(ErrorCode.INTERNAL, "internal error")


async def _answer(nc: NATS, msg: Msg, reply: Reply) -> None:
    if not msg.reply:
        return
    try:
        await nc.publish(msg.reply, reply.model_dump_json(by_alias=True).encode())
    except Exception:
        log.warning("could not answer on %s", msg.subject, exc_info=True)
