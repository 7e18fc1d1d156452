"""Tenant directory and tenant settings in PostgreSQL (SQLAlchemy Core, asyncpg)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.tenants import TenantSettings

metadata = sa.MetaData()

tenant_members = sa.Table(
    "tenant_members",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True)),
    sa.Column("last_seen", sa.DateTime(timezone=True)),
)

tenant_settings = sa.Table(
    "tenant_settings",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("settings", postgresql.JSONB, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)


KNOWN_ROLE = "member"
"""Role recorded for a user the tenant knows only from a room membership; their first
connection replaces it with their token's role."""


def known_member(tenant: str, user_id: str) -> Any:
    """The statement recording `user_id` as a member of `tenant` unless already known.

    Run in the same transaction as the membership that makes them known (a room or
    entity member), so a direct message to them is accepted once that commits. Nothing
    to invalidate: `RoomsService` caches only positive answers.
    """
    stmt = postgresql.insert(tenant_members).values(
        tenant_id=tenant, user_id=user_id, role=KNOWN_ROLE, last_seen=None
    )
    return stmt.on_conflict_do_nothing(
        index_elements=[tenant_members.c.tenant_id, tenant_members.c.user_id]
    )


def _unavailable(exc: Exception) -> ServiceError:
    return ServiceError(
        ErrorCode.UNAVAILABLE, f"the tenant directory is unavailable ({type(exc).__name__})"
    )


class SqlDirectory:
    """Members of each tenant and each tenant's settings."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def register(self, who: Identity) -> None:
        """Record that `who` is a member of their tenant (idempotent)."""
        stmt = postgresql.insert(tenant_members).values(
            tenant_id=who.tenant, user_id=who.user_id, name=who.name, role=who.role
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[tenant_members.c.tenant_id, tenant_members.c.user_id],
            set_={
                "name": stmt.excluded.name,
                "role": stmt.excluded.role,
                "last_seen": sa.func.now(),
            },
        )
        await self._execute(stmt)

    async def is_member(self, tenant: str, user_id: str) -> bool:
        stmt = sa.select(sa.literal(1)).where(
            tenant_members.c.tenant_id == tenant, tenant_members.c.user_id == user_id
        )
        try:
            async with self._engine.connect() as conn:
                return (await conn.execute(stmt)).first() is not None
        except (OperationalError, DBAPIError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def settings(self, tenant: str) -> TenantSettings:
        stmt = sa.select(tenant_settings.c.settings).where(tenant_settings.c.tenant_id == tenant)
        try:
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).first()
        except (OperationalError, DBAPIError, OSError) as exc:
            raise _unavailable(exc) from exc
        return TenantSettings.model_validate(row[0]) if row else TenantSettings()

    async def update_settings(self, tenant: str, values: dict[str, Any]) -> TenantSettings:
        """Merge `values` into the stored settings and return what is now in force."""
        current = await self.settings(tenant)
        merged = TenantSettings.model_validate({**current.model_dump(), **values})
        stmt = postgresql.insert(tenant_settings).values(
            tenant_id=tenant, settings=merged.model_dump(), updated_at=sa.func.now()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[tenant_settings.c.tenant_id],
            set_={"settings": stmt.excluded.settings, "updated_at": sa.func.now()},
        )
        await self._execute(stmt)
        return merged

    async def _execute(self, stmt: Any) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
        except (OperationalError, DBAPIError, OSError) as exc:
            raise _unavailable(exc) from exc
