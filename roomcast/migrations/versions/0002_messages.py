"""Stored messages (persistence service).

One row per message of the JetStream log. The persistence service inserts with
`ON CONFLICT DO NOTHING`, so a redelivered message stays one row. Ids, ids of
tenants and users, and conversation keys use the "C" collation: text order is byte
order (ids are fixed-width hex and sort in send order) and comparisons are cheap
whatever the database's locale.

Indexes, each led by `tenant_id`, serve exactly the history queries:

- primary key `(tenant_id, conversation, id)`: a message's id is unique, and its
  conversation follows from it, so this is also the idempotency key; it serves a
  direct conversation (or a room) newest first. There is deliberately no index on
  `id` alone: the planner could walk it backwards and filter, which is fast for a
  busy conversation on average and very slow for one whose messages are clustered.
- `(tenant_id, sender_id, id)` and `(tenant_id, recipient_id, id)`: a user's own
  room `user:{id}` (everything they sent or received).
- `(tenant_id, id) WHERE supervised`: a tenant's admins room.
- unique `(sender_tenant, sender_id, client_id)`: one row per idempotency key, even
  for a retry the log's duplicate window no longer catches.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

C = "C"


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Text(collation=C), nullable=False),
        sa.Column("tenant_id", sa.Text(collation=C), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("conversation", sa.Text(collation=C), nullable=False),
        sa.Column("sender_tenant", sa.Text(collation=C), nullable=False),
        sa.Column("sender_id", sa.Text(collation=C), nullable=False),
        sa.Column("sender_role", sa.Text, nullable=False),
        sa.Column("sender_name", sa.Text, nullable=True),
        sa.Column("recipient_id", sa.Text(collation=C), nullable=True),
        sa.Column("room", sa.Text(collation=C), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("client_id", sa.Text(collation=C), nullable=True),
        sa.Column("supervised", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "stored_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("tenant_id", "conversation", "id", name="pk_messages"),
    )
    op.create_index("ix_messages_sender", "messages", ["tenant_id", "sender_id", "id"])
    op.create_index("ix_messages_recipient", "messages", ["tenant_id", "recipient_id", "id"])
    op.create_index(
        "ix_messages_supervised",
        "messages",
        ["tenant_id", "id"],
        postgresql_where=sa.text("supervised"),
    )
    op.create_index(
        "uq_messages_client_id",
        "messages",
        ["sender_tenant", "sender_id", "client_id"],
        unique=True,
        postgresql_where=sa.text("client_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("messages")
