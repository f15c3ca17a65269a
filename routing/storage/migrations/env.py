"""Alembic environment: migrates the database named by the config's `url` option."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import routing.storage.paging_tables  # (registers the paging tables too)
import routing.storage.playbook_tables  # (and the playbook run tables)
import routing.storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from routing.storage.database import make_engine
from routing.storage.postgres_deadlines import PostgresTimeouts

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # No statement deadline: a migration may rewrite a big table for minutes.
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = make_engine(url, timeouts=PostgresTimeouts(statement=None))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
