"""Entity lifecycle in PostgreSQL: `ports.EntityStore` (tables of migration 0004).

One event is one transaction: the entity's `entity_states` row is locked (`FOR
UPDATE`, created first if needed), so events of one entity handled by two replicas at
once are applied one after the other; the registers and the memberships the event
touches are read, the pure `decide` says what changes, and the entity's primary room
is brought in line in the same transaction (created when the first `created` is
applied; an existing primary room, e.g. one linked by hand, is adopted).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.entities import AnyEntityEvent
from contracts.errors import ErrorCode, ServiceError
from contracts.explicit_rooms import MemberRole, RoomStatus, RoomView, Visibility
from services.rooms.adapters.room_tables import load_views, room_entities, room_members, rooms
from services.rooms.adapters.sql import known_member
from services.rooms.domain.entity_state import (
    Decision,
    EntityState,
    EntityStatus,
    MemberState,
)
from services.rooms.ports import Decide

metadata = sa.MetaData()

entity_states = sa.Table(
    "entity_states",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("entity_type", sa.Text, primary_key=True),
    sa.Column("entity_id", sa.Text, primary_key=True),
    sa.Column("created", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("status_version", sa.BigInteger, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("name_version", sa.BigInteger, nullable=False),
    sa.Column("visibility", sa.Text),
    sa.Column("visibility_version", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

entity_members = sa.Table(
    "entity_members",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("entity_type", sa.Text, primary_key=True),
    sa.Column("entity_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("present", sa.Boolean, nullable=False),
    sa.Column("role", sa.Text),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

_ERRORS = (OperationalError, DBAPIError, OSError)
_REFUSED = (IntegrityError, DataError)
"""Errors of the event's own writes (a constraint, a value), not of the database's health."""
_ROOM_STATUS = {EntityStatus.ACTIVE: RoomStatus.ACTIVE, EntityStatus.DELETED: RoomStatus.ARCHIVED}


def entity_slug(entity_type: str, entity_id: str, *, hashed: bool) -> str:
    """The slug of an entity's new primary room: `{type}-{id}` in slug characters, with
    a short hash of the pair appended when `hashed` (the plain one was taken)."""
    plain = re.sub(r"[^a-z0-9]+", "-", f"{entity_type}-{entity_id}".lower()).strip("-")
    if not hashed:
        return plain[:64].rstrip("-")
    digest = hashlib.sha256(f"{entity_type}:{entity_id}".encode()).hexdigest()[:10]
    return f"{plain[:53].rstrip('-')}-{digest}"


class SqlEntityStore:
    """Registers of every entity, and the primary rooms they drive."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def apply(
        self, event: AnyEntityEvent, users: list[str], decide: Decide
    ) -> tuple[Decision, RoomView | None]:
        try:
            async with self._engine.begin() as conn:
                return await self._apply(conn, event, users, decide)
        except _REFUSED as exc:
            # the database refuses this event's writes: not an outage, so it is retried a
            # few times and then dead-lettered instead of blocking for ever
            raise ServiceError(ErrorCode.INTERNAL, f"the room store refused: {exc.orig}") from exc
        except _ERRORS as exc:
            raise ServiceError(
                ErrorCode.UNAVAILABLE, f"the room store is unavailable ({type(exc).__name__})"
            ) from exc

    async def _apply(
        self, conn: AsyncConnection, event: AnyEntityEvent, users: list[str], decide: Decide
    ) -> tuple[Decision, RoomView | None]:
        tenant = event.tenant
        key = {"tenant_id": tenant, "entity_type": event.entity_type, "entity_id": event.entity_id}
        where = [entity_states.c[k] == v for k, v in key.items()]
        await conn.execute(postgresql.insert(entity_states).values(**key).on_conflict_do_nothing())
        row = (await conn.execute(sa.select(entity_states).where(*where).with_for_update())).one()
        before = _state(row)
        members: dict[str, MemberState] = {}
        if users:
            found = await conn.execute(
                sa.select(entity_members).where(
                    *[entity_members.c[k] == v for k, v in key.items()],
                    entity_members.c.user_id.in_(users),
                )
            )
            members = {r.user_id: _member(r) for r in found}
        decision = decide(before, members)
        after = decision.entity
        if after != before:
            await conn.execute(
                sa.update(entity_states)
                .where(*where)
                .values(**_state_values(after), updated_at=sa.func.now())
            )
        for user, member in decision.members.items():
            values = {"present": member.present, "role": member.role, "version": member.version}
            upsert = postgresql.insert(entity_members).values(**key, user_id=user, **values)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[*key, "user_id"], set_={**values, "updated_at": sa.func.now()}
                )
            )
            if member.present:
                await conn.execute(known_member(tenant, user))
        room = await self._primary_room(conn, key, before, decision)
        return decision, room

    async def _primary_room(
        self, conn: AsyncConnection, key: dict[str, str], before: EntityState, decision: Decision
    ) -> RoomView | None:
        """Bring the entity's primary room in line with its registers, if it has one."""
        after = decision.entity
        tenant = key["tenant_id"]
        room_id = (
            await conn.execute(
                sa.select(room_entities.c.room_id).where(
                    *[room_entities.c[k] == v for k, v in key.items()], room_entities.c.is_primary
                )
            )
        ).scalar_one_or_none()
        full = after.created and not before.created
        if room_id is None:
            if not after.created:
                return None
            room_id = await _create_room(conn, key, after)
            full = True
        changes: dict[str, Any] = {}
        if after.name is not None and (full or after.name != before.name):
            changes["name"] = after.name
        if after.visibility is not None and (full or after.visibility != before.visibility):
            changes["visibility"] = after.visibility.value
        if after.status is not None and after.status != before.status:
            changes["status"] = _ROOM_STATUS[after.status].value
        if changes:
            await conn.execute(
                sa.update(rooms)
                .where(
                    rooms.c.tenant_id == tenant,
                    rooms.c.id == room_id,
                    rooms.c.status != RoomStatus.DELETED.value,
                )
                .values(**changes, updated_at=sa.func.now())
            )
        if full:
            rows = await conn.execute(
                sa.select(entity_members).where(*[entity_members.c[k] == v for k, v in key.items()])
            )
            members = {r.user_id: _member(r) for r in rows}
        else:
            members = decision.members
        await _put_members(conn, tenant, room_id, members)
        return (await load_views(conn, tenant, rooms.c.id == room_id))[0]


