"""Where the events relay stands: for each user, the number of the last event it published.

A table of its own rather than a column of `event_sequence`: that row is locked by every write
of the user's until the write commits (migration 0012), so the relay advancing its position
there would queue behind users' writes, and they behind it. Here the relay writes alone.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_relay",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("published_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_event_relay")),
    )


def downgrade() -> None:
    op.drop_table("event_relay")
