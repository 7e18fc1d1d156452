"""Explicit rooms (rooms service, seed 004): rooms, entity links, members, settings.

Every table carries `tenant_id`, and every index a query uses is led by it, so one
tenant's rooms are never read through another's:

- `rooms`: `(tenant_id, slug)` unique (a slug names one room per tenant; the lookup by
  slug), `(tenant_id, id)` for the list pages in id order. Ids are global (identity).
- `room_entities`: `(tenant_id, entity_type, entity_id, room_id)` unique (one link per
  pair; the rooms of an entity), and a partial unique index on
  `(tenant_id, entity_type, entity_id) WHERE is_primary`: one primary room per entity.
  `(tenant_id, room_id)` for the links of a room.
- `room_members`: primary key `(room_id, user_id)` (a room's members in user order,
  and one membership per user), `(tenant_id, user_id)` for the rooms a user is in.
- `room_settings`: primary key `(room_id, key)`.

Links, members and settings go with their room (`ON DELETE CASCADE`); a room is
only ever marked deleted by the service, so this matters for operators' clean-ups.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

C = "C"


def _room_fk() -> sa.ForeignKey:
    return sa.ForeignKey("rooms.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("slug", sa.Text(collation=C), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("visibility", sa.Text, nullable=False, server_default="private"),
        sa.Column("created_by", sa.Text(collation=C), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("status IN ('active', 'archived', 'deleted')", name="ck_rooms_status"),
        sa.CheckConstraint("visibility IN ('public', 'private')", name="ck_rooms_visibility"),
    )
    op.create_index("uq_rooms_slug", "rooms", ["tenant_id", "slug"], unique=True)
    op.create_index("ix_rooms_tenant", "rooms", ["tenant_id", "id"])
    op.create_table(
        "room_entities",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("room_id", sa.BigInteger, _room_fk(), nullable=False),
        sa.Column("entity_type", sa.Text(collation=C), nullable=False),
        sa.Column("entity_id", sa.Text(collation=C), nullable=False),
        sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index(
        "uq_room_entities_link",
        "room_entities",
        ["tenant_id", "entity_type", "entity_id", "room_id"],
        unique=True,
    )
    op.create_index(
        "uq_room_entities_primary",
        "room_entities",
        ["tenant_id", "entity_type", "entity_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )
    op.create_index("ix_room_entities_room", "room_entities", ["tenant_id", "room_id"])
    op.create_table(
        "room_members",
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("room_id", sa.BigInteger, _room_fk(), nullable=False),
        sa.Column("user_id", sa.Text(collation=C), nullable=False),
        sa.Column("role", sa.Text, nullable=False, server_default="member"),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name="pk_room_members"),
        sa.CheckConstraint("role IN ('member', 'moderator', 'admin')", name="ck_room_members_role"),
    )
    op.create_index("ix_room_members_user", "room_members", ["tenant_id", "user_id"])
    op.create_table(
        "room_settings",
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("room_id", sa.BigInteger, _room_fk(), nullable=False),
        sa.Column("key", sa.Text(collation=C), nullable=False),
        sa.Column("value", postgresql.JSONB, nullable=False),
        sa.PrimaryKeyConstraint("room_id", "key", name="pk_room_settings"),
    )


def downgrade() -> None:
    op.drop_table("room_settings")
    op.drop_table("room_members")
    op.drop_table("room_entities")
    op.drop_table("rooms")
