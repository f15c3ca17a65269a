"""escalation.paused_at / paused_reason: a step that came due while every alert of its
incident was muted waits, and says why

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import routing.storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.add_column(
            sa.Column("paused_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("paused_reason", AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.drop_column("paused_reason")
        batch.drop_column("paused_at")
