"""The store tests' engine, on SQLite and on PostgreSQL (the database_url fixture)."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from routing.storage.database import make_engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
