"""Shared fixtures: every database test runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from routing.storage.migrate import upgrade
from tests.support.paths import SHARED_FIXTURES as SHARED

PG_ADMIN_URL = os.environ.get("FIREBELL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# In CI a missing PostgreSQL is a failure, never a silent skip.
REQUIRE_PG = os.environ.get("FIREBELL_REQUIRE_PG") == "1"
SHARED_FIXTURES = SHARED


def _pg_url_for(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it (fast, isolated)."""
    try:
        conn = _admin()
    except psycopg.Error as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}")
    name = f"fb_tmpl_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url_for(name))
    yield name
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fresh_pg_database(template: str) -> tuple[str, str]:
    name = f"fb_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name, _pg_url_for(name)


def _drop_pg_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/firebell.db"
        upgrade(url)
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name, url = _fresh_pg_database(template)
    yield url
    _drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def unmigrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, never-migrated database, for migration tests that upgrade step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/unmigrated.db"
        return
    request.getfixturevalue("pg_template")  # skips (or fails in CI) without PostgreSQL
    name = f"fb_mig_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _pg_url_for(name)
    _drop_pg_database(name)


@pytest.fixture
def pg_database_url(pg_template: str) -> Iterator[str]:
    name, url = _fresh_pg_database(pg_template)
    yield url
    _drop_pg_database(name)
