"""The persistence service's read use cases: history pages and recovery."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from nats.errors import Error as NatsError
from pydantic import ValidationError

from contracts import subjects
from contracts.access import authorize_read
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import AUTO_KINDS
from contracts.history import HistoryQuery, StoredMessage
from contracts.ids import parse_message_id
from contracts.messages import ChatMessage, LoggedMessage, LoggedRoomMessage, RoomMessage
from contracts.recovery import (
    RecoverRequest,
    RecoverRoom,
    RecoveryReason,
    RoomOutcome,
    refusal_reason,
)
from services.persistence.domain.conversations import (
    Conversation,
    Target,
    history_target,
    room_key,
)
from services.persistence.domain.recovery import (
    Found,
    Logged,
    RoomPlan,
    merge,
    plan_explicit,
    plan_room,
    position_problem,
    replayed,
)
from services.persistence.ports import (
    AuthorizeRoom,
    Log,
    Raw,
    Store,
    StoreUnavailable,
    TooMany,
)

log = logging.getLogger(__name__)


class PersistenceService:
    """Serves history from the store and recovery from the log."""

    def __init__(
        self,
        store: Store,
        message_log: Log,
        epoch: int,
        recover_max: int,
        scan_factor: int,
        authorize_room: AuthorizeRoom | None = None,
    ) -> None:
        self._authorize_room = authorize_room
        self._store = store
        self._log = message_log
        self._epoch = epoch
        self._recover_max = recover_max
        self._scan_factor = scan_factor

    async def history(self, query: HistoryQuery) -> list[StoredMessage]:
        """One page, newest first.

        Raises:
            ServiceError: `FORBIDDEN`/`INVALID` for a query the requester may not make,
                `UNAVAILABLE` when PostgreSQL cannot be reached.
        """
        target = await self._target(query)
        if query.before is not None:
            try:
                parse_message_id(query.before)
            except ValueError:
                raise ServiceError(ErrorCode.INVALID, "`before` is not a message id") from None
        try:
            return await self._store.page(target, query.before, query.limit)
        except StoreUnavailable as exc:
            raise ServiceError(ErrorCode.UNAVAILABLE, "message history is unavailable") from exc

    async def _target(self, query: HistoryQuery) -> Target:
        """What a history query reads; explicit rooms are authorized by the rooms service."""
        room = query.room
        if room is None or self._authorize_room is None or room.partition(":")[0] in AUTO_KINDS:
            return history_target(query)
        authorize_read(query.requester, query.tenant)
        name = await self._authorize_room(query.requester, query.tenant, room)
        return Conversation(query.tenant, room_key(name))

    async def recover(
        self, request: RecoverRequest
    ) -> tuple[list[ChatMessage | RoomMessage], list[RoomOutcome]]:
        """What the socket missed in each requested room, merged in log order.

        An explicit room is authorized by the rooms service after its log was read, so
        that nothing posted after a membership ended is replayed; a refusal replaces
        whatever the read found.
        """
        rooms = list(dict.fromkeys(r.room for r in request.rooms))
        asked = {r.room: r for r in request.rooms}
        try:
            bounds = await self._log.bounds()
        except (NatsError, TimeoutError) as exc:
            log.warning("recovery: the message log is unavailable: %r", exc)
            return [], [_failed(room, RecoveryReason.UNAVAILABLE) for room in rooms]
        found: dict[str, list[Found]] = {}
        failed: dict[str, RecoveryReason] = {}
        explicit: list[RoomPlan] = []
        for room in rooms:
            plan = self._plan(request, asked[room])
            if plan is None:
                failed[room] = RecoveryReason.UNKNOWN_ROOM
                continue
            if plan.canonical is not None:
                explicit.append(plan)
            after = asked[room].after
            problem = position_problem(after, bounds.first_seq, bounds.last_seq)
            if problem is not None:
                failed[room] = problem
                continue
            selected = await self._read_room(plan, after)
            if isinstance(selected, RecoveryReason):
                failed[room] = selected
            else:
                found[room] = selected
        refusals = await asyncio.gather(*(self._refusal(request, p) for p in explicit))
        for plan, refusal in zip(explicit, refusals, strict=True):
            if refusal is not None:
                failed[plan.room] = refusal
                found.pop(plan.room, None)
        merged = merge(item for items in found.values() for item in items)
        counts = Counter(item.room for item in merged)
        outcomes = [
            _failed(room, failed[room])
            if room in failed
            else RoomOutcome(room=room, recovered=True, replayed=counts[room])
            for room in rooms
        ]
        return [replayed(item, self._epoch) for item in merged], outcomes

    def _plan(self, request: RecoverRequest, room: RecoverRoom) -> RoomPlan | None:
        if room.canonical is None:
            return plan_room(request.identity, room.room)
        if self._authorize_room is None or room.canonical.partition(":")[0] in AUTO_KINDS:
            return None
        return plan_explicit(request.identity.tenant, room.room, room.canonical)

    async def _refusal(self, request: RecoverRequest, plan: RoomPlan) -> RecoveryReason | None:
        """Why `request.identity` may not read explicit room `plan`, or None if it may."""
        if self._authorize_room is None or plan.canonical is None:
            return RecoveryReason.UNKNOWN_ROOM
        who = request.identity
        try:
            name = await self._authorize_room(who, who.tenant, plan.canonical)
        except ServiceError as exc:
            return refusal_reason(exc.code)
        # its canonical name changed (linked to an entity) since the gateway asked
        return None if name == plan.canonical else RecoveryReason.UNKNOWN_ROOM

    async def _read_room(self, plan: RoomPlan, after: int) -> list[Found] | RecoveryReason:
        limit = self._recover_max * (self._scan_factor if plan.sparse else 1)
        try:
            raws = await self._log.read(plan.filters, after + 1, limit)
        except TooMany:
            return RecoveryReason.TOO_MANY
        except (NatsError, TimeoutError) as exc:
            log.warning("recovery of %s failed: %r", plan.room, exc)
            return RecoveryReason.UNAVAILABLE
        selected = []
        for raw in raws:
            message = _decode(raw)
            if message is not None and plan.accept(message):
                selected.append(Found(raw.seq, plan.room, message))
        if len(selected) > self._recover_max:
            return RecoveryReason.TOO_MANY
        return selected


def _decode(raw: Raw) -> Logged | None:
    kind = subjects.log_kind(raw.subject)
    try:
        if kind == "dm":
            return LoggedMessage.model_validate_json(raw.data)
        if kind == "room":
            return LoggedRoomMessage.model_validate_json(raw.data)
    except ValidationError:
        return None
    return None


def _failed(room: str, reason: RecoveryReason) -> RoomOutcome:
    return RoomOutcome(room=room, recovered=False, replayed=0, reason=reason)
