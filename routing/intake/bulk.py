"""Batched statements for the ingest transaction: chunking, insert-if-absent and the
bound parameters of an executemany UPDATE by id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

CHUNK = 500  # keep IN lists and executemany batches well under driver limits


def chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, executemany (unlike
    storage.database.insert_ignoring_duplicates, it does not count what was new)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for chunk in chunks(rows):
        conn.execute(dialect.insert(table).on_conflict_do_nothing(), chunk)


def bind(values: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Parameters for an UPDATE whose SET uses `b_<name>` and whose WHERE uses `b_id`
    (the `b_` keeps bind names apart from the column names SQLAlchemy reserves)."""
    bound = {"b_" + name: values[name] for name in names}
    bound["b_id"] = values["id"]
    return bound
