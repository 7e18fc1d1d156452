"""Entity lifecycle: apply one event from the stream, and settle its delivery.

`EntityLifecycle.apply` runs the ordering rule (`domain/entity_state.py`) in the
store's transaction, then sends the `room:left` it asks for. `EntityEvents.handle`
decides what happens to one delivery of the durable consumer:

| outcome | delivery |
|---|---|
| applied (or recognised as old or repeated) | acked, after its `room:left` left |
| not an entity event, or its subject does not match its body | dead-lettered at once, then acked |
| the store is unavailable | redelivered after a back-off, however many times |
| any other failure | redelivered after a back-off; dead-lettered at the `max_deliveries`-th |

The back-off doubles from `retry_first` up to `retry_max` with each delivery. The ack
comes last, so a crash anywhere before it redelivers the event, which the ordering
rule makes harmless (and which repeats a `room:left` the crash may have lost).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from contracts import subjects
from contracts.entities import AnyEntityEvent, parse_entity_event
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import RoomStatus, Visibility
from contracts.messages import LeftReason
from services.rooms.domain.entity_state import (
    Decision,
    EntityState,
    MemberState,
    decide,
    touched_users,
)
from services.rooms.explicit import revoke_non_members
from services.rooms.ports import DeadLetters, Delivery, EntityStore, Revocations, RoomStore

log = logging.getLogger(__name__)


class EntityLifecycle:
    """Applies entity events to registers and primary rooms."""

    def __init__(self, store: EntityStore, revocations: Revocations, rooms: RoomStore) -> None:
        self._store = store
        self._revocations = revocations
        self._rooms = rooms

    async def apply(self, event: AnyEntityEvent) -> Decision:
        """Apply `event`; returns once its effects are stored and its `room:left` sent."""

        def rule(state: EntityState, members: dict[str, MemberState]) -> Decision:
            return decide(state, members, event)

        decision, room = await self._store.apply(event, touched_users(event), rule)
        if room is None:
            return decision
        users = [(event.tenant, user) for user in decision.revoke_users]
        try:
            if decision.revoke_all:
                await self._revocations.room_left(event.tenant, room.room, LeftReason.ARCHIVED, [])
            elif decision.made_private and room.status is not RoomStatus.DELETED:
                await revoke_non_members(
                    self._rooms, self._revocations, event.tenant, room.id, room.room
                )
            # a public room stays readable by the tenant: its sockets stay (as for `leave`)
            if users and room.visibility is Visibility.PRIVATE:
                await self._revocations.room_left(
                    event.tenant, room.room, LeftReason.REMOVED, users
                )
        except Exception as exc:
            # retried until it goes out: the redelivery sends it again (the rule says so)
            raise ServiceError(ErrorCode.UNAVAILABLE, f"room:left not sent ({exc!r})") from exc
        return decision


class EntityEvents:
    """Settles each delivery of the entity stream (see the module docstring)."""

    def __init__(
        self,
        lifecycle: EntityLifecycle,
        dead_letters: DeadLetters,
        max_deliveries: int,
        retry_first: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self._lifecycle = lifecycle
        self._dead_letters = dead_letters
        self._max_deliveries = max_deliveries
        self._retry_first = retry_first
        self._retry_max = retry_max
        self.dead_lettered = 0
        """Events dead-lettered since start (`roomcast_dead_letters_total`)."""

    def backoff(self, deliveries: int) -> float:
        """Seconds before the next delivery after the `deliveries`-th failed."""
        return float(min(self._retry_first * 2 ** max(deliveries - 1, 0), self._retry_max))

    async def handle(self, delivery: Delivery) -> None:
        """Apply one delivered event and ack, nak or dead-letter it."""
        try:
            event = parse_entity_event(delivery.data)
        except ValidationError as exc:
            await self._give_up(delivery, f"not an entity event: {_first_error(exc)}")
            return
        expected = subjects.entity_event(event.tenant, event.entity_type, event.entity_id)
        if delivery.subject != expected:
            await self._give_up(delivery, f"published on {delivery.subject}, not {expected}")
            return
        try:
            await self._lifecycle.apply(event)
        except ServiceError as exc:
            if exc.code is ErrorCode.UNAVAILABLE:
                await self._retry(delivery, exc.message)
            else:
                await self._failed(delivery, f"{exc.code}: {exc.message}")
        except Exception as exc:
            log.exception("applying entity event %d failed", delivery.seq)
            await self._failed(delivery, f"{type(exc).__name__}: {exc}")
        else:
            await delivery.ack()

    async def _retry(self, delivery: Delivery, why: str) -> None:
        delay = self.backoff(delivery.deliveries)
        log.warning("entity event %d not applied, again in %.1fs: %s", delivery.seq, delay, why)
        await delivery.nak(delay)

    async def _failed(self, delivery: Delivery, why: str) -> None:
        if delivery.deliveries >= self._max_deliveries:
            await self._give_up(delivery, f"failed {delivery.deliveries} times: {why}")
        else:
            await self._retry(delivery, why)

    async def _give_up(self, delivery: Delivery, reason: str) -> None:
        log.error("dead-lettering entity event %d (%s): %s", delivery.seq, delivery.subject, reason)
        await self._dead_letters.send(delivery, reason)
        self.dead_lettered += 1
        await delivery.ack()


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
