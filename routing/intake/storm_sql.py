"""The storm path in plain SQL: raw inbox rows, alert episode reads, repeat counters.

In an alert storm almost every alert is a repeat, so what each one costs is one episode
read and one counter update, and each request one inbox row. Through SQLAlchemy Core
that is ~20 µs per row of parameter construction and type processing, more than the
database itself takes; here the statements are written once per dialect and run on the
driver's cursor, inside the caller's transaction (same connection), with the two
conversions the columns need done by hand: UTC datetimes and SQLite's integer booleans.

Column names and storage formats must match routing/storage/tables.py (and SQLAlchemy's SQLite
DATETIME text format, which the rest of the code reads and compares).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, Table

from routing.storage.tables import UTCDateTime

# What dedup needs of an existing episode; the content columns stay unread.
EPISODE_COLUMNS = (
    "id", "fingerprint", "episode", "incident_id", "group_key", "group_reason", "content_hash",
    "status",
    "first_seen", "last_seen", "occurrences", "resolved_at", "flips", "flip_window_start",
    "flapping", "window_stamps", "flapping_until",
)  # fmt: skip
# Dedup state and incident link: what a repeat or a status change writes.
STATE_COLUMNS = (
    "status", "first_seen", "last_seen", "occurrences", "resolved_at", "flips",
    "flip_window_start", "flapping", "window_stamps", "incident_id", "group_key",
    "flapping_until", "group_reason",
)  # fmt: skip
# The part of the state a plain repeat changes; the rest is compared to detect that.
COUNTER_COLUMNS = ("last_seen", "occurrences", "window_stamps")
STEADY_COLUMNS = tuple(c for c in STATE_COLUMNS if c not in COUNTER_COLUMNS)
_DATETIMES = frozenset(
    {"first_seen", "last_seen", "resolved_at", "flip_window_start", "flapping_until"}
)
_EPISODE_DATETIME_AT = tuple(i for i, n in enumerate(EPISODE_COLUMNS) if n in _DATETIMES)
_FLAPPING_AT = EPISODE_COLUMNS.index("flapping")

# (fingerprint, episodes so far, the current episode's columns or None)
IdentityEpisode = tuple[str, int, dict[str, Any] | None]


def _sqlite_in(n: int) -> str:
    return ",".join("?" * n)


@lru_cache(maxsize=64)
def _sqlite_read_sql(n: int) -> str:
    columns = ", ".join(f"a.{c}" for c in EPISODE_COLUMNS)
    return (
        f"SELECT i.fingerprint, i.episodes, {columns} FROM alert_identity AS i "
        "LEFT OUTER JOIN alert AS a ON a.id = i.current_alert_id "
        f"WHERE i.fingerprint IN ({_sqlite_in(n)}) ORDER BY i.fingerprint"
    )


_PG_LOCK_SQL = (
    "SELECT fingerprint, episodes, current_alert_id FROM alert_identity "
    "WHERE fingerprint = ANY(%s) ORDER BY fingerprint FOR UPDATE"
)
_PG_EPISODES_SQL = f"SELECT {', '.join(EPISODE_COLUMNS)} FROM alert WHERE id = ANY(%s)"


@contextmanager
def _cursor(conn: Connection) -> Iterator[Any]:
    """A cursor on the driver connection under `conn`: inside the caller's transaction."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


def _for(conn: Connection, sql: str) -> str:
    """`sql` written with `?` placeholders, in the driver's own style."""
    return sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql


