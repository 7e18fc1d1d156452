"""Entity lifecycle (rooms service): what the last applied event of each entity set.

Entity events can arrive repeated or out of order; these tables hold the registers of
`services/rooms/domain/entity_state.py`, each with the version of the event that wrote
it, so an older event is recognised and changes nothing:

- `entity_states`: one row per `(tenant_id, entity_type, entity_id)` (its primary key,
  also the row locked while an event of the entity is applied): whether a `created`
  was seen, its status, name and visibility, each with its version.
- `entity_members`: one row per `(tenant_id, entity_type, entity_id, user_id)` (its
  primary key; the members of an entity are a prefix scan): present with a role, or a
  tombstone (`present` false) that outlives the membership, so a `member_added` older
  than the removal is refused.

Versions are `occurredAt * 8 + rank` (bigint); -1 means "never written".

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

C = "C"


def _text_key(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(collation=C), nullable=False)


def _version(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default=sa.text("-1"))


def _updated_at() -> sa.Column[object]:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "entity_states",
        _text_key("tenant_id"),
        _text_key("entity_type"),
        _text_key("entity_id"),
        sa.Column("created", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.Text(collation=C), nullable=True),
        sa.Column("status", sa.Text, nullable=True),
        _version("status_version"),
        sa.Column("name", sa.Text, nullable=True),
        _version("name_version"),
        sa.Column("visibility", sa.Text, nullable=True),
        _version("visibility_version"),
        _updated_at(),
        sa.PrimaryKeyConstraint("tenant_id", "entity_type", "entity_id", name="pk_entity_states"),
        sa.CheckConstraint("status IN ('active', 'deleted')", name="ck_entity_states_status"),
        sa.CheckConstraint(
            "visibility IN ('public', 'private')", name="ck_entity_states_visibility"
        ),
    )
    op.create_table(
        "entity_members",
        _text_key("tenant_id"),
        _text_key("entity_type"),
        _text_key("entity_id"),
        _text_key("user_id"),
        sa.Column("present", sa.Boolean, nullable=False),
        sa.Column("role", sa.Text, nullable=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        _updated_at(),
        sa.PrimaryKeyConstraint(
            "tenant_id", "entity_type", "entity_id", "user_id", name="pk_entity_members"
        ),
        sa.CheckConstraint(
            "role IN ('member', 'moderator', 'admin')", name="ck_entity_members_role"
        ),
    )


def downgrade() -> None:
    op.drop_table("entity_members")
    op.drop_table("entity_states")
