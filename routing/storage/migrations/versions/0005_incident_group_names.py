"""incident.group_names: the group's label names, so ingest reads only the open
incidents a new alert could join

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 16:15:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(
            sa.Column("group_names", AutoString(length=400), nullable=False, server_default="[]")
        )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, group_labels FROM incident")).all()
    for incident_id, labels in rows:
        if isinstance(labels, str):
            labels = json.loads(labels)
        names = json.dumps(sorted(labels or {}), separators=(",", ":"), ensure_ascii=False)
        conn.execute(
            sa.text("UPDATE incident SET group_names = :names WHERE id = :id"),
            {"names": names, "id": incident_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("group_names")
