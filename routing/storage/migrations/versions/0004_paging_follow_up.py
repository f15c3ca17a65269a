"""paging follow-up: held incidents (paged when their mute ends) and channel feeds
(group_interval updates and repeat_interval re-posts)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import routing.storage.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, routing.storage.tables.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "paging_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("outcome", AutoString(length=16), nullable=False),
        sa.Column("silence_id", AutoString(length=64), nullable=True),
        sa.Column("detail", AutoString(), nullable=False),
        _ts("held_at"),
        _ts("recheck_at"),
        _ts("finished_at", nullable=True),
        sa.Column("reason", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "round", name="uq_paging_hold_incident_round"),
    )
    with op.batch_alter_table("paging_hold", schema=None) as batch_op:
        batch_op.create_index("ix_paging_hold_due", ["state", "recheck_at"], unique=False)

    op.create_table(
        "channel_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("address_key", AutoString(length=32), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("route_path", AutoString(length=200), nullable=False),
        sa.Column("group_interval_s", sa.Integer(), nullable=False),
        sa.Column("repeat_interval_s", sa.Integer(), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("notices", sa.Integer(), nullable=False),
        _ts("last_notice_at"),
        sa.Column("joined", sa.Integer(), nullable=False),
        _ts("update_due_at", nullable=True),
        _ts("next_check_at"),
        _ts("finished_at", nullable=True),
        sa.Column("reason", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "round", "address_key", name="uq_channel_feed"),
    )
    with op.batch_alter_table("channel_feed", schema=None) as batch_op:
        batch_op.create_index("ix_channel_feed_due", ["state", "next_check_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_feed", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_feed_due")
    op.drop_table("channel_feed")
    with op.batch_alter_table("paging_hold", schema=None) as batch_op:
        batch_op.drop_index("ix_paging_hold_due")
    op.drop_table("paging_hold")
