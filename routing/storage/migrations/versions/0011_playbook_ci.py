"""playbook_step remote and approval columns, playbook_approval: CI steps and approvals

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import routing.storage.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TIME = routing.storage.tables.UTCDateTime(timezone=True)


def _step_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("correlation_id", AutoString(length=128), nullable=False, server_default=""),
        sa.Column("dispatch", AutoString(length=16), nullable=False, server_default=""),
        sa.Column("dispatched_at", _TIME, nullable=True),
        sa.Column("remote_id", AutoString(length=200), nullable=False, server_default=""),
        sa.Column("remote_url", sa.Text(), nullable=False, server_default=""),
        sa.Column("remote_status", AutoString(length=64), nullable=False, server_default=""),
        sa.Column("conclusion", AutoString(length=64), nullable=False, server_default=""),
        sa.Column("wait_until", _TIME, nullable=True),
        sa.Column("request_hash", AutoString(length=64), nullable=False, server_default=""),
        sa.Column("approval_expires_at", _TIME, nullable=True),
        sa.Column("reminded_at", _TIME, nullable=True),
    ]


def upgrade() -> None:
    # batch: SQLite cannot add columns with constraints in place on every version.
    with op.batch_alter_table("playbook_step") as batch:
        for column in _step_columns():
            batch.add_column(column)
        # "awaiting_approval" is 17 characters
        batch.alter_column(
            "status",
            type_=AutoString(length=32),
            existing_type=AutoString(length=16),
            existing_nullable=False,
        )
    op.create_table(
        "playbook_approval",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("step_row_id", sa.Integer(), sa.ForeignKey("playbook_step.id"), nullable=False),
        sa.Column("approver", AutoString(length=200), nullable=False),
        sa.Column("decision", AutoString(length=16), nullable=False),
        sa.Column("surface", AutoString(length=16), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("request_hash", AutoString(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint(
            "step_row_id", "approver", "request_hash", name="uq_playbook_approval_decision"
        ),
    )
    op.create_index("ix_playbook_approval_step_row_id", "playbook_approval", ["step_row_id"])


def downgrade() -> None:
    op.drop_index("ix_playbook_approval_step_row_id", table_name="playbook_approval")
    op.drop_table("playbook_approval")
    with op.batch_alter_table("playbook_step") as batch:
        batch.alter_column(
            "status",
            type_=AutoString(length=16),
            existing_type=AutoString(length=32),
            existing_nullable=False,
        )
        for column in reversed(_step_columns()):
            batch.drop_column(column.name)