@lru_cache(maxsize=4096)
def sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text (always six fraction digits, so text order is
    time order), in UTC. Cached: a batch writes the same few instants (its `now`, the
    senders' startsAt) into thousands of rows."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _from_sqlite_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


_INBOX_COLUMNS = (
    "source", "received_at", "request_id", "content_type", "body", "alert_count",
    "unparsed_count", "note",
)  # fmt: skip
_INBOX_SQL = f"INSERT INTO inbox ({', '.join(_INBOX_COLUMNS)}) VALUES ({_sqlite_in(8)})"


def insert_inbox(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[int]:
    """Insert raw inbox rows (values in `_INBOX_COLUMNS` order, `received_at` aware) and
    return their ids in order."""
    if conn.dialect.name == "postgresql":
        return _insert_returning_ids(conn, _for(conn, _INBOX_SQL), rows)
    params = []
    for row in rows:
        values = list(row)
        values[1] = sqlite_datetime(values[1])
        params.append(values)
    return _insert_returning_ids(conn, _INBOX_SQL, params)


def _insert_returning_ids(conn: Connection, sql: str, params: Sequence[Sequence[Any]]) -> list[int]:
    """Run a one-row INSERT for each of `params`; the new ids, in order."""
    with _cursor(conn) as cursor:
        if conn.dialect.name == "postgresql":
            cursor.executemany(sql + " RETURNING id", params, returning=True)
            ids = []
            while True:
                ids.append(cursor.fetchone()[0])
                if not cursor.nextset():
                    return ids
        ids = []
        for values in params:  # lastrowid pairs each id with its row
            cursor.execute(sql, values)
            ids.append(cursor.lastrowid)
        return ids


def _from_pg_datetime(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def read_episodes(conn: Connection, fingerprints: Sequence[str]) -> list[IdentityEpisode]:
    """Lock the identity rows of `fingerprints` (sorted, so replicas never deadlock) and
    read each one's current episode. SQLite already holds the write lock (BEGIN
    IMMEDIATE), so one joined statement does; PostgreSQL locks first and reads the
    episodes in a second statement, because a statement that waited for a row lock
    would see the other rows as of its old snapshot."""
    with _cursor(conn) as cursor:
        if conn.dialect.name == "postgresql":
            return _read_pg(cursor, fingerprints)
        cursor.execute(_sqlite_read_sql(len(fingerprints)), list(fingerprints))
        rows: list[IdentityEpisode] = []
        for raw in cursor.fetchall():
            episode = None
            if raw[2] is not None:
                values = list(raw[2:])
                for at in _EPISODE_DATETIME_AT:
                    values[at] = _from_sqlite_datetime(values[at])
                values[_FLAPPING_AT] = bool(values[_FLAPPING_AT])
                episode = dict(zip(EPISODE_COLUMNS, values, strict=True))
            rows.append((raw[0], raw[1], episode))
        return rows


def _read_pg(cursor: Any, fingerprints: Sequence[str]) -> list[IdentityEpisode]:
    cursor.execute(_PG_LOCK_SQL, (list(fingerprints),))
    identities = cursor.fetchall()
    wanted = [current for _fp, _n, current in identities if current is not None]
    episodes: dict[int, list[Any]] = {}
    if wanted:
        cursor.execute(_PG_EPISODES_SQL, (wanted,))
        for raw in cursor.fetchall():
            values = list(raw)
            for at in _EPISODE_DATETIME_AT:
                values[at] = _from_pg_datetime(values[at])
            episodes[values[0]] = values
    rows: list[IdentityEpisode] = []
    for fingerprint, count, current in identities:
        found = episodes.get(current)
        episode = dict(zip(EPISODE_COLUMNS, found, strict=True)) if found else None
        rows.append((fingerprint, count, episode))
    return rows


def update_states(conn: Connection, episodes: Iterable[dict[str, Any]]) -> None:
    """Write the whole dedup state of existing episodes (one executemany)."""
    _update(conn, STATE_COLUMNS, episodes)


def update_counters(conn: Connection, episodes: Iterable[dict[str, Any]]) -> None:
    """Write only what a plain repeat changes. Leaving the indexed and foreign-key
    columns (status, incident_id) out of the SET spares SQLite an index and foreign-key
    check per row, the biggest part of a storm's write cost."""
    _update(conn, COUNTER_COLUMNS, episodes)


@lru_cache(maxsize=8)
def _update_sql(columns: tuple[str, ...]) -> str:
    return "UPDATE alert SET " + ", ".join(f"{c} = ?" for c in columns) + " WHERE id = ?"


def _update(conn: Connection, columns: tuple[str, ...], episodes: Iterable[dict[str, Any]]) -> None:
    sqlite = conn.dialect.name != "postgresql"
    datetimes = [i for i, name in enumerate(columns) if name in _DATETIMES]
    booleans = [i for i, name in enumerate(columns) if name == "flapping"]
    params = []
    for values in episodes:
        row = [values[name] for name in columns]
        for at in datetimes:
            row[at] = sqlite_datetime(row[at]) if sqlite else _aware(row[at])
        if sqlite:
            for at in booleans:
                row[at] = int(row[at])
        row.append(values["id"])
        params.append(row)
    if params:
        with _cursor(conn) as cursor:
            cursor.executemany(_for(conn, _update_sql(columns)), params)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


@lru_cache(maxsize=16)
def _row_insert(
    table: Table, columns: tuple[str, ...], postgresql: bool
) -> tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The INSERT for rows of `table` with these columns, and where its JSON, datetime
    and boolean values are (the conversions SQLAlchemy's column types would make)."""
    types = [table.c[name].type for name in columns]
    json_at = tuple(i for i, t in enumerate(types) if isinstance(t, JSON))
    datetime_at = tuple(i for i, t in enumerate(types) if isinstance(t, UTCDateTime))
    boolean_at = tuple(i for i, t in enumerate(types) if isinstance(t, Boolean))
    if postgresql:
        marks = ", ".join("%s::json" if i in json_at else "%s" for i in range(len(columns)))
    else:
        marks = _sqlite_in(len(columns))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    return sql, json_at, datetime_at, boolean_at


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows into `table` (dicts of column values without `id`, all with the same
    columns) on the driver, and return their ids in order: the new alerts of a storm of
    distinct alerts, the incidents they open."""
    if not rows:
        return []
    columns = tuple(rows[0])
    postgresql = conn.dialect.name == "postgresql"
    sql, json_at, datetime_at, boolean_at = _row_insert(table, columns, postgresql)
    params = []
    for row in rows:
        values = [row[c] for c in columns]
        for at in json_at:
            values[at] = orjson.dumps(values[at]).decode()
        for at in datetime_at:
            values[at] = _aware(values[at]) if postgresql else sqlite_datetime(values[at])
        if not postgresql:
            for at in boolean_at:
                values[at] = int(values[at])
        params.append(values)
    return _insert_returning_ids(conn, sql, params)
