"""silence reminders: outbox rows about a silence instead of an incident

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 15:10:00

A reminder that a silence ends soon goes through the same outbox as pages (one place
for retries, backoff and metrics), so `notification.incident_id` becomes nullable and
two columns say which silence it is about: `silence_id` and `payload` (the silence as
queued, since config silences are not in the database). Batch mode: SQLite recreates
the table, keeping its constraints and indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("silence_id", AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Reminders have no incident and cannot survive the NOT NULL coming back.
    op.execute(sa.text("DELETE FROM notification WHERE incident_id IS NULL"))
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("payload")
        batch_op.drop_column("silence_id")
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
