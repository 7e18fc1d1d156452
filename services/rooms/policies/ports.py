"""What the policy use cases need from the outside world."""

from __future__ import annotations

from typing import Protocol

from contracts.policies import (
    AccessAnswer,
    AccessQuestion,
    IdentifierQuestion,
    KindSpec,
    KindView,
)
from services.rooms.domain.decisions import Action


class KindRegistry(Protocol):
    """Kinds policy workers registered, remembered across restarts (PostgreSQL)."""

    async def register(self, kinds: list[KindSpec], worker: str) -> list[KindView]:
        """Record (or refresh) `kinds` as served by `worker`; returns them as stored."""
        ...

    async def known(self, kind: str) -> bool:
        """True if some worker ever registered `kind`."""
        ...

    async def list_kinds(self) -> list[KindView]:
        """Every registered kind, by name."""
        ...


class Policies(Protocol):
    """Asks a kind's policy (its workers' queue group).

    Every method raises `ServiceError`: `UNAVAILABLE` when no worker answered within
    the bound (never allowed), or the policy's own refusal (`INVALID`, `FORBIDDEN`).
    """

    async def identifier(self, question: IdentifierQuestion) -> str:
        """The room id the question's data names."""
        ...

    async def access(self, action: Action, question: AccessQuestion) -> AccessAnswer:
        """`can_join` or `can_post`, with the policy's TTL."""
        ...
