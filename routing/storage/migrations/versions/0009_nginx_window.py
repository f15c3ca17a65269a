"""alert.window_stamps: the threshold's sliding window replaces window_start/window_count

The times of a pending alert's recent occurrences (routing.intake.threshold_window).
A pending alert's fixed window carries over as `window_count` occurrences at its
`window_start`, which counts the same within that window as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import routing.storage.tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TIME = routing.storage.tables.UTCDateTime(timezone=True)


def _alert(*columns: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table("alert", sa.column("id", sa.Integer()), *columns)


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(
            sa.Column("window_stamps", AutoString(), nullable=False, server_default="")
        )
    conn = op.get_bind()
    old = _alert(
        sa.column("status", AutoString()),
        sa.column("window_start", _TIME),
        sa.column("window_count", sa.Integer()),
    )
    new = _alert(sa.column("window_stamps", AutoString()))
    pending = conn.execute(
        sa.select(old.c.id, old.c.window_start, old.c.window_count).where(
            old.c.status == "pending", old.c.window_start.is_not(None), old.c.window_count > 0
        )
    ).all()
    for alert_id, start, count in pending:
        stamp = str((start.astimezone(UTC) - _EPOCH) // _MICROSECOND)
        conn.execute(
            sa.update(new)
            .where(new.c.id == alert_id)
            .values(window_stamps=",".join([stamp] * count))
        )
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("window_count")
        batch.drop_column("window_start")


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("window_start", _TIME, nullable=True))
        batch.add_column(
            sa.Column("window_count", sa.Integer(), nullable=False, server_default="0")
        )
    conn = op.get_bind()
    alert = _alert(
        sa.column("window_stamps", AutoString()),
        sa.column("window_start", _TIME),
        sa.column("window_count", sa.Integer()),
    )
    rows = conn.execute(
        sa.select(alert.c.id, alert.c.window_stamps).where(alert.c.window_stamps != "")
    ).all()
    for alert_id, stamps in rows:
        times = stamps.split(",")
        start = _EPOCH + timedelta(microseconds=int(times[0]))
        conn.execute(
            sa.update(alert)
            .where(alert.c.id == alert_id)
            .values(window_start=start, window_count=len(times))
        )
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("window_stamps")
