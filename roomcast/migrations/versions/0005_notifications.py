"""Notifications (persistence service, seed 002): stored once, read state per user.

- `notifications`: one row per notification, whatever its target's size. `tenant_id`
  is the target's tenant (`''` for a platform-wide role, which no tenant id can be);
  `audience` says who in it sees the row: `user:{userId}`, `tenant`, `role:{role}`,
  `admins`, or `platform:{role}`. Ids are global (identity) and grow in insert order.
  Indexes: `(tenant_id, audience, id)` serves every inbox query (a user's inbox is the
  union of at most five audiences, each read newest first from this index, and the
  unread count walks the same ranges); a partial unique `(tenant_id, idempotency_key)`
  makes a repeated publication one row.
- `notification_states`: a user's read/dismissed state of one notification, written
  only when the user acts (lazily): primary key `(tenant_id, user_id, notification_id)`
  where `tenant_id` is the user's tenant. (No index on `notification_id` alone: nothing
  deletes notifications yet; a clean-up of expired ones will want one.)
- `notification_cursors`: mark-all-read as one row per user, `(tenant_id, user_id)` →
  `read_through`, the largest id the user saw when they marked everything read; every
  notification at or below it is read without a state row (a tenant of a million
  notifications is marked read with one write).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

C = "C"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("audience", sa.Text(collation=C), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("data", postgresql.JSONB, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("idempotency_key", sa.Text(collation=C), nullable=True),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name="ck_notifications_priority"
        ),
    )
    op.create_index("ix_notifications_audience", "notifications", ["tenant_id", "audience", "id"])
    op.create_index(
        "uq_notifications_idempotency_key",
        "notifications",
        ["tenant_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_table(
        "notification_states",
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("user_id", sa.Text(collation=C), nullable=False),
        sa.Column(
            "notification_id",
            sa.BigInteger,
            sa.ForeignKey("notifications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("read_at", sa.BigInteger, nullable=True),
        sa.Column("dismissed_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "user_id", "notification_id", name="pk_notification_states"
        ),
    )
    op.create_table(
        "notification_cursors",
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("user_id", sa.Text(collation=C), nullable=False),
        sa.Column("read_through", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_notification_cursors"),
    )


def downgrade() -> None:
    op.drop_table("notification_cursors")
    op.drop_table("notification_states")
    op.drop_table("notifications")
