"""Fixtures shared by the playbook tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from routing.storage.database import make_engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's migrated database (SQLite, then PostgreSQL)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
