"""Serving `RoomKind`s: `roomcast policy serve module:Class [module:Class ...]`.

For each kind the worker joins the kind's policy queue group on its three subjects
(`identifier`, `can_join`, `can_post`), so replicas share the questions and each is
answered once, then registers the kinds with the rooms service (retrying until it
answers) and creates `$ROOMCAST_READY_FILE` if set. SIGTERM or SIGINT stops it
gracefully: it stops taking questions, answers those in flight, drains NATS.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import signal
import sys
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import NoServersError

from contracts import endpoints
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import MAX_ROOM_ID
from contracts.policies import (
    KIND_PATTERN,
    RESERVED_KINDS,
    AccessAnswer,
    AccessQuestion,
    IdentifierAnswer,
    IdentifierQuestion,
    KindSpec,
    Ping,
    PingReply,
    RegisterKinds,
)
from roomcast.platform import bus
from roomcast.platform.runtime import NatsGuard, connect_nats, mark_ready, mark_unready
from roomcast.sdk.policy import Answer, Decision, RoomKind, User

log = logging.getLogger("roomcast.policy")

_ROOM_ID = re.compile(rf"^[^\s\x00-\x1f\x7f-\x9f]{{1,{MAX_ROOM_ID}}}$")
REGISTER_RETRY = 1.0
"""Seconds between registration attempts while the rooms service does not answer."""


def load(target: str) -> RoomKind:
    """The `RoomKind` named `module:Class` (or `module:instance`), checked.

    Raises:
        ValueError: the target is malformed, not a `RoomKind`, or its kind is invalid.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected module:Class, got {target!r}")
    found: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        found = getattr(found, part)
    kind = found() if isinstance(found, type) and issubclass(found, RoomKind) else found
    if not isinstance(kind, RoomKind):
        raise ValueError(f"{target} is not a RoomKind")
    name = getattr(kind, "kind", None)
    if not isinstance(name, str) or not re.match(KIND_PATTERN, name):
        raise ValueError(f"{target}: kind must be 1..32 of [a-z0-9_-], starting with a letter")
    if name in RESERVED_KINDS:
        raise ValueError(f"{target}: {name!r} is a reserved room kind")
    return kind


def _failure(kind: str, exc: Exception) -> ServiceError:
    log.warning("%s policy raised %s: %s", kind, type(exc).__name__, exc)
    return ServiceError(ErrorCode.FORBIDDEN, str(exc) or f"the {kind} policy failed")


def _answer(kind: RoomKind, decision: Decision) -> AccessAnswer:
    if isinstance(decision, Answer):
        return AccessAnswer(ok=True, allow=decision.allow, ttl=decision.ttl, reason=decision.reason)
    if isinstance(decision, bool):
        return AccessAnswer(ok=True, allow=decision, ttl=kind.ttl)
    raise ServiceError(ErrorCode.FORBIDDEN, f"the {kind.kind} policy gave no decision")


class KindServer:
    """The three questions of one kind, as `bus` handlers."""

    def __init__(self, kind: RoomKind) -> None:
        self.kind = kind

    async def identifier(self, q: IdentifierQuestion) -> IdentifierAnswer:
        user = User.of(q.user)
        try:
            rid = await self.kind.identifier(user, dict(q.data))
        except ValueError as exc:
            raise ServiceError(ErrorCode.INVALID, str(exc) or "invalid data") from None
        except KeyError as exc:
            raise ServiceError(ErrorCode.INVALID, f"data.{exc.args[0]} is required") from None
        except TypeError as exc:
            raise ServiceError(ErrorCode.INVALID, f"invalid data: {exc}") from None
        except Exception as exc:
            raise _failure(self.kind.kind, exc) from None
        text = str(rid)
        if not _ROOM_ID.match(text):
            raise ServiceError(
                ErrorCode.INVALID,
                f"a {self.kind.kind} id is 1..{MAX_ROOM_ID} characters without whitespace",
            )
        return IdentifierAnswer(ok=True, id=text)

    async def can_join(self, q: AccessQuestion) -> AccessAnswer:
        try:
            return _answer(self.kind, await self.kind.can_join(User.of(q.user), q.id))
        except ServiceError:
            raise
        except Exception as exc:
            raise _failure(self.kind.kind, exc) from None

    async def can_post(self, q: AccessQuestion) -> AccessAnswer:
        try:
            return _answer(self.kind, await self.kind.can_post(User.of(q.user), q.id))
        except ServiceError:
            raise
        except Exception as exc:
            raise _failure(self.kind.kind, exc) from None


