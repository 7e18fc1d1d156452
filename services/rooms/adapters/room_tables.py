"""Tables of explicit rooms (migration 0003) and how their rows become views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.explicit_rooms import (
    ROOM_KIND,
    EntityLink,
    MemberRole,
    MemberView,
    RoomStatus,
    RoomView,
    Visibility,
)

metadata = sa.MetaData()

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

room_entities = sa.Table(
    "room_entities",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("room_id", sa.BigInteger, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("is_primary", sa.Boolean, nullable=False),
)

room_members = sa.Table(
    "room_members",
    metadata,
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("room_id", sa.BigInteger, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("joined_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

room_settings = sa.Table(
    "room_settings",
    metadata,
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("room_id", sa.BigInteger, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", postgresql.JSONB, nullable=False),
)


def iso(value: datetime) -> str:
    """A timestamp as ISO 8601 text."""
    return value.isoformat()


def member_view(row: Any) -> MemberView:
    """A `room_members` row as a view."""
    return MemberView(user_id=row.user_id, role=MemberRole(row.role), joined_at=iso(row.joined_at))


async def load_views(
    conn: AsyncConnection, tenant: str, where: Any, limit: int | None = None
) -> list[RoomView]:
    """The rooms of `tenant` matching `where`, by id, with their settings and links."""
    stmt = sa.select(rooms).where(rooms.c.tenant_id == tenant, where).order_by(rooms.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = (await conn.execute(stmt)).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    settings: dict[int, dict[str, Any]] = {i: {} for i in ids}
    links: dict[int, list[EntityLink]] = {i: [] for i in ids}
    for s in await conn.execute(
        sa.select(room_settings).where(
            room_settings.c.tenant_id == tenant, room_settings.c.room_id.in_(ids)
        )
    ):
        settings[s.room_id][s.key] = s.value
    for e in await conn.execute(
        sa.select(room_entities)
        .where(room_entities.c.tenant_id == tenant, room_entities.c.room_id.in_(ids))
        .order_by(room_entities.c.id)
    ):
        links[e.room_id].append(
            EntityLink(
                link_id=e.id,
                entity_type=e.entity_type,
                entity_id=e.entity_id,
                is_primary=e.is_primary,
            )
        )
    return [_view(r, settings[r.id], links[r.id]) for r in rows]


def _view(row: Any, settings: dict[str, Any], links: list[EntityLink]) -> RoomView:
    primary = next((e for e in links if e.is_primary), None)
    name = f"{primary.entity_type}:{primary.entity_id}" if primary else f"{ROOM_KIND}:{row.slug}"
    return RoomView(
        id=row.id,
        room=name,
        slug=row.slug,
        name=row.name,
        description=row.description,
        status=RoomStatus(row.status),
        visibility=Visibility(row.visibility),
        tenant=row.tenant_id,
        created_by=row.created_by,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
        settings=settings,
        entities=links,
    )


async def merge_settings(
    conn: AsyncConnection, tenant: str, room_id: int, values: dict[str, Any]
) -> None:
    """Upsert `values` into a room's settings; a None value removes its key."""
    removed = [k for k, v in values.items() if v is None]
    kept = [
        {"tenant_id": tenant, "room_id": room_id, "key": k, "value": v}
        for k, v in values.items()
        if v is not None
    ]
    if removed:
        await conn.execute(
            sa.delete(room_settings).where(
                room_settings.c.room_id == room_id, room_settings.c.key.in_(removed)
            )
        )
    if kept:
        stmt = postgresql.insert(room_settings).values(kept)
        stmt = stmt.on_conflict_do_update(
            index_elements=[room_settings.c.room_id, room_settings.c.key],
            set_={"value": stmt.excluded.value},
        )
        await conn.execute(stmt)
