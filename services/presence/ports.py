"""What the presence service's use cases need from the outside world.

The adapter (`adapters/store.py`) implements the store against Redis; unit tests pass
fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from contracts.presence import GatewayReport, OnlineUser
from services.presence.domain.changes import Change

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
"""Sends one delivery to NATS: subject, body, headers."""


class StoreUnavailable(Exception):
    """Redis did not answer; presence cannot be read or changed right now."""


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What applying a gateway report did."""

    now_ms: int
    epoch: str
    resync: bool
    unknown: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    """What one sweep claimed; `more` when its budget ran out before the work did."""

    now_ms: int
    more: bool
    held: bool
    changes: list[Change] = field(default_factory=list)


class PresenceStore(Protocol):
    """Where presence state lives (Redis in production); every call is atomic.

    Every method raises `StoreUnavailable` when the store cannot be reached.
    """

    async def report(self, report: GatewayReport) -> ReportOutcome:
        """Apply one gateway report."""
        ...

    async def sweep(self, budget: int) -> SweepOutcome:
        """Claim at most `budget` due items (grace periods, dead gateways, timeouts)."""
        ...

    async def online(self, tenant: str) -> list[OnlineUser]:
        """The online users of `tenant`, sorted by user id."""
        ...
