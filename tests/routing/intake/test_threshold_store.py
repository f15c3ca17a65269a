"""The threshold's sliding window on the real databases: kept in the alert row between
transactions and restarts, and carried over from the old fixed window by migration 0009."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command

from integrations.sources import SourceOptions
from integrations.sources.nginx import nginx
from routing.intake.dedup import DecisionKind, DedupPolicy
from routing.intake.episode_store import ALERT
from routing.intake.ingest import ingest
from routing.intake.submission import IngestPolicy, Submission
from routing.intake.threshold_window import decode
from routing.storage.database import make_engine
from routing.storage.migrate import alembic_config, upgrade
from routing.storage.tables import UTCDateTime

POLICY = IngestPolicy(
    per_source={
        "nginx": DedupPolicy(
            threshold_count=5, threshold_window=timedelta(seconds=60), count_at_reported_time=True
        )
    }
)
KOLKATA = SourceOptions(time_zone=ZoneInfo("Asia/Kolkata"))  # UTC+05:30
ARRIVAL = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def nginx_line(clock: str) -> bytes:
    return (
        f"2026/07/15 {clock} [error] 7#7: *1 connect() failed (111: Connection refused) while "
        'connecting to upstream, client: 10.0.0.1, server: shop.example.org, request: "GET / '
        'HTTP/1.1", upstream: "http://10.0.0.9:8080/", host: "shop.example.org"'
    ).encode()


def ingest_line(database_url: str, clock: str) -> DecisionKind:
    """One line, one transaction, one engine: nothing survives in memory between lines."""
    alerts = nginx.parse(nginx_line(clock), {}, KOLKATA).alerts
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            outcome = ingest(conn, [Submission("nginx", alerts, body=b"-")], ARRIVAL, POLICY)
        return outcome.submissions[0].alerts[0].kind
    finally:
        engine.dispose()


def stored(database_url: str) -> dict[str, object]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.select(ALERT)).mappings().one())
    finally:
        engine.dispose()


def test_a_burst_across_a_minute_fires_across_restarts(database_url: str) -> None:
    # 14:29:00 alone, then 3 lines at 14:29:58-59 and 3 at 14:30:01-02 (Kolkata time).
    clocks = ["14:29:00", "14:29:58", "14:29:58", "14:29:59", "14:30:01", "14:30:01"]
    kinds = []
    for clock in clocks:
        kinds.append(ingest_line(database_url, clock))
        row = stored(database_url)
        assert len(decode(str(row["window_stamps"]))) <= 4  # never more than count - 1
    assert kinds == [DecisionKind.PENDING] * 5 + [DecisionKind.NEW]
    row = stored(database_url)
    assert row["status"] == "firing" and row["window_stamps"] == ""
    assert row["starts_at"] == datetime(2026, 7, 15, 9, 0, 1, tzinfo=UTC)  # 14:30:01 +05:30


def test_lines_spread_over_minutes_stay_pending(database_url: str) -> None:
    # A shipper's late batch: all arrive at once, but never 5 within a minute of each other.
    for clock in ["14:00:00", "14:00:30", "14:01:00", "14:01:30", "14:02:00", "14:02:30"]:
        assert ingest_line(database_url, clock) is DecisionKind.PENDING
    window = decode(str(stored(database_url)["window_stamps"]))
    assert window[-1] == datetime(2026, 7, 15, 8, 32, 30, tzinfo=UTC)
    assert len(window) == 3  # 14:01:30, 14:02:00, 14:02:30


def test_migration_carries_a_pending_window_over_and_back(unmigrated_database_url: str) -> None:
    upgrade(unmigrated_database_url, "0008")
    start = datetime(2026, 7, 15, 9, 0, 0, 123456, tzinfo=UTC)
    old = sa.table(
        "alert",
        *(sa.column(c) for c in ("fingerprint", "source", "status", "severity", "service")),
        *(sa.column(c) for c in ("title", "description", "group_key", "content_hash")),
        *(sa.column(c, sa.JSON()) for c in ("labels", "annotations", "fingerprint_fields")),
        *(sa.column(c, UTCDateTime()) for c in ("first_seen", "last_seen", "window_start")),
        *(sa.column(c) for c in ("episode", "occurrences", "flips", "flapping", "window_count")),
    )
    engine = make_engine(unmigrated_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(old),
                [
                    {
                        **{c: "x" for c in ("source", "severity", "service", "title")},
                        "fingerprint": fingerprint,
                        "status": status,
                        "description": "",
                        "group_key": "",
                        "content_hash": "",
                        "labels": {},
                        "annotations": {},
                        "fingerprint_fields": {},
                        "first_seen": start,
                        "last_seen": start,
                        "window_start": start,
                        "episode": 1,
                        "occurrences": 3,
                        "flips": 0,
                        "flapping": False,
                        "window_count": 3,
                    }
                    for fingerprint, status in (("pending-one", "pending"), ("firing", "firing"))
                ],
            )
        upgrade(unmigrated_database_url, "0009")
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT fingerprint, window_stamps FROM alert")).all()
        rows: dict[str, str] = {str(fp): str(stamps) for fp, stamps in found}
        assert decode(rows["pending-one"]) == (start,) * 3  # counts as before
        assert rows["firing"] == ""
        command.downgrade(alembic_config(unmigrated_database_url), "0008")
        with engine.connect() as conn:
            back = conn.execute(
                sa.select(old.c.window_start, old.c.window_count).where(
                    old.c.fingerprint == "pending-one"
                )
            ).one()
        assert tuple(back) == (start, 3)
    finally:
        engine.dispose()
