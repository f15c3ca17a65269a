"""The `database:` section: how long firebell waits for PostgreSQL before it answers 503.

SQLite is a file on the local disk, with no network to wait on; these deadlines apply
to a PostgreSQL `database_url` (see routing.storage.postgres_deadlines).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator

from bot.config.fields import PositiveDuration, Section
from routing.storage.postgres_deadlines import PostgresTimeouts


def _whole_seconds(value: timedelta) -> timedelta:
    # libpq's connect_timeout counts whole seconds and treats anything below 2 as 2.
    if value < timedelta(seconds=2) or value.microseconds:
        raise ValueError("must be whole seconds, 2s at least (libpq's connect_timeout)")
    return value


class Database(Section):
    # Give up connecting (TCP and the PostgreSQL handshake) after this long.
    connect_timeout: Annotated[PositiveDuration, AfterValidator(_whole_seconds)] = timedelta(
        seconds=2
    )
    # The server cancels a statement after this long; the client drops a connection that
    # has not answered a statement, commit or ping 0.5s later (a network partition).
    statement_timeout: PositiveDuration = timedelta(seconds=3)
    # A request waits this long for a free pooled connection.
    pool_timeout: PositiveDuration = timedelta(seconds=2)

    def postgres_timeouts(self) -> PostgresTimeouts:
        return PostgresTimeouts(
            connect=int(self.connect_timeout.total_seconds()),
            statement=self.statement_timeout.total_seconds(),
            pool=self.pool_timeout.total_seconds(),
        )


def connect_timeout_twice(database_url: str, database: Database) -> str | None:
    """The problem when the URL's query and `database.connect_timeout` both set it."""
    from sqlalchemy.engine import make_url

    from routing.storage.database import sqlalchemy_url

    if "connect_timeout" not in database.model_fields_set:
        return None
    if "connect_timeout" not in make_url(sqlalchemy_url(database_url)).query:
        return None
    return (
        "database.connect_timeout: also set as connect_timeout in database_url; set it in one place"
    )
