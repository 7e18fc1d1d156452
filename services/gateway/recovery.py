"""Recovery of missed messages after a reconnect (docs/protocol.md, "Recovery").

A socket that connects with `auth: {token, since: {<room>: <last seq>}}` gets, in this
order:

1. the messages it missed in each room, in log order (`chat:message` with room/seq for
   its automatic rooms, `room:message` for explicit rooms);
2. `session:recovered {rooms: [{room, recovered, replayed, reason?}]}`;
3. live messages, starting with those that arrived during steps 1 and 2 and were not replayed.

Live deliveries to the socket are held by the fan-out from before its rooms are
subscribed until step 3, so nothing new overtakes the replay and nothing is lost in
between; a held delivery whose `seq` was replayed is dropped. The missed messages
come from the persistence service, which reads the JetStream log, so the socket may
come back to any gateway.

An explicit room named in `since` (`room:{slug}`, `{entityType}:{entityId}`; `/tenant`
sockets only) is re-subscribed as `room:join` would: the rooms service authorizes it
and answers its canonical name, and the socket enters the room's delivery subject
before the log is read. The persistence service authorizes it again after reading; a
refusal there (the membership ended meanwhile) takes the socket out again and drops
what was held for the room. A room the socket is taken out of by `room:left` during
recovery gets nothing more, neither replayed nor held messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from pydantic import ValidationError

from contracts import endpoints
from contracts.access import auto_rooms, recoverable_room
from contracts.client import check_room_name, room_kind
from contracts.errors import ServiceError
from contracts.explicit_rooms import AUTO_KINDS, Authorize
from contracts.messages import ChatMessage, RoomMessage
from contracts.recovery import (
    MAX_ROOMS,
    RecoverRequest,
    RecoverRoom,
    RecoveryReason,
    RoomOutcome,
    refusal_reason,
)
from contracts.rooms import Room
from roomcast.platform import bus
from services.gateway.delivered import sid_key
from services.gateway.fanout import Fanout
from services.gateway.handlers.rooms import enter, leave
from services.gateway.sessions import Session

log = logging.getLogger(__name__)

SEQ_EVENTS = frozenset({"chat:message", "room:message"})
RESYNC_PATIENCE = 30.0
"""Seconds a resync retries rooms the log or the services could not answer for (a
NATS node's death often costs a JetStream election too) before giving up on them."""
RETRY_FIRST, RETRY_MAX = 0.25, 2.0
FIRST_ATTEMPT = 2.0
"""Seconds a resync's first log read may take before it is retried (with the full
request timeout): right after a node's death some JetStream reads hang until their
timeout, and a fresh read usually succeeds at once."""


def requested_since(auth: Any) -> dict[str, Any] | None:
    """The `since` map of a handshake's `auth`, `{}` if malformed, None if absent."""
    if not isinstance(auth, dict) or "since" not in auth:
        return None
    since = auth["since"]
    return since if isinstance(since, dict) else {}


@dataclass
class Split:
    """A `since` map sorted out: what to recover, and what is refused at once."""

    auto: list[RecoverRoom] = field(default_factory=list)
    """Automatic rooms the socket is in."""
    explicit: list[RecoverRoom] = field(default_factory=list)
    """Explicit rooms, still to be authorized by the rooms service."""
    refused: dict[str, RoomOutcome] = field(default_factory=dict)


def split_request(since: Mapping[str, Any], rooms: Iterable[str], *, explicit: bool) -> Split:
    """Sort the rooms of `since` into automatic and explicit ones, refusing the rest.

    A room is refused (`unknown_room`) when its seq is not a non-negative integer, when
    it is an automatic room the socket is not in, or a malformed name, or an explicit
    room on a namespace that has none (`explicit` false), or past the first
    `MAX_ROOMS` rooms.
    """
    mine = set(rooms)
    split = Split()
    for room, seq in since.items():
        valid = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
        if not valid or len(split.auto) + len(split.explicit) >= MAX_ROOMS:
            split.refused[room] = _failed(room, RecoveryReason.UNKNOWN_ROOM)
        elif room in mine:
            split.auto.append(RecoverRoom(room=room, after=seq))
        elif explicit and _explicit_name(room):
            split.explicit.append(RecoverRoom(room=room, after=seq))
        else:
            split.refused[room] = _failed(room, RecoveryReason.UNKNOWN_ROOM)
    return split


def _explicit_name(room: str) -> bool:
    try:
        check_room_name(room)
    except ValueError:
        return False
    return room_kind(room) not in AUTO_KINDS


def held_key(event: str, body: bytes) -> tuple[int, str | None] | None:
    """`(seq, delivery subject of its explicit room or None)` of a held message."""
    if event not in SEQ_EVENTS:
        return None
    try:
        data = orjson.loads(body)
        seq, room, tenant = data.get("seq"), data.get("room"), data.get("tenant")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if not isinstance(seq, int):
        return None
    if event != "room:message" or not isinstance(room, str) or not isinstance(tenant, str):
        return seq, None
    return seq, Room.explicit(tenant, room).subject


class Recovery:
    """Runs one recovery per reconnecting socket."""

    def __init__(
        self,
        nc: NATS,
        fanout: Fanout,
        sessions: dict[str, Session],
        timeout: float,
        resync_patience: float = RESYNC_PATIENCE,
    ) -> None:
        self._nc = nc
        self._patience = resync_patience
        self._fanout = fanout
        self._sessions = sessions
        self._timeout = timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}
        """Per socket: its latest recovery or resync (each one waits for the one before)."""
        self._gone: dict[str, set[str]] = {}
        """Per recovering socket: explicit-room subjects it was taken out of meanwhile."""
        self._awaiting: set[str] = set()
        """Sockets held for a resync that has not started yet: whatever recovery of them
        ends first leaves them held."""
        self._queued: set[str] = set()
        """Sockets with a resync queued that has not started yet."""
        self.resynced_messages = 0
        """Messages replayed by resyncs: lost live while NATS was down, or held meanwhile
        and replayed in their place in the log."""

    def hold(self, s: Session) -> None:
        """Hold live deliveries to `s`; call before its rooms are joined."""
        self._fanout.hold(s.sid)

    def hold_for_resync(self, sid: str) -> None:
        """Hold live deliveries to `sid` until a resync that starts after this call ends."""
        self._fanout.hold(sid)
        self._awaiting.add(sid)

    def awaiting_resync(self) -> list[str]:
        """Sockets held for a resync and without one queued."""
        return [sid for sid in self._awaiting if sid not in self._queued]

    def task_of(self, sid: str) -> asyncio.Task[None] | None:
        """The latest recovery or resync of `sid`, if one is running."""
        return self._tasks.get(sid)

    def start(self, s: Session, since: Mapping[str, Any]) -> None:
        """Replay, announce, then release, in the background (after the connect ack)."""
        self._chain(s.sid, self._run(s, since))

    def resync(
        self, s: Session, after: int | None, throttle: AbstractAsyncContextManager[None]
    ) -> None:
        """Replay the rooms of `s` (held by `hold_for_resync`) from `after` on, skipping
        what it had, after any recovery of it in progress; then release what was held.

        `after` None means no resume point is known: nothing is replayed and the socket
        is told so. The replay starts inside `throttle`, which bounds how many run at
        once and waits for the NATS connection.
        """
        previous = self._tasks.get(s.sid)
        self._queued.add(s.sid)
        self._chain(s.sid, self._resync(s, after, throttle, previous))

    def _chain(self, sid: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[sid] = task
        self._gone.setdefault(sid, set())
        task.add_done_callback(lambda done: self._done(sid, done))

    def _done(self, sid: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(sid) is task:
            del self._tasks[sid]
            self._gone.pop(sid, None)

    def revoked(self, sid: str, subject: str) -> None:
        """`room:left` took `sid` out of `subject`: replay and release nothing more of it."""
        gone = self._gone.get(sid)
        if gone is not None:
            gone.add(subject)

    def end(self, sid: str) -> None:
        """The socket left: stop its recovery and drop what was held."""
        task = self._tasks.pop(sid, None)
        self._gone.pop(sid, None)
        self._awaiting.discard(sid)
        self._queued.discard(sid)
        if task is not None:
            task.cancel()
        self._fanout.unhold(sid)
        self._fanout.seen.forget(sid_key(sid))

    async def _run(self, s: Session, since: Mapping[str, Any]) -> None:
        replayed: set[int] = set()
        try:
            names = [room.name for room in auto_rooms(s.identity, s.namespace)]
            split = split_request(since, names, explicit=not s.on_manage)
            outcomes = split.refused
            entered = await asyncio.gather(*(self._enter(s, r) for r in split.explicit))
            wanted = list(split.auto)
            for room in entered:
                if isinstance(room, RoomOutcome):
                    outcomes[room.room] = room
                else:
                    wanted.append(room)
            if wanted:
                outcomes |= await self._replay(s, wanted, replayed)
            await self._leave_refused(s, wanted, outcomes)
            rooms = [outcomes[room].model_dump(mode="json", exclude_none=True) for room in since]
            body = orjson.dumps({"rooms": rooms})
            await self._fanout.send_event(s.sid, s.namespace, "session:recovered", body)
            await self._release(s, replayed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("recovery of %s failed", s.sid)
            self._unhold(s.sid)

    async def _resync(
        self,
        s: Session,
        after: int | None,
        throttle: AbstractAsyncContextManager[None],
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:
            await previous  # cancelling this task (the socket closed) cancels it too
        async with throttle:
            self._queued.discard(s.sid)
            self._awaiting.discard(s.sid)
            replayed: set[int] = set()
            try:
                outcomes = await self._resync_rooms(s, after, replayed)
                self.resynced_messages += len(replayed)
                failed = [o for o in outcomes.values() if not o.recovered]
                if failed:
                    rooms = [o.model_dump(mode="json", exclude_none=True) for o in failed]
                    body = orjson.dumps({"rooms": rooms})
                    await self._fanout.send_event(s.sid, s.namespace, "session:recovered", body)
                await self._release(s, replayed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("resync of %s failed", s.sid)
                self._unhold(s.sid)

    async def _resync_rooms(
        self, s: Session, after: int | None, replayed: set[int]
    ) -> dict[str, RoomOutcome]:
        rooms = resync_rooms(s, after or 0)
        if after is None:
            return {r.room: _failed(r.room, RecoveryReason.UNAVAILABLE) for r in rooms}
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._patience
        pause = RETRY_FIRST
        outcomes: dict[str, RoomOutcome] = {}
        pending = rooms
        wait = min(FIRST_ATTEMPT, self._timeout)
        while True:
            skip = self._delivered(s)
            not_running: list[bool] = []
            for first in range(0, len(pending), MAX_ROOMS):
                batch = pending[first : first + MAX_ROOMS]
                outcomes |= await self._replay(s, batch, replayed, skip, wait, not_running)
            wait = self._timeout
            unavailable = RecoveryReason.UNAVAILABLE
            pending = [r for r in pending if outcomes[r.room].reason is unavailable]
            # no persistence replica at all: release the socket's live messages now
            # (`session:recovered` says what was not resynced) instead of holding them
            if not pending or not_running or loop.time() + pause > give_up:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX)
        await self._leave_refused(s, rooms, outcomes)
        return outcomes

    def _delivered(self, s: Session) -> set[int]:
        """The `seq`s `s` already got: seen on its subjects or replayed to it, less those
        still held for it (they are replayed in order, or released after the replay)."""
        seen = self._fanout.seen.seqs([*s.subjects, sid_key(s.sid)])
        for item in self._fanout.held_now(s.sid):
            key = held_key(item.event, item.body)
            if key is not None:
                seen.discard(key[0])
        return seen

    def _unhold(self, sid: str) -> None:
        """Deliver live messages to `sid` directly again, unless a resync awaits it."""
        if sid not in self._awaiting:
            self._fanout.unhold(sid)

    async def _enter(self, s: Session, room: RecoverRoom) -> RecoverRoom | RoomOutcome:
        """Re-subscribe `s` to an explicit room it may still join, as `room:join` does."""
        tenant = s.identity.tenant
        ask = Authorize(
            identity=s.identity,
            tenant=tenant,
            via_manage=False,
            name=room.room,
            claims=s.claims or None,
        )
        try:
            reply = await bus.request(self._nc, endpoints.ROOM_AUTHORIZE, ask, wait=self._timeout)
            canonical = reply.checked().room or room.room
        except ServiceError as exc:
            return _failed(room.room, refusal_reason(exc.code))
        # shielded: a socket that closes meanwhile cancels recovery, and a join cut in
        # half would leave this gateway subscribed; `enter` undoes it for a closed socket
        entering = enter(self._fanout, self._sessions, s, tenant, room.room, canonical)
        if not await asyncio.shield(entering):
            return _failed(room.room, RecoveryReason.UNAVAILABLE)
        return room.model_copy(update={"canonical": canonical})

    async def _leave_refused(
        self, s: Session, wanted: list[RecoverRoom], outcomes: dict[str, RoomOutcome]
    ) -> None:
        """Take `s` out of explicit rooms the persistence service found it may no longer
        read; what was held for them is dropped."""
        refusals = {RecoveryReason.FORBIDDEN, RecoveryReason.NOT_FOUND, RecoveryReason.UNKNOWN_ROOM}
        for room in wanted:
            if room.canonical is not None and outcomes[room.room].reason in refusals:
                tenant = s.identity.tenant
                await asyncio.shield(leave(self._fanout, s, tenant, room.canonical))
                self.revoked(s.sid, Room.explicit(tenant, room.canonical).subject)

    async def _replay(
        self,
        s: Session,
        wanted: list[RecoverRoom],
        replayed: set[int],
        skip: frozenset[int] | set[int] = frozenset(),
        wait: float | None = None,
        not_running: list[bool] | None = None,
    ) -> dict[str, RoomOutcome]:
        try:
            async with asyncio.timeout(wait or self._timeout):
                return await self._stream(s, wanted, replayed, skip)
        except (ServiceError, TimeoutError, NatsError, ValidationError) as exc:
            if isinstance(exc, bus.NotRunning) and not_running is not None:
                not_running.append(True)
            log.warning("recovery for %s unavailable: %r", s.identity.user_id, exc)
            return {r.room: _failed(r.room, RecoveryReason.UNAVAILABLE) for r in wanted}

    async def _stream(
        self,
        s: Session,
        wanted: list[RecoverRoom],
        replayed: set[int],
        skip: frozenset[int] | set[int],
    ) -> dict[str, RoomOutcome]:
        request = RecoverRequest(identity=s.identity, rooms=wanted)
        got: dict[str, RoomOutcome] = {}
        async for chunk in bus.stream(self._nc, endpoints.RECOVER, request, wait=self._timeout):
            missed: list[tuple[str, ChatMessage | RoomMessage]] = [
                *(("chat:message", m) for m in chunk.messages),
                *(("room:message", m) for m in chunk.room_messages),
            ]
            gone = self._gone.get(s.sid, set())
            mine = sid_key(s.sid)
            for event, message in sorted(missed, key=lambda pair: pair[1].seq):
                if message.seq in replayed or message.seq in skip:
                    continue
                replayed.add(message.seq)
                if isinstance(message, RoomMessage) and _left(gone, message):
                    continue
                body = orjson.dumps(message.model_dump(mode="json", by_alias=True))
                if await self._fanout.send_event(s.sid, s.namespace, event, body):
                    self._fanout.seen.add(mine, message.seq)
            got |= {outcome.room: outcome for outcome in chunk.rooms}
        missing = RecoveryReason.UNAVAILABLE
        return {r.room: got.get(r.room) or _failed(r.room, missing) for r in wanted}

    async def _release(self, s: Session, replayed: set[int]) -> None:
        gone = self._gone.get(s.sid, set())
        while held := self._fanout.take_held(s.sid):
            for item in held:
                key = held_key(item.event, item.body)
                if key is not None and (key[0] in replayed or key[1] in gone):
                    continue
                await self._fanout.send_packet(s.sid, s.namespace, item.packet)
        self._unhold(s.sid)


def resync_rooms(s: Session, after: int) -> list[RecoverRoom]:
    """The rooms of `s` a resync replays from `after`: its recoverable automatic rooms,
    then the explicit rooms of its own tenant it joined, under their canonical names."""
    who = s.identity
    rooms = [
        RecoverRoom(room=room.name, after=after)
        for room in auto_rooms(who, s.namespace)
        if recoverable_room(who, room.name) is not None
    ]
    if s.on_manage:
        return rooms  # its explicit rooms are of other tenants: recovery reads only its own
    for (tenant, name), subject in s.joined.items():
        if tenant == who.tenant and Room.explicit(tenant, name).subject == subject:
            rooms.append(RecoverRoom(room=name, after=after, canonical=name))
    return rooms


def _left(gone: set[str], message: RoomMessage) -> bool:
    return bool(gone) and Room.explicit(message.tenant, message.room).subject in gone


def _failed(room: str, reason: RecoveryReason) -> RoomOutcome:
    return RoomOutcome(room=room, recovered=False, replayed=0, reason=reason)
