"""Room kinds served by policies (rooms service, seed 001): the kind registry.

- `policy_kinds`: one row per kind a policy worker registered (`kind` is the primary
  key; kinds are global, a policy answers for every tenant). `worker` and `seen_at`
  are the last registration's; `registered_at` the first's. A kind is never removed by
  the service: a registered kind whose policy is down answers `UNAVAILABLE`, and only
  a kind nobody ever registered is `NOT_FOUND`.

The table depends on no other, so this revision may follow any other.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_kinds",
        sa.Column("kind", sa.Text(collation="C"), primary_key=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("worker", sa.Text, nullable=False),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column(
            "seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("policy_kinds")