async def _create_room(conn: AsyncConnection, key: dict[str, str], state: EntityState) -> int:
    """A new primary room for the entity, linked to it; returns its id."""
    tenant, etype, eid = key["tenant_id"], key["entity_type"], key["entity_id"]
    room_id = None
    for hashed in (False, True):
        insert = postgresql.insert(rooms).values(
            tenant_id=tenant,
            slug=entity_slug(etype, eid, hashed=hashed),
            name=state.name or f"{etype}:{eid}",
            status=_ROOM_STATUS[state.status or EntityStatus.ACTIVE].value,
            visibility=(state.visibility or Visibility.PRIVATE).value,
            created_by=state.created_by,
        )
        insert = insert.on_conflict_do_nothing(index_elements=["tenant_id", "slug"])
        room_id = (await conn.execute(insert.returning(rooms.c.id))).scalar_one_or_none()
        if room_id is not None:
            break
    if room_id is None:
        raise ServiceError(ErrorCode.INVALID, f"no free slug for the room of {etype}:{eid}")
    await conn.execute(sa.insert(room_entities).values(**key, room_id=room_id, is_primary=True))
    return int(room_id)


async def _put_members(
    conn: AsyncConnection, tenant: str, room_id: int, members: dict[str, MemberState]
) -> None:
    """Write memberships into the room: present ones upserted with their role, absent
    ones deleted (one statement each, however many members a full sync writes)."""
    absent = [user for user, m in members.items() if not m.present]
    present = [
        {
            "tenant_id": tenant,
            "room_id": room_id,
            "user_id": user,
            "role": (m.role or MemberRole.MEMBER).value,
        }
        for user, m in members.items()
        if m.present
    ]
    if absent:
        await conn.execute(
            sa.delete(room_members).where(
                room_members.c.tenant_id == tenant,
                room_members.c.room_id == room_id,
                room_members.c.user_id.in_(absent),
            )
        )
    if present:
        insert = postgresql.insert(room_members).values(present)
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=[room_members.c.room_id, room_members.c.user_id],
                set_={"role": insert.excluded.role},
            )
        )


def _state(row: Any) -> EntityState:
    return EntityState(
        created=row.created,
        created_by=row.created_by,
        status=EntityStatus(row.status) if row.status else None,
        status_version=row.status_version,
        name=row.name,
        name_version=row.name_version,
        visibility=Visibility(row.visibility) if row.visibility else None,
        visibility_version=row.visibility_version,
    )


def _state_values(state: EntityState) -> dict[str, Any]:
    return {
        "created": state.created,
        "created_by": state.created_by,
        "status": state.status.value if state.status else None,
        "status_version": state.status_version,
        "name": state.name,
        "name_version": state.name_version,
        "visibility": state.visibility.value if state.visibility else None,
        "visibility_version": state.visibility_version,
    }


def _member(row: Any) -> MemberState:
    return MemberState(
        present=row.present, role=MemberRole(row.role) if row.role else None, version=row.version
    )
