"""Declared kinds (`domain/declared.py`) in front of the kind registry and the policy
services: a declared kind is known and decided here; any other goes on."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import RoomStatus
from contracts.policies import (
    AccessAnswer,
    AccessQuestion,
    IdentifierQuestion,
    KindSpec,
    KindView,
)
from services.rooms.domain.decisions import Action
from services.rooms.domain.declared import KindRule, decide
from services.rooms.policies.ports import KindRegistry, Policies
from services.rooms.ports import RoomStore

SETTINGS_WORKER = "settings"
"""What `roomcast policy list` shows as the worker of a declared kind."""

_STARTED = datetime.now(UTC)


class DeclaredRegistry:
    """`KindRegistry`: declared kinds, then those workers registered."""

    def __init__(self, rules: dict[str, KindRule], inner: KindRegistry) -> None:
        self._rules = rules
        self._inner = inner

    async def register(self, kinds: list[KindSpec], worker: str) -> list[KindView]:
        taken = [k.kind for k in kinds if k.kind in self._rules]
        if taken:
            raise ServiceError(
                ErrorCode.INVALID,
                f"declared in the rooms service's settings: {', '.join(taken)}",
            )
        return await self._inner.register(kinds, worker)

    async def known(self, kind: str) -> bool:
        return kind in self._rules or await self._inner.known(kind)

    async def list_kinds(self) -> list[KindView]:
        declared = [
            KindView(
                kind=kind,
                description=rule.description or rule.summary(),
                worker=SETTINGS_WORKER,
                registered_at=_STARTED,
                seen_at=_STARTED,
            )
            for kind, rule in self._rules.items()
        ]
        return sorted([*declared, *await self._inner.list_kinds()], key=lambda k: k.kind)


class DeclaredPolicies:
    """`Policies`: a declared kind's rule, else the kind's policy service."""

    def __init__(self, rules: dict[str, KindRule], store: RoomStore, inner: Policies) -> None:
        self._rules = rules
        self._store = store
        self._inner = inner

    async def identifier(self, question: IdentifierQuestion) -> str:
        if question.kind not in self._rules:
            return await self._inner.identifier(question)
        rid = question.data.get("id")
        if isinstance(rid, bool) or not isinstance(rid, (str, int)):
            raise ServiceError(ErrorCode.INVALID, "data.id is required (a string or an integer)")
        return str(rid)

    async def access(self, action: Action, question: AccessQuestion) -> AccessAnswer:
        rule = self._rules.get(question.kind)
        if rule is None:
            return await self._inner.access(action, question)
        member = rule.member_of is not None and await self._member(rule.member_of, question)
        allow, reason = decide(rule, question.user, member)
        return AccessAnswer(ok=True, allow=allow, reason=None if allow else reason)

    async def _member(self, entity_type: str, question: AccessQuestion) -> bool:
        if question.user.tenant != question.tenant:
            return False
        room = await self._store.find_primary(question.tenant, entity_type, question.id)
        if room is None or room.status is RoomStatus.DELETED:
            return False
        return await self._store.member_role(question.tenant, room.id, question.user.id) is not None
