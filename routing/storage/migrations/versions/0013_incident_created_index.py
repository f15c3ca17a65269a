"""incident.created_at index: reports read the incidents opened in a period

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incident_created", "incident", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_incident_created", table_name="incident")
