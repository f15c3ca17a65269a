"""Database tables for the alert pipeline (SQLModel); migrations live in routing/migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, text
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel

from routing.basics.storable import FIELD_LIMITS


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, **kw))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


class InboxEntry(SQLModel, table=True):
    """Every accepted raw body, stored in the same transaction as its effects."""

    __tablename__ = "inbox"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    received_at: datetime = _ts()
    request_id: str = Field(default="", max_length=64)
    content_type: str = Field(default="", max_length=128)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    alert_count: int = 0
    unparsed_count: int = 0
    note: str | None = None


class AlertIdentity(SQLModel, table=True):
    """One row per fingerprint ever seen: the lock that serializes concurrent dedup
    decisions across replicas, and the pointer to the fingerprint's current episode."""

    __tablename__ = "alert_identity"

    fingerprint: str = Field(primary_key=True, max_length=64)
    current_alert_id: int | None = None
    episodes: int = 0


class AlertRow(SQLModel, table=True):
    """One alert episode. Repeats update it; a fire after reopen_window starts a new one."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("fingerprint", "episode", name="uq_alert_fingerprint_episode"),
        Index("ix_alert_status_service", "status", "service"),
        Index("ix_alert_incident", "incident_id"),
        # Which open incidents hold alerts of a group (routing.intake.incident_candidates).
        Index("ix_alert_group_key", "group_key", "incident_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64)
    episode: int = 1
    source: str = Field(max_length=32)
    status: str = Field(max_length=16)  # pending / firing / resolved
    severity: str = Field(max_length=16)
    service: str = Field(max_length=FIELD_LIMITS["service"])  # refused longer at the edge
    title: str
    description: str = ""
    labels: dict[str, str] = _json(dict)
    annotations: dict[str, str] = _json(dict)
    source_url: str | None = None
    starts_at: datetime | None = _ts(nullable=True)
    ends_at: datetime | None = _ts(nullable=True)
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()
    occurrences: int = 1
    resolved_at: datetime | None = _ts(nullable=True)
    flips: int = 0
    flip_window_start: datetime | None = _ts(nullable=True)
    flapping: bool = False
    # While flagged flapping: when the flag lifts unless the alert flips again.
    flapping_until: datetime | None = _ts(nullable=True)
    # Threshold: when a pending alert's recent occurrences counted (threshold_window.encode).
    window_stamps: str = ""
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    # Why: the fields the fingerprint was computed from, the group key it joined by,
    # and how it came into its incident (same group, correlation, or opened it).
    fingerprint_fields: dict[str, str] = _json(dict)
    group_key: str = ""
    group_reason: str = ""
    # Hash of the content columns: an unchanged repeat is detected without reading them.
    content_hash: str = Field(default="", max_length=32)


class GroupLock(SQLModel, table=True):
    """Rows locked (FOR UPDATE) while deciding which incident a group's alerts join."""

    __tablename__ = "group_lock"

    name: str = Field(primary_key=True, max_length=400)


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (
        # At most one open incident per exact group key, whatever the replicas do.
        Index(
            "uq_incident_open_group",
            "group_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_incident_status_service", "status", "service"),
        # The incidents opened in a period (routing.response.report_store).
        Index("ix_incident_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str
    status: str = Field(default="triggered", max_length=16)  # triggered/acknowledged/resolved
    severity: str = Field(max_length=16)
    severity_rank: int = 0
    service: str = Field(max_length=FIELD_LIMITS["service"])  # refused longer at the edge
    group_key: str = Field(max_length=400)
    group_labels: dict[str, str] = _json(dict)
    # The sources of its alerts (sorted JSON list) and when it last gained an alert:
    # cross-source correlation joins it only within grouping.correlate_within of that.
    sources: str = Field(default="[]", max_length=400)
    last_alert_at: datetime | None = _ts(nullable=True)
    alert_count: int = 0
    open_alert_count: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    acknowledged_at: datetime | None = _ts(nullable=True)
    acknowledged_by: str | None = None
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_by: str | None = None


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "timeline"
    __table_args__ = (Index("ix_timeline_incident", "incident_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    at: datetime = _ts()
    kind: str = Field(max_length=32)
    actor: str = Field(default="firebell", max_length=200)
    message: str
    data: dict[str, Any] = _json(dict)
