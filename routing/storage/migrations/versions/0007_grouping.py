"""grouping people can predict: group keys carry their source, incidents record their
sources and when they last gained an alert (bounded cross-source correlation), alerts say
how they came into their incident; incident.group_names (the old wildcard index) goes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import routing.storage.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_KEY_LENGTH = 400


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(
            sa.Column("sources", AutoString(length=400), nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column(
                "last_alert_at", routing.storage.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("group_reason", AutoString(), nullable=False, server_default=""))
    conn = op.get_bind()
    # Keys are "<source> <labels JSON>" now: the old ones get the source of their alert,
    # an incident's that of the alert that opened it (its first).
    conn.execute(
        sa.text(
            "UPDATE alert SET group_key = source || ' ' || group_key "
            "WHERE group_key <> '' AND group_key LIKE '{%'"
        )
    )
    sources: dict[int, list[str]] = defaultdict(list)
    for incident_id, source in conn.execute(
        sa.text("SELECT incident_id, source FROM alert WHERE incident_id IS NOT NULL ORDER BY id")
    ):
        if source not in sources[incident_id]:
            sources[incident_id].append(source)
    incidents = conn.execute(sa.text("SELECT id, group_key FROM incident")).all()
    for incident_id, key in incidents:
        found = sources.get(incident_id, [])
        if found and key.startswith("{") and len(found[0]) + 1 + len(key) <= _KEY_LENGTH:
            key = f"{found[0]} {key}"
        conn.execute(
            sa.text(
                "UPDATE incident SET group_key = :key, sources = :sources, "
                "last_alert_at = updated_at WHERE id = :id"
            ),
            {
                "key": key,
                "sources": json.dumps(sorted(found), separators=(",", ":")),
                "id": incident_id,
            },
        )
    with op.batch_alter_table("alert") as batch:
        batch.create_index("ix_alert_group_key", ["group_key", "incident_id"], unique=False)
    _drop_column("incident", "group_names")


def downgrade() -> None:
    # Keys keep their source prefix; the old code only compared them as text.
    op.add_column(
        "incident",
        sa.Column("group_names", AutoString(length=400), nullable=False, server_default="[]"),
    )
    op.drop_index("ix_alert_group_key", table_name="alert")
    for table, column in (
        ("alert", "group_reason"),
        ("incident", "last_alert_at"),
        ("incident", "sources"),
    ):
        _drop_column(table, column)


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite 3.35+): a batch rebuild would drop the table, which the
        # foreign keys pointing at it refuse once there is data.
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)
