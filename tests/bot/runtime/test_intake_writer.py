"""The intake's writer keeps one database connection; when the database drops it between
batches (a restart, an idle timeout), the next webhook is still accepted, not a 503."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.roles import create_app
from routing.storage.database import sqlalchemy_url

ALERT = {"title": "disk full", "severity": "warning", "service": "api"}


def _libpq_url(url: str) -> str:
    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")


def test_a_connection_killed_between_batches_is_replaced(pg_database_url: str) -> None:
    app = create_app(Settings(database_url=pg_database_url))
    with TestClient(app) as client:
        assert client.post("/webhooks/generic", json=ALERT).status_code == 202
        with psycopg.connect(_libpq_url(pg_database_url), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed is not None and killed[0] >= 1  # the writer's connection among them
        again = client.post("/webhooks/generic", json=ALERT)
        assert again.status_code == 202, again.text
        assert again.json()["decisions"] == {"repeat": 1}