class PolicyWorker:
    """Serves kinds on a NATS connection until `stop()`."""

    def __init__(self, nc: NATS, kinds: list[RoomKind], name: str, concurrency: int = 64) -> None:
        names = [k.kind for k in kinds]
        if len(set(names)) != len(names):
            raise ValueError(f"a kind is given twice: {', '.join(names)}")
        self._nc = nc
        self._kinds = kinds
        self._name = name
        self._concurrency = concurrency
        self._served: list[bus.Served] = []

    async def start(self) -> None:
        """Join each kind's queue group, then register the kinds."""
        for kind in self._kinds:
            kind._nc = self._nc  # lets the kind call `self.revoke`
            server = KindServer(kind)
            n, c = self._nc, self._concurrency
            self._served += [
                await bus.serve(n, endpoints.POLICY_IDENTIFIER.at(kind.kind), server.identifier, c),
                await bus.serve(n, endpoints.POLICY_CAN_JOIN.at(kind.kind), server.can_join, c),
                await bus.serve(n, endpoints.POLICY_CAN_POST.at(kind.kind), server.can_post, c),
                await bus.serve(n, endpoints.POLICY_PING.at(kind.kind), self._ping, 4),
            ]
        await self._nc.flush()
        await self.register()

    async def register(self) -> None:
        """Tell the rooms service which kinds this worker serves; retry until it answers."""
        specs = [KindSpec(kind=k.kind, description=k.description) for k in self._kinds]
        ask = RegisterKinds(kinds=specs, worker=self._name)
        while True:
            try:
                (await bus.request(self._nc, endpoints.POLICY_REGISTER, ask)).checked()
                return
            except ServiceError as exc:
                if exc.code is not ErrorCode.UNAVAILABLE:
                    raise
                log.warning("kinds not registered yet (%s); retrying", exc.message)
            await asyncio.sleep(REGISTER_RETRY)

    async def _ping(self, ping: Ping) -> PingReply:
        return PingReply(ok=True, worker=self._name)

    async def stop(self) -> None:
        """Stop taking questions; answer those in flight."""
        for served in self._served:
            await served.stop()
        self._served = []


async def serve(
    url: str,
    kinds: list[RoomKind],
    name: str,
    concurrency: int = 64,
    options: dict[str, Any] | None = None,
) -> None:
    """Run `kinds` on the NATS at `url` until SIGTERM or SIGINT; `options` are further
    `nats.connect` arguments (TLS, credentials)."""
    guard = NatsGuard("policy")
    nc = await connect_nats(url, name, guard, **(options or {}))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    worker = PolicyWorker(nc, kinds, name, concurrency)
    registering = asyncio.create_task(worker.start())
    done, _ = await asyncio.wait(
        {registering, asyncio.create_task(stopping.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    if registering in done:
        registering.result()
        log.info("serving %s as %s", ", ".join(k.kind for k in kinds), name)
        mark_ready(name=name, kinds=[k.kind for k in kinds])
        await stopping.wait()
    else:
        registering.cancel()
    log.info("policy worker %s stopping", name)
    mark_unready()
    guard.stopping()
    await worker.stop()
    await nc.drain()


def main(
    url: str,
    targets: list[str],
    name: str,
    concurrency: int,
    options: dict[str, Any] | None = None,
) -> int:
    """`roomcast policy serve`: load the kinds (from the working directory too), serve."""
    if "" not in sys.path:
        sys.path.insert(0, "")
    kinds = [load(target) for target in targets]
    try:
        asyncio.run(serve(url, kinds, name, concurrency, options))
    except ServiceError as exc:  # the rooms service refused the kinds
        raise ValueError(f"{exc.code}: {exc.message}") from None
    except (NoServersError, OSError) as exc:
        raise ValueError(f"cannot connect to NATS at {url}: {exc or type(exc).__name__}") from None
    return 0
