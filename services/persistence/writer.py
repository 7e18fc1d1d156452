"""Writing the message log into PostgreSQL: batches, retries, dead letters.

A batch of log messages becomes one transaction. Each message is acknowledged to the
log only after the transaction that holds it committed (or after its dead letter was
stored), so a crash anywhere leaves it unacknowledged and JetStream redelivers it;
the insert is idempotent, so a redelivery leaves one row.

Failures are split in two kinds:

- the store is unavailable (connection refused, server restarting, ...): nothing is
  wrong with the messages, so the batch is kept and retried with a growing pause,
  telling JetStream it is still in progress; it never counts towards dead-lettering;
- the store refuses a row: the batch is bisected to find the rows it refuses, the
  others are written, and a refused message is retried on redelivery until it has
  been delivered `max_deliveries` times, then dead-lettered with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.persistence.domain.records import Invalid, Row, to_row
from services.persistence.ports import (
    DeadLetters,
    Delivered,
    RowsRejected,
    Store,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

REFUSED_REDELIVERY_DELAY = 1.0


class Stopped(Exception):
    """The writer was asked to stop while the store was unavailable; nothing was acked."""


@dataclass
class Counters:
    """What the writer has done since it started."""

    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    refused: int = 0
    outages: int = 0
    batches: int = 0


@dataclass
class Writer:
    """Writes batches of log messages; see the module docstring for the rules."""

    store: Store
    dead_letters: DeadLetters
    epoch: int
    max_deliveries: int
    retry_max: float = 5.0
    retry_first: float = 0.1
    counters: Counters = field(default_factory=Counters)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def write(self, batch: Sequence[Delivered]) -> None:
        """Store `batch`, acknowledging each message once it is stored or dead-lettered."""
        pairs: list[tuple[Delivered, Row]] = []
        for item in batch:
            row = to_row(item.subject, item.data, item.seq, self.epoch)
            if isinstance(row, Invalid):
                await self._dead_letter(item, row.reason)
            else:
                pairs.append((item, row))
        if pairs:
            await self._write(pairs)
        self.counters.batches += 1

    async def _write(self, pairs: list[tuple[Delivered, Row]]) -> None:
        try:
            inserted = await self._insert_until_reachable(pairs)
        except RowsRejected as exc:
            if len(pairs) == 1:
                await self._refused(pairs[0][0], str(exc))
                return
            middle = len(pairs) // 2
            await self._write(pairs[:middle])
            await self._write(pairs[middle:])
            return
        self.counters.stored += inserted
        self.counters.duplicates += len(pairs) - inserted
        for item, _ in pairs:
            await item.ack()

    async def _insert_until_reachable(self, pairs: list[tuple[Delivered, Row]]) -> int:
        delay = self.retry_first
        rows = [row for _, row in pairs]
        while True:
            try:
                return await self.store.insert(rows)
            except StoreUnavailable as exc:
                self.counters.outages += 1
                log.warning(
                    "store unavailable, retrying %d messages in %.1fs: %s", len(rows), delay, exc
                )
            if self.stopping.is_set():
                raise Stopped
            for item, _ in pairs:
                await item.in_progress()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, self.retry_max)

    async def _refused(self, item: Delivered, reason: str) -> None:
        self.counters.refused += 1
        if item.deliveries >= self.max_deliveries:
            await self._dead_letter(item, f"refused by the store {item.deliveries} times: {reason}")
            return
        log.warning(
            "store refused log message %d (delivery %d): %s", item.seq, item.deliveries, reason
        )
        await item.nak(REFUSED_REDELIVERY_DELAY)

    async def _dead_letter(self, item: Delivered, reason: str) -> None:
        log.error("dead-lettering log message %d (%s): %s", item.seq, item.subject, reason)
        await self.dead_letters.send(item, reason)
        self.counters.dead_lettered += 1
        await item.ack()
