"""Recovery of missed messages after a reconnect (docs/protocol.md, "Recovery").

A socket that connects with `auth: {token, since: {<room>: <last seq>}}` gets, in this
order:

1. the messages it missed in each room, in log order (`chat:message` with room/seq);
2. `session:recovered {rooms: [{room, recovered, replayed, reason?}]}`;
3. live messages, starting with those that arrived during steps 1 and 2 and were not replayed.

Live deliveries to the socket are held by the fan-out from before its rooms are
subscribed until step 3, so nothing new overtakes the replay and nothing is lost in
between; a held delivery whose `seq` was replayed is dropped. The missed messages
come from the persistence service, which reads the JetStream log, so the socket may
come back to any gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from pydantic import ValidationError

from contracts import endpoints
from contracts.access import auto_rooms
from contracts.errors import ServiceError
from contracts.recovery import (
    MAX_ROOMS,
    RecoverRequest,
    RecoverRoom,
    RecoveryReason,
    RoomOutcome,
)
from roomcast.platform import bus
from services.gateway.fanout import Fanout
from services.gateway.sessions import Session

log = logging.getLogger(__name__)

SEQ_EVENTS = frozenset({"chat:message", "room:message"})


def requested_since(auth: Any) -> dict[str, Any] | None:
    """The `since` map of a handshake's `auth`, `{}` if malformed, None if absent."""
    if not isinstance(auth, dict) or "since" not in auth:
        return None
    since = auth["since"]
    return since if isinstance(since, dict) else {}


def split_request(
    since: Mapping[str, Any], rooms: Iterable[str]
) -> tuple[list[RecoverRoom], dict[str, RoomOutcome]]:
    """Rooms to ask the persistence service about, and those refused here at once.

    A room is refused (`unknown_room`) when the socket is not in it, its seq is not
    a non-negative integer, or more than `MAX_ROOMS` rooms were asked.
    """
    mine = set(rooms)
    wanted: list[RecoverRoom] = []
    refused: dict[str, RoomOutcome] = {}
    for room, seq in since.items():
        valid = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
        if room in mine and valid and len(wanted) < MAX_ROOMS:
            wanted.append(RecoverRoom(room=room, after=seq))
        else:
            refused[room] = _failed(room, RecoveryReason.UNKNOWN_ROOM)
    return wanted, refused


def held_seq(event: str, body: bytes) -> int | None:
    """The `seq` of a held delivery, if it is a message that has one."""
    if event not in SEQ_EVENTS:
        return None
    try:
        seq = orjson.loads(body).get("seq")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None


class Recovery:
    """Runs one recovery per reconnecting socket."""

    def __init__(self, nc: NATS, fanout: Fanout, timeout: float) -> None:
        self._nc = nc
        self._fanout = fanout
        self._timeout = timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def hold(self, s: Session) -> None:
        """Hold live deliveries to `s`; call before its rooms are joined."""
        self._fanout.hold(s.sid)

    def start(self, s: Session, since: Mapping[str, Any]) -> None:
        """Replay, announce, then release, in the background (after the connect ack)."""
        task = asyncio.get_running_loop().create_task(self._run(s, since))
        self._tasks[s.sid] = task
        task.add_done_callback(lambda _: self._tasks.pop(s.sid, None))

    def end(self, sid: str) -> None:
        """The socket left: stop its recovery and drop what was held."""
        task = self._tasks.pop(sid, None)
        if task is not None:
            task.cancel()
        self._fanout.unhold(sid)

    async def _run(self, s: Session, since: Mapping[str, Any]) -> None:
        replayed: set[int] = set()
        try:
            names = [room.name for room in auto_rooms(s.identity, s.namespace)]
            wanted, outcomes = split_request(since, names)
            if wanted:
                outcomes |= await self._replay(s, wanted, replayed)
            rooms = [outcomes[room].model_dump(mode="json", exclude_none=True) for room in since]
            body = orjson.dumps({"rooms": rooms})
            await self._fanout.send_event(s.sid, s.namespace, "session:recovered", body)
            await self._release(s, replayed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("recovery of %s failed", s.sid)
            self._fanout.unhold(s.sid)

    async def _replay(
        self, s: Session, wanted: list[RecoverRoom], replayed: set[int]
    ) -> dict[str, RoomOutcome]:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._stream(s, wanted, replayed)
        except (ServiceError, TimeoutError, NatsError, ValidationError) as exc:
            log.warning("recovery for %s unavailable: %r", s.identity.user_id, exc)
            return {r.room: _failed(r.room, RecoveryReason.UNAVAILABLE) for r in wanted}

    async def _stream(
        self, s: Session, wanted: list[RecoverRoom], replayed: set[int]
    ) -> dict[str, RoomOutcome]:
        request = RecoverRequest(identity=s.identity, rooms=wanted)
        got: dict[str, RoomOutcome] = {}
        async for chunk in bus.stream(self._nc, endpoints.RECOVER, request, wait=self._timeout):
            for message in chunk.messages:
                if message.seq in replayed:
                    continue
                replayed.add(message.seq)
                body = orjson.dumps(message.model_dump(mode="json", by_alias=True))
                await self._fanout.send_event(s.sid, s.namespace, "chat:message", body)
            got |= {outcome.room: outcome for outcome in chunk.rooms}
        missing = RecoveryReason.UNAVAILABLE
        return {r.room: got.get(r.room) or _failed(r.room, missing) for r in wanted}

    async def _release(self, s: Session, replayed: set[int]) -> None:
        while held := self._fanout.take_held(s.sid):
            for item in held:
                if held_seq(item.event, item.body) in replayed:
                    continue
                await self._fanout.send_packet(s.sid, s.namespace, item.packet)
        self._fanout.unhold(s.sid)


def _failed(room: str, reason: RecoveryReason) -> RoomOutcome:
    return RoomOutcome(room=room, recovered=False, replayed=0, reason=reason)
