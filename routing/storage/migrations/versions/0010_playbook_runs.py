"""playbook_run, playbook_step, playbook_output: playbook runs as rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import routing.storage.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TIME = routing.storage.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "playbook_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("playbook", AutoString(length=100), nullable=False),
        sa.Column("playbook_sha256", AutoString(length=64), nullable=False),
        sa.Column("trigger", AutoString(length=16), nullable=False),
        sa.Column("started_by", AutoString(length=200), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("due_at", _TIME, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("lease_owner", AutoString(length=64), nullable=False),
        sa.Column("cancel_requested_by", AutoString(length=200), nullable=True),
        sa.Column("once_key", AutoString(length=200), nullable=True, unique=True),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("chat_refs", sa.JSON(), nullable=False),
    )
    op.create_index("ix_playbook_run_due", "playbook_run", ["status", "due_at"])
    op.create_index("ix_playbook_run_incident", "playbook_run", ["incident_id"])
    op.create_table(
        "playbook_step",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("playbook_run.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step_id", AutoString(length=64), nullable=False),
        sa.Column("uses", AutoString(length=64), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("excerpt", sa.Text(), nullable=False, server_default=""),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.UniqueConstraint("run_id", "position", name="uq_playbook_step_position"),
    )
    op.create_table(
        "playbook_output",
        sa.Column(
            "step_row_id",
            sa.Integer(),
            sa.ForeignKey("playbook_step.id"),
            primary_key=True,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("cut_lines", sa.Integer(), nullable=False),
        sa.Column("cut_bytes", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("playbook_output")
    op.drop_table("playbook_step")
    op.drop_index("ix_playbook_run_incident", table_name="playbook_run")
    op.drop_index("ix_playbook_run_due", table_name="playbook_run")
    op.drop_table("playbook_run")
