"""The kind registry in PostgreSQL (migration 0006, `policy_kinds`): `KindRegistry`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import ErrorCode, ServiceError
from contracts.policies import KindSpec, KindView

policy_kinds = sa.Table(
    "policy_kinds",
    sa.MetaData(),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("description", sa.Text),
    sa.Column("worker", sa.Text, nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

_ERRORS = (OperationalError, DBAPIError, OSError)


def _view(row: sa.Row[tuple[str, str | None, str, object, object]]) -> KindView:
    return KindView.model_validate(row._asdict())


def _unavailable(exc: Exception) -> ServiceError:
    return ServiceError(
        ErrorCode.UNAVAILABLE, f"the kind registry is unavailable ({type(exc).__name__})"
    )


class SqlKindRegistry:
    """Kinds are global (a policy answers for every tenant) and never forgotten."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def register(self, kinds: list[KindSpec], worker: str) -> list[KindView]:
        unique = {k.kind: k for k in kinds}.values()
        rows = [{"kind": k.kind, "description": k.description, "worker": worker} for k in unique]
        insert = postgresql.insert(policy_kinds).values(rows)
        upsert = insert.on_conflict_do_update(
            index_elements=[policy_kinds.c.kind],
            set_={
                "description": insert.excluded.description,
                "worker": insert.excluded.worker,
                "seen_at": sa.func.now(),
            },
        ).returning(*policy_kinds.c)
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(upsert)
                return sorted((_view(r) for r in result), key=lambda v: v.kind)
        except _ERRORS as exc:
            raise _unavailable(exc) from exc

    async def known(self, kind: str) -> bool:
        query = sa.select(policy_kinds.c.kind).where(policy_kinds.c.kind == kind)
        try:
            async with self._engine.connect() as conn:
                return (await conn.execute(query)).first() is not None
        except _ERRORS as exc:
            raise _unavailable(exc) from exc

    async def list_kinds(self) -> list[KindView]:
        query = sa.select(*policy_kinds.c).order_by(policy_kinds.c.kind)
        try:
            async with self._engine.connect() as conn:
                return [_view(r) for r in await conn.execute(query)]
        except _ERRORS as exc:
            raise _unavailable(exc) from exc
