"""Database tables for paging: silences, escalations, the notification outbox, mute records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from routing.storage.tables import UTCDateTime


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, **kw))


class SilenceRow(SQLModel, table=True):
    """A silence made through the API or chat (config silences live in the config only)."""

    __tablename__ = "silence"
    __table_args__ = (Index("ix_silence_window", "expired_at", "ends_at"),)

    id: str = Field(primary_key=True, max_length=64)  # a UUID, as in Alertmanager
    # Matcher strings as written ('severity="critical"'), parsed by routing.muting.matcher.
    matchers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    starts_at: datetime | None = _ts(nullable=True)  # optional only for recurring silences
    ends_at: datetime | None = _ts(nullable=True)
    created_by: str = Field(max_length=200)
    comment: str = ""
    # routing.muting.silence.Recurrence as JSON (weekdays, times, time_zone), or None for one-off.
    recurrence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    # Set when someone ends the silence early (DELETE in the API); the row is kept.
    expired_at: datetime | None = _ts(nullable=True)
    expired_by: str | None = Field(default=None, max_length=200)


class EscalationRow(SQLModel, table=True):
    """One escalation policy running for one incident: where it is and when its next step is due.

    `round` counts the incident's openings (1, then +1 per reopen), so a reopened
    incident pages again while a replayed or concurrent start of the same round is a
    no-op (insert ... on conflict do nothing on the unique key).
    """

    __tablename__ = "escalation"
    __table_args__ = (
        UniqueConstraint("incident_id", "policy", "round", name="uq_escalation_incident_policy"),
        Index("ix_escalation_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    policy: str = Field(max_length=200)
    round: int = 1
    route_path: str = Field(default="", max_length=200)
    state: str = Field(default="active", max_length=16)  # active / stopped / done
    pass_no: int = 0  # 0-based: the pass and step that runs next
    step_no: int = 0
    started_at: datetime = _ts()
    due_at: datetime = _ts()
    updated_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    reason: str | None = None  # why it stopped or finished
    # Set while the step due waits because every alert of the incident is muted.
    paused_at: datetime | None = _ts(nullable=True)
    paused_reason: str | None = None


class NotificationRow(SQLModel, table=True):
    """The outbox: one row per message to one address, delivered at least once.

    A claimer sets `claimed_until` in its claiming transaction and delivers outside any
    transaction; a crashed claimer's rows become claimable again after `claimed_until`.
    `dedup_key` makes re-running a step or a route decision a no-op.
    A silence reminder (kind "silence_reminder") is about no incident: `incident_id` is
    null, `silence_id` names the silence and `payload` keeps what its text is made of.
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_notification_dedup"),
        Index("ix_notification_due", "status", "next_attempt_at"),
        Index("ix_notification_incident", "incident_id", "id"),
        Index("ix_notification_released", "released_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    escalation_id: int | None = Field(default=None, foreign_key="escalation.id")
    dedup_key: str = Field(max_length=200)
    # page (an escalation step) / channel (a route's channels) / silence_reminder
    kind: str = Field(max_length=16)
    # An apprise URL or a chat channel target: may hold a token, so never logged.
    address: str = Field(sa_column=Column(Text, nullable=False))
    recipient: str = Field(default="", max_length=200)  # user or team name
    via: str = Field(default="", max_length=200)  # "schedule:backend-primary", "route root"
    policy: str | None = Field(default=None, max_length=200)
    step: str | None = Field(default=None, max_length=200)  # "step 1 of 2, pass 1 of 3"
    # pending/sent/failed/cancelled; a page held for a pager-storm bundle: held/bundled
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    created_at: datetime = _ts()
    first_due_at: datetime = _ts()
    next_attempt_at: datetime = _ts()
    claimed_until: datetime | None = _ts(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = _ts(nullable=True)
    message_ref: str | None = Field(default=None, max_length=200)  # chat message, for edits
    detail: str | None = None  # the last delivery result, shown to people
    silence_id: str | None = Field(default=None, max_length=64)  # for a silence reminder
    # A silence reminder's silence as it was when queued (routing.paging.silence_reminder).
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Pager-storm bundling (routing/paging/bundle_store.py): when a page to a contact with
    # a bundling rule, or a bundle, was let go; a held page (status "held") becomes
    # "bundled" with the id of the bundle row (kind "bundle") that carries it.
    released_at: datetime | None = _ts(nullable=True)
    bundle_id: int | None = None


class PagingDecisionRow(SQLModel, table=True):
    """Why an alert did or did not page: routed, silenced, inhibited, muted by time, unrouted."""

    __tablename__ = "paging_decision"
    __table_args__ = (
        Index("ix_paging_decision_incident", "incident_id", "id"),
        Index("ix_paging_decision_silence", "silence_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    fingerprint: str = Field(max_length=64)
    at: datetime = _ts()
    outcome: str = Field(max_length=16)
    silence_id: str | None = Field(default=None, max_length=64)
    route_path: str | None = Field(default=None, max_length=200)
    detail: str = ""


class PagingHoldRow(SQLModel, table=True):
    """An incident that opened (or reopened) with every alert muted: it pages nobody until
    the mute ends, then once (routing/paging/follow_up.py decides, follow_up_pass.py acts).

    One row per incident opening (`round`); `state` goes held -> paged or dropped.
    `recheck_at` is when the worker looks again: the muting silence's end, or soon for
    inhibition and time intervals; ending a silence early sets it to now.
    """

    __tablename__ = "paging_hold"
    __table_args__ = (
        UniqueConstraint("incident_id", "round", name="uq_paging_hold_incident_round"),
        Index("ix_paging_hold_due", "state", "recheck_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    round: int = 1
    state: str = Field(default="held", max_length=16)  # held / paged / dropped
    outcome: str = Field(max_length=16)  # the latest mute: silenced / inhibited / time_muted
    silence_id: str | None = Field(default=None, max_length=64)
    detail: str = ""  # the latest mute's one-line reason
    held_at: datetime = _ts()
    recheck_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    reason: str | None = None  # why it was paged late or dropped


class ChannelFeedRow(SQLModel, table=True):
    """A route's channel posting about one incident opening: Alertmanager's group_interval
    (one update when new alerts join) and repeat_interval (re-post while unacknowledged).

    The first post is the route's channel notification; each later one is a new outbox
    row keyed by `notices`, so a replayed pass never posts twice.
    """

    __tablename__ = "channel_feed"
    __table_args__ = (
        UniqueConstraint("incident_id", "round", "address_key", name="uq_channel_feed"),
        Index("ix_channel_feed_due", "state", "next_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    round: int = 1
    address_key: str = Field(max_length=32)  # a digest: the address may hold a token
    address: str = Field(sa_column=Column(Text, nullable=False))
    route_path: str = Field(default="", max_length=200)
    group_interval_s: int
    repeat_interval_s: int
    state: str = Field(default="active", max_length=16)  # active / done
    notices: int = 1  # posts queued so far (the first is the route's channel notification)
    last_notice_at: datetime = _ts()  # when the latest post was due
    joined: int = 0  # alerts that joined since the latest post
    update_due_at: datetime | None = _ts(nullable=True)
    next_check_at: datetime = _ts()  # the next update or repeat to look at
    finished_at: datetime | None = _ts(nullable=True)
    reason: str | None = None
