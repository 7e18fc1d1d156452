"""Explicit rooms in PostgreSQL (SQLAlchemy Core, asyncpg): `ports.RoomStore`.

Tables are created by migration 0003 (`room_tables`); every statement names the tenant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import EntityLink, MemberRole, MemberView, RoomStatus, RoomView
from services.rooms.adapters.room_tables import (
    load_views,
    member_view,
    merge_settings,
    room_entities,
    room_members,
    rooms,
)
from services.rooms.adapters.sql import known_member
from services.rooms.ports import NewRoom, RoomQuery

T = TypeVar("T")

_ERRORS = (OperationalError, DBAPIError, OSError)


def _unavailable(exc: Exception) -> ServiceError:
    return ServiceError(
        ErrorCode.UNAVAILABLE, f"the room store is unavailable ({type(exc).__name__})"
    )


class SqlRoomStore:
    """Rooms, their settings, members and entity links of every tenant."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create_room(self, tenant: str, room: NewRoom, admin: str | None) -> RoomView:
        insert = (
            sa.insert(rooms)
            .values(
                tenant_id=tenant,
                slug=room.slug,
                name=room.name,
                description=room.description,
                status=RoomStatus.ACTIVE.value,
                visibility=room.visibility.value,
                created_by=room.created_by,
            )
            .returning(rooms.c.id)
        )
        try:
            async with self._engine.begin() as conn:
                room_id = (await conn.execute(insert)).scalar_one()
                await merge_settings(conn, tenant, room_id, room.settings)
                if admin is not None:
                    await conn.execute(
                        sa.insert(room_members).values(
                            tenant_id=tenant, room_id=room_id, user_id=admin, role="admin"
                        )
                    )
                    await conn.execute(known_member(tenant, admin))
                return (await load_views(conn, tenant, rooms.c.id == room_id))[0]
        except IntegrityError:
            raise ServiceError(ErrorCode.CONFLICT, "slug already taken") from None
        except _ERRORS as exc:
            raise _unavailable(exc) from exc

    async def find_room(
        self, tenant: str, *, room_id: int | None = None, slug: str | None = None
    ) -> RoomView | None:
        where = rooms.c.id == room_id if room_id is not None else rooms.c.slug == slug
        found = await self._read(lambda conn: load_views(conn, tenant, where))
        return found[0] if found else None

    async def find_primary(self, tenant: str, entity_type: str, entity_id: str) -> RoomView | None:
        primary = sa.select(room_entities.c.room_id).where(
            room_entities.c.tenant_id == tenant,
            room_entities.c.entity_type == entity_type,
            room_entities.c.entity_id == entity_id,
            room_entities.c.is_primary,
        )
        found = await self._read(lambda conn: load_views(conn, tenant, rooms.c.id.in_(primary)))
        return found[0] if found else None

    async def list_rooms(self, tenant: str, query: RoomQuery) -> list[RoomView]:
        where: list[Any] = [rooms.c.status != RoomStatus.DELETED.value]
        if query.status is not None:
            where.append(rooms.c.status == query.status.value)
        if query.visibility is not None:
            where.append(rooms.c.visibility == query.visibility.value)
        if query.q:
            pattern = (
                "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            where.append(sa.or_(rooms.c.name.ilike(pattern), rooms.c.slug.ilike(pattern)))
        if query.viewer is not None:
            mine = sa.exists().where(
                room_members.c.room_id == rooms.c.id, room_members.c.user_id == query.viewer
            )
            where.append(mine if query.joined else sa.or_(mine, rooms.c.visibility == "public"))
        if query.after is not None:
            where.append(rooms.c.id > query.after)
        return await self._read(
            lambda conn: load_views(conn, tenant, sa.and_(*where), limit=query.limit)
        )

    async def update_room(
        self, tenant: str, room_id: int, changes: dict[str, Any], settings: dict[str, Any] | None
    ) -> RoomView:
        values = {k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sa.update(rooms)
                    .where(rooms.c.tenant_id == tenant, rooms.c.id == room_id)
                    .values(**values, updated_at=sa.func.now())
                )
                if settings:
                    await merge_settings(conn, tenant, room_id, settings)
                return (await load_views(conn, tenant, rooms.c.id == room_id))[0]
        except _ERRORS as exc:
            raise _unavailable(exc) from exc

    async def member_role(self, tenant: str, room_id: int, user_id: str) -> MemberRole | None:
        stmt = sa.select(room_members.c.role).where(
            room_members.c.tenant_id == tenant,
            room_members.c.room_id == room_id,
            room_members.c.user_id == user_id,
        )
        role = await self._read(lambda conn: self._scalar(conn, stmt))
        return MemberRole(role) if role is not None else None

    async def list_members(
        self, tenant: str, room_id: int, after: str | None, limit: int
    ) -> list[MemberView]:
        stmt = sa.select(room_members).where(
            room_members.c.tenant_id == tenant, room_members.c.room_id == room_id
        )
        if after is not None:
            stmt = stmt.where(room_members.c.user_id > after)
        stmt = stmt.order_by(room_members.c.user_id).limit(limit)
        rows = await self._read(lambda conn: self._rows(conn, stmt))
        return [member_view(r) for r in rows]

    async def put_member(
        self, tenant: str, room_id: int, user_id: str, role: MemberRole, *, replace: bool
    ) -> MemberView:
        stmt = postgresql.insert(room_members).values(
            tenant_id=tenant, room_id=room_id, user_id=user_id, role=role.value
        )
        keys = [room_members.c.room_id, room_members.c.user_id]
        if replace:
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_={"role": role.value})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        read = sa.select(room_members).where(
            room_members.c.room_id == room_id, room_members.c.user_id == user_id
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
                await conn.execute(known_member(tenant, user_id))
                return member_view((await conn.execute(read)).one())
        except _ERRORS as exc:
            raise _unavailable(exc) from exc

    async def remove_member(self, tenant: str, room_id: int, user_id: str) -> bool:
        stmt = sa.delete(room_members).where(
            room_members.c.tenant_id == tenant,
            room_members.c.room_id == room_id,
            room_members.c.user_id == user_id,
        )
        return await self._changed(stmt)

    async def link(
        self, tenant: str, room_id: int, entity_type: str, entity_id: str, primary: bool
    ) -> EntityLink:
        stmt = postgresql.insert(room_entities).values(
            tenant_id=tenant,
            room_id=room_id,
            entity_type=entity_type,
            entity_id=entity_id,
            is_primary=primary,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=["tenant_id", "entity_type", "entity_id", "room_id"],
            set_={"is_primary": primary},
        ).returning(room_entities.c.id)
        try:
            async with self._engine.begin() as conn:
                link_id = (await conn.execute(upsert)).scalar_one()
        except IntegrityError:
            raise ServiceError(
                ErrorCode.CONFLICT, "the entity already has a primary room"
            ) from None
        except _ERRORS as exc:
            raise _unavailable(exc) from exc
        return EntityLink(
            link_id=link_id, entity_type=entity_type, entity_id=entity_id, is_primary=primary
        )

    async def unlink(self, tenant: str, link_id: int) -> bool:
        stmt = sa.delete(room_entities).where(
            room_entities.c.tenant_id == tenant, room_entities.c.id == link_id
        )
        return await self._changed(stmt)

    async def entity_rooms(self, tenant: str, entity_type: str, entity_id: str) -> list[RoomView]:
        linked = sa.select(room_entities.c.room_id).where(
            room_entities.c.tenant_id == tenant,
            room_entities.c.entity_type == entity_type,
            room_entities.c.entity_id == entity_id,
        )
        where = sa.and_(rooms.c.id.in_(linked), rooms.c.status != RoomStatus.DELETED.value)
        found = await self._read(lambda conn: load_views(conn, tenant, where))
        primary = [
            r
            for r in found
            if any(
                e.is_primary and e.entity_type == entity_type and e.entity_id == entity_id
                for e in r.entities
            )
        ]
        return primary + [r for r in found if r not in primary]

    # helpers -----------------------------------------------------------------------

    @staticmethod
    async def _scalar(conn: AsyncConnection, stmt: Any) -> Any:
        return (await conn.execute(stmt)).scalar_one_or_none()

    @staticmethod
    async def _rows(conn: AsyncConnection, stmt: Any) -> Sequence[Any]:
        return (await conn.execute(stmt)).all()

    async def _read(self, run: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            async with self._engine.connect() as conn:
                return await run(conn)
        except _ERRORS as exc:
            raise _unavailable(exc) from exc

    async def _changed(self, stmt: Any) -> bool:
        try:
            async with self._engine.begin() as conn:
                return bool((await conn.execute(stmt)).rowcount)
        except _ERRORS as exc:
            raise _unavailable(exc) from exc
