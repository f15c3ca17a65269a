"""paging: silences, escalations, the notification outbox, paging decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 14:05:18
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import routing.storage.paging_tables  # registers the paging tables on SQLModel.metadata
import routing.storage.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "silence",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", AutoString(length=200), nullable=False),
        sa.Column("comment", AutoString(), nullable=False),
        sa.Column("recurrence", sa.JSON(), nullable=True),
        sa.Column("created_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expired_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expired_by", AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.create_index("ix_silence_window", ["expired_at", "ends_at"], unique=False)

    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("policy", AutoString(length=200), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("route_path", AutoString(length=200), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("pass_no", sa.Integer(), nullable=False),
        sa.Column("step_no", sa.Integer(), nullable=False),
        sa.Column("started_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "policy", "round", name="uq_escalation_incident_policy"),
    )
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.create_index("ix_escalation_due", ["state", "due_at"], unique=False)

    op.create_table(
        "paging_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", AutoString(length=64), nullable=False),
        sa.Column("at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", AutoString(length=16), nullable=False),
        sa.Column("silence_id", AutoString(length=64), nullable=True),
        sa.Column("route_path", AutoString(length=200), nullable=True),
        sa.Column("detail", AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("paging_decision", schema=None) as batch_op:
        batch_op.create_index("ix_paging_decision_incident", ["incident_id", "id"], unique=False)
        batch_op.create_index("ix_paging_decision_silence", ["silence_id"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.Column("dedup_key", AutoString(length=200), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("recipient", AutoString(length=200), nullable=False),
        sa.Column("via", AutoString(length=200), nullable=False),
        sa.Column("policy", AutoString(length=200), nullable=True),
        sa.Column("step", AutoString(length=200), nullable=True),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "first_due_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "next_attempt_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "claimed_until", routing.storage.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("claimed_by", AutoString(length=200), nullable=True),
        sa.Column("sent_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_ref", AutoString(length=200), nullable=True),
        sa.Column("detail", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key", name="uq_notification_dedup"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_notification_incident", ["incident_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_incident")
        batch_op.drop_index("ix_notification_due")

    op.drop_table("notification")
    with op.batch_alter_table("paging_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_paging_decision_silence")
        batch_op.drop_index("ix_paging_decision_incident")

    op.drop_table("paging_decision")
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_index("ix_escalation_due")

    op.drop_table("escalation")
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.drop_index("ix_silence_window")

    op.drop_table("silence")
