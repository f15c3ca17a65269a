"""The intake writer's episode cache (SQLite): repeats skip reading back what the writer
committed, and anything committed by another connection, or a failed batch, makes the
next batch read the database again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from bot.config import Settings
from bot.roles import create_app
from routing.intake.episode_cache import EpisodeCache
from routing.storage.database import make_engine

ALERT = {"title": "disk full", "severity": "warning", "service": "api", "fingerprint": "disk-1"}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cache.db"


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=sqlite_url))) as test_client:
        yield test_client


def _occurrences(url: str) -> list[int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT occurrences FROM alert ORDER BY id")).scalars().all()
    engine.dispose()
    return list(rows)


def _cache(client: TestClient) -> EpisodeCache:
    cache = client.app.state.runtime.intake.episodes  # type: ignore[attr-defined]
    assert isinstance(cache, EpisodeCache)
    return cache


def test_repeats_are_counted_from_the_cache_and_stored(client: TestClient, sqlite_url: str) -> None:
    for _ in range(5):
        assert client.post("/webhooks/generic", json=ALERT).status_code == 202
    assert len(_cache(client)) == 1
    assert _occurrences(sqlite_url) == [5]


def test_a_commit_by_another_connection_is_read_back(client: TestClient, sqlite_url: str) -> None:
    client.post("/webhooks/generic", json=ALERT)
    client.post("/webhooks/generic", json=ALERT)
    # Another writer (the CLI, a second server) changes the row behind the cache's back.
    other = make_engine(sqlite_url)
    with other.begin() as conn:
        conn.execute(text("UPDATE alert SET occurrences = 100"))
    other.dispose()
    answer = client.post("/webhooks/generic", json=ALERT)
    assert answer.json()["decisions"] == {"repeat": 1}
    assert _occurrences(sqlite_url) == [101]


def _alert(fingerprint: str, status: str = "firing") -> dict[str, str]:
    return {**ALERT, "fingerprint": fingerprint, "status": status}


def _replay(url: str, cached: bool) -> tuple[list[Any], list[Any]]:
    """One history of webhooks, API actions and a foreign write; the tables it leaves."""
    app = create_app(Settings(database_url=url))
    with TestClient(app) as client:
        if not cached:
            app.state.runtime.intake.episodes = None
        post = client.post
        for body in (_alert("a"), _alert("b"), _alert("a"), _alert("a", "resolved")):
            assert post("/webhooks/generic", json=body).status_code == 202
        incident = client.get("/api/v1/incidents").json()["items"][0]["id"]
        assert post(f"/api/v1/incidents/{incident}/ack").status_code == 200
        for body in (_alert("a"), _alert("b"), _alert("b", "resolved"), _alert("a", "resolved")):
            assert post("/webhooks/generic", json=body).status_code == 202
        # 409 when its alerts all resolved it already: the same either way.
        assert post(f"/api/v1/incidents/{incident}/resolve").status_code in (200, 409)
        other = make_engine(url)
        with other.begin() as conn:
            conn.execute(text("UPDATE alert SET occurrences = occurrences + 10, flips = 0"))
        other.dispose()
        for body in (_alert("a"), _alert("b"), _alert("a"), _alert("c"), _alert("b", "resolved")):
            assert post("/webhooks/generic", json=body).status_code == 202
    engine = make_engine(url)
    with engine.connect() as conn:
        alerts = conn.execute(
            text(
                "SELECT fingerprint, episode, status, occurrences, incident_id, flips, flapping, "
                "resolved_at IS NULL FROM alert ORDER BY id"
            )
        ).all()
        incidents = conn.execute(
            text("SELECT id, status, alert_count, open_alert_count FROM incident ORDER BY id")
        ).all()
    engine.dispose()
    return [tuple(r) for r in alerts], [tuple(r) for r in incidents]


def test_the_cache_changes_no_outcome(tmp_path: Path) -> None:
    with_cache = _replay(f"sqlite:///{tmp_path}/cached.db", cached=True)
    without = _replay(f"sqlite:///{tmp_path}/uncached.db", cached=False)
    assert with_cache == without
    alerts, incidents = with_cache
    # The foreign write (+10) counted, the resolved incident reopened on the next fire.
    assert [(a[2], a[3]) for a in alerts] == [("firing", 15), ("resolved", 13), ("firing", 1)]
    assert incidents == [(1, "triggered", 3, 2)]


def test_a_failed_batch_forgets_what_it_changed(client: TestClient, sqlite_url: str) -> None:
    client.post("/webhooks/generic", json=ALERT)
    intake = client.app.state.runtime.intake  # type: ignore[attr-defined]

    def fail(_conn: Connection, _outcome: Any, _now: Any) -> None:
        raise RuntimeError("a hook failed after ingest")

    intake.in_transaction.append(fail)
    with pytest.raises(RuntimeError):
        client.post("/webhooks/generic", json=ALERT)  # the test client re-raises the 500
    intake.in_transaction.remove(fail)
    assert len(_cache(client)) == 0
    assert client.post("/webhooks/generic", json=ALERT).json()["decisions"] == {"repeat": 1}
    assert _occurrences(sqlite_url) == [2]  # the failed repeat left no trace


def test_the_cache_is_bounded_and_stays_correct(sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url))
    with TestClient(app) as client:
        _cache(client).capacity = 3
        for round_no in range(3):
            for n in range(10):
                alert = {**ALERT, "fingerprint": f"disk-{n}"}
                assert client.post("/webhooks/generic", json=alert).status_code == 202
            assert len(_cache(client)) <= 3, round_no
    assert _occurrences(sqlite_url) == [3] * 10


def test_postgresql_writers_read_every_batch(pg_database_url: str) -> None:
    app = create_app(Settings(database_url=pg_database_url))
    assert app.state.runtime.intake.episodes is None
