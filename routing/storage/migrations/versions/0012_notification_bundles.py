"""notification released_at and bundle_id: pages held and sent as one bundle in a pager storm

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import routing.storage.tables

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.add_column(
            sa.Column(
                "released_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch.add_column(sa.Column("bundle_id", sa.Integer(), nullable=True))
    op.create_index("ix_notification_released", "notification", ["released_at"])


def downgrade() -> None:
    # 0011's worker knows neither a held page nor a bundle: every page not sent yet goes
    # back to pending, to be sent alone, and an unsent bundle is cancelled (its pages are
    # those). Left as they were, they would never be sent.
    notification = sa.table(
        "notification",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("status", sa.String()),
        sa.column("bundle_id", sa.Integer()),
        sa.column("detail", sa.String()),
    )
    unsent = sa.select(notification.c.id).where(
        notification.c.kind == "bundle", notification.c.status == "pending"
    )
    op.execute(
        sa.update(notification)
        .where(notification.c.status == "bundled", notification.c.bundle_id.in_(unsent))
        .values(status="pending", detail=None)
    )
    op.execute(
        sa.update(notification).where(notification.c.status == "held").values(status="pending")
    )
    op.execute(
        sa.update(notification)
        .where(notification.c.kind == "bundle", notification.c.status == "pending")
        .values(status="cancelled", detail="not sent: bundling undone by a downgrade")
    )
    op.drop_index("ix_notification_released", table_name="notification")
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("bundle_id")
        batch.drop_column("released_at")
