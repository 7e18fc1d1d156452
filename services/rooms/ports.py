"""What the rooms service's use cases need from the outside world.

Adapters (`adapters/`) implement these against PostgreSQL and JetStream; unit tests
pass fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.identity import Identity
from contracts.messages import LoggedMessage
from contracts.tenants import TenantSettings

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
"""Sends one delivery to NATS: subject, body, headers."""


@dataclass(frozen=True, slots=True)
class Appended:
    """Where a message landed in the log."""

    seq: int
    duplicate: bool


class Directory(Protocol):
    """Where tenant members and settings live (PostgreSQL in production).

    Every method raises `ServiceError(UNAVAILABLE)` when the store cannot be reached.
    """

    async def register(self, who: Identity) -> None:
        """Record that `who` is a member of their tenant (idempotent)."""
        ...

    async def is_member(self, tenant: str, user_id: str) -> bool:
        """Whether `user_id` has ever connected to `tenant`."""
        ...

    async def settings(self, tenant: str) -> TenantSettings:
        """The settings in force for `tenant` (the defaults when none are stored)."""
        ...

    async def update_settings(self, tenant: str, values: dict[str, Any]) -> TenantSettings:
        """Merge `values` into the stored settings and return what is now in force."""
        ...


class Log(Protocol):
    """The message log (a JetStream stream): the durability point of every message."""

    async def append(self, subject: str, message: LoggedMessage, dedup_key: str | None) -> Appended:
        """Store `message`; returns once the log has it.

        Raises:
            ServiceError: `UNAVAILABLE` when the log does not confirm the write.
        """
        ...

    async def read(self, seq: int) -> LoggedMessage:
        """The message stored at `seq`."""
        ...
