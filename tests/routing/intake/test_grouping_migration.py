"""Migration 0007 on data written by the previous schema, on SQLite and PostgreSQL: group
keys gain their source, incidents their sources and last_alert_at, and ingest then goes
on grouping into the migrated incident."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from routing.intake.ingest import ingest
from routing.intake.storm_sql import sqlite_datetime
from routing.intake.submission import IngestPolicy, Submission
from routing.storage.database import make_engine
from routing.storage.migrate import alembic_config, upgrade
from tests.routing.intake.test_grouping_store import am

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def test_old_keys_gain_their_source_and_ingest_keeps_grouping(unmigrated_database_url: str) -> None:
    upgrade(unmigrated_database_url, "0006")
    engine = make_engine(unmigrated_database_url)
    at = sqlite_datetime(T0) if unmigrated_database_url.startswith("sqlite") else T0
    old_key = '{"alertname":"Disk","service":"api"}'
    disk = am("Disk")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incident (title, status, severity, severity_rank, service, "
                "group_key, group_labels, group_names, alert_count, open_alert_count, "
                "created_at, updated_at) VALUES ('Disk', 'triggered', 'critical', 3, 'api', "
                ":key, '{}', '[\"alertname\",\"service\"]', 1, 1, :at, :at)"
            ),
            {"key": old_key, "at": at},
        )
        conn.execute(
            text(
                "INSERT INTO alert (fingerprint, episode, source, status, severity, service, "
                "title, description, labels, annotations, first_seen, last_seen, occurrences, "
                "flips, flapping, window_count, incident_id, fingerprint_fields, group_key, "
                "content_hash) VALUES (:fp, 1, 'alertmanager', 'firing', 'critical', 'api', "
                "'Disk', '', '{}', '{}', :at, :at, 1, 0, false, 0, (SELECT id FROM incident), "
                "'{}', :key, '')"
            ),
            {"fp": disk.fingerprint, "at": at, "key": old_key},
        )
        conn.execute(
            text(
                "INSERT INTO alert_identity (fingerprint, current_alert_id, episodes) "
                "VALUES (:fp, (SELECT id FROM alert), 1)"
            ),
            {"fp": disk.fingerprint},
        )
    upgrade(unmigrated_database_url, "0007")
    with engine.connect() as conn:
        incident = conn.execute(
            text("SELECT group_key, sources, last_alert_at FROM incident")
        ).one()
        alert_key = conn.execute(text("SELECT group_key FROM alert")).scalar_one()
    assert incident[0] == alert_key == f"alertmanager {old_key}"
    assert incident[1] == '["alertmanager"]' and incident[2] is not None
    # Down and up again, with the data in place (SQLite rebuilds nothing).
    command.downgrade(alembic_config(unmigrated_database_url), "0006")
    upgrade(unmigrated_database_url)
    # Another instance of the same alertname joins the migrated incident by its group.
    with engine.begin() as conn:
        outcome = ingest(
            conn, [Submission("alertmanager", [am("Disk", instance="b")])], T0, IngestPolicy()
        )
    with engine.connect() as conn:
        incident_id = conn.execute(text("SELECT id FROM incident")).scalar_one()
    assert outcome.submissions[0].alerts[0].incident_id == incident_id
    engine.dispose()
