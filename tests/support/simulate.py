"""Shared pieces for the `firebell simulate` tests: the issue's example config, seeding the
database the way the server's intake does, and counting every table's rows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, inspect, select, table

from bot.config import Settings, parse_config
from bot.runtime.state import ingest_policy
from integrations.sources import SOURCES, SourceOptions
from routing.intake.ingest import ingest
from routing.intake.submission import Submission
from routing.paging.escalation_store import start_paging
from routing.storage.database import make_engine

# Mon 2026-05-04 08:58 in Madrid: two minutes before the weekly alice/bob hand-off, and
# outside business hours.
BEFORE_HANDOFF = datetime(2026, 5, 4, 6, 58, tzinfo=UTC)
# Tue 2026-05-05 12:00 in Madrid: inside business hours.
BUSINESS_HOURS = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
# Sat 2026-05-09 20:58 in Madrid: carol's weekend layer, two minutes before it ends.
SATURDAY_EVENING = datetime(2026, 5, 9, 18, 58, tzinfo=UTC)

CAROL_TOPIC = "carol-private-topic"


def example_config(database_url: str, *, group_wait: str = "0s") -> str:
    """alice/bob weekly, carol on a weekend daily layer; `backend` repeats twice; a
    critical api route that continues; warnings only in business hours; critical
    inhibits warning for the same service. The `desk` policy starts with a schedule that
    is empty on weekdays."""
    return f"""
database_url: "{database_url}"
users:
  - {{name: alice, time_zone: Europe/Madrid, contacts: ["json://127.0.0.1:9/alice"]}}
  - {{name: bob, time_zone: America/New_York, contacts: ["mailto://bob@example.com"]}}
  - {{name: carol, time_zone: Asia/Kolkata, contacts: ["ntfy://ntfy.example.com/{CAROL_TOPIC}"]}}
teams:
  - {{name: backend, members: [alice, bob, carol], channels: ["slack:#backend-alerts"]}}
schedules:
  - name: backend-primary
    time_zone: Europe/Madrid
    layers:
      - {{rotation: weekly, handoff: "mon 09:00", members: [alice, bob]}}
      - {{rotation: daily, handoff: "09:00", members: [carol], restrict: ["sat-sun 09:00-21:00"]}}
  - name: weekend-desk
    time_zone: Europe/Madrid
    layers:
      - {{rotation: daily, members: [carol], restrict: ["sat-sun 09:00-21:00"]}}
escalation_policies:
  - name: backend
    repeat: 2
    steps:
      - {{notify: ["schedule:backend-primary"], wait: 5m}}
      - {{notify: ["user:carol", "team:backend"], wait: 10m}}
  - name: desk
    steps:
      - {{notify: ["schedule:weekend-desk"], wait: 10m}}
      - {{notify: ["user:bob"]}}
route:
  receiver: {{channels: ["slack:#alerts"]}}
  routes:
    - matchers: ['severity="critical"', 'service=~"api|web"']
      receiver: {{escalation: backend, channels: ["slack:#incidents"]}}
      group_wait: {group_wait}
      continue: true
    - matchers: ['severity=~"warning|info"']
      receiver: {{channels: ["discord:987654321098765432"]}}
      active_time_intervals: [business-hours]
    - matchers: ['service="api"']
      receiver: {{channels: ["slack:#api-team"]}}
    - matchers: ['service="desk"']
      receiver: {{escalation: desk}}
time_intervals:
  - {{name: business-hours, weekdays: ["monday:friday"], times: ["09:00-18:00"],
     location: Europe/Madrid}}
inhibit_rules:
  - {{source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'],
     equal: [service]}}
"""


def settings_for(database_url: str, **kw: str) -> Settings:
    return parse_config(example_config(database_url, **kw), {})


def seed(settings: Settings, body: bytes, at: datetime) -> None:
    """Store a payload as the server's intake does: ingest, then start paging, one commit."""
    alerts = SOURCES["alertmanager"].parse(body, {}, SourceOptions(services={})).alerts
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            outcome = ingest(
                conn, [Submission("alertmanager", alerts, body=body)], at, ingest_policy(settings)
            )
            start_paging(conn, outcome.incident_events, at, settings)
    finally:
        engine.dispose()


def row_counts(database_url: str) -> dict[str, int]:
    """Rows in every table of the database (migrations' own table included)."""
    engine = make_engine(database_url)
    try:
        names = sorted(inspect(engine).get_table_names())
        with engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
                for name in names
            }
    finally:
        engine.dispose()
