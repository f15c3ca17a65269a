"""What a notifier receives (Notification), what it answers (DeliveryResult), and its protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from routing.intake.alert import Severity

if TYPE_CHECKING:
    import httpx

IncidentState = Literal["triggered", "acknowledged", "resolved"]
INCIDENT_STATES: tuple[str, ...] = ("triggered", "acknowledged", "resolved")


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """Everything a paged person needs about one incident, ready to render.

    `summaries` are one line per alert (its `instance` label and `summary` annotation);
    every text rendering includes them so a reader sees which machines are affected.
    Naive datetimes are taken as UTC (storage is UTC; SQLite hands back naive values).
    """

    incident_id: int
    incident_title: str
    severity: Severity
    service: str
    status: IncidentState
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    alert_count: int = 1
    source_urls: Sequence[str] = ()
    runbook_url: str | None = None
    policy: str | None = None
    step: str | None = None  # e.g. "step 2 of 2, pass 1 of 3"
    recipient: str | None = None  # the user being paged by this notification
    ack_hint: str = ""  # how to acknowledge: "/incident ack 42" or an API URL
    labels: Mapping[str, str] = field(default_factory=dict)
    summaries: Sequence[str] = ()
    incident_url: str | None = None
    status_by: str | None = None  # who acknowledged/resolved it, shown next to the status
    # The same on every retry of one delivery (its outbox row): a signed webhook sends it
    # as Idempotency-Key, so a receiver can drop a resend.
    delivery_key: str | None = None

    def __post_init__(self) -> None:
        if self.status not in INCIDENT_STATES:
            raise ValueError(
                f"status: must be one of {', '.join(INCIDENT_STATES)}, got {self.status!r}"
            )
        if not isinstance(self.severity, Severity):
            raise ValueError(f"severity: must be a Severity, got {self.severity!r}")
        if self.occurrences < 0:
            raise ValueError(f"occurrences: must not be negative, got {self.occurrences}")
        if self.alert_count < 0:
            raise ValueError(f"alert_count: must not be negative, got {self.alert_count}")
        if isinstance(self.source_urls, str):
            raise ValueError("source_urls: must be a list of URLs, not one string")
        if isinstance(self.summaries, str):
            raise ValueError("summaries: must be a list of lines, not one string")

    @property
    def first_seen_utc(self) -> datetime:
        return as_utc(self.first_seen)

    @property
    def last_seen_utc(self) -> datetime:
        return as_utc(self.last_seen)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextMessage:
    """A plain-text message about no single incident (a silence reminder): shown literally.

    Incident messages need an incident's facts and buttons (Notification); these are a
    title and a few lines, which every channel can show as they are.
    """

    title: str
    text: str
    delivery_key: str | None = None  # as Notification.delivery_key

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("title: must not be empty")
        if not self.text.strip():
            raise ValueError("text: must not be empty")


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class DeliveryOutcome(StrEnum):
    OK = "ok"
    RETRYABLE = "retryable"  # try again later (backoff.py decides when)
    PERMANENT = "permanent"  # retrying cannot help: keep the row and show it


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How one delivery went.

    `message_ref` identifies the posted chat message for later edits ("channel:ts" for
    Slack, "channel_id:message_id" for Discord). `retry_after` is the wait the far side
    asked for (HTTP 429); the outbox worker must not retry earlier. `detail` never
    contains a token or a full apprise URL (those carry secrets).
    """

    outcome: DeliveryOutcome
    detail: str
    message_ref: str | None = None
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is DeliveryOutcome.OK

    @classmethod
    def delivered(cls, detail: str, message_ref: str | None = None) -> DeliveryResult:
        return cls(DeliveryOutcome.OK, _clip(detail), message_ref)

    @classmethod
    def retryable(cls, detail: str, retry_after: timedelta | None = None) -> DeliveryResult:
        return cls(DeliveryOutcome.RETRYABLE, _clip(detail), None, retry_after)

    @classmethod
    def permanent(cls, detail: str) -> DeliveryResult:
        return cls(DeliveryOutcome.PERMANENT, _clip(detail))


_DETAIL_LIMIT = 500  # detail is stored in the outbox row and shown; far-side bodies can be huge


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def parse_retry_after(value: object) -> timedelta | None:
    """Seconds from a Retry-After header or a JSON `retry_after`; None when absent or odd.

    Slack and Discord send seconds (Discord as a float); HTTP-date forms are not used by
    either, and the exponential backoff is a safe fallback for them.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not seconds >= 0 or seconds == float("inf"):  # also rejects NaN
        return None
    return timedelta(seconds=seconds)


@runtime_checkable
class Notifier(Protocol):
    """Delivers one notification to one target; never raises for delivery failures."""

    kind: str

    async def send(self, target: str, notification: Notification) -> DeliveryResult: ...


@runtime_checkable
class TextNotifier(Protocol):
    """A notifier that can also post a plain TextMessage (no incident, no buttons)."""

    kind: str

    async def send_text(self, target: str, message: TextMessage) -> DeliveryResult: ...


@runtime_checkable
class ChatNotifier(Notifier, Protocol):
    """A notifier whose messages can be edited in place and replied to in a thread."""

    async def update(self, message_ref: str, notification: Notification) -> DeliveryResult: ...

    async def reply(self, message_ref: str, text: str) -> DeliveryResult: ...


def split_message_ref(message_ref: str) -> tuple[str, str]:
    """ "C1:1700000000.000100" -> ("C1", "1700000000.000100"); ValueError naming the field."""
    channel, sep, message = message_ref.partition(":")
    if not sep or not channel or not message:
        raise ValueError(f"message_ref: expected 'channel:message', got {message_ref!r}")
    return channel, message


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    """Plain settings values the notifier kinds are built from (no config import here)."""

    http_client: httpx.AsyncClient
    # The pool for jsons:// URLs with verify=no (opened on first use); None: refused.
    unverified_http_client: Callable[[], httpx.AsyncClient] | None = None
    # Signed webhook contacts' URL -> secret, looked up at send time (never in a row).
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)
    slack_token: str | None = None
    slack_api_url: str | None = None
    discord_token: str | None = None
    discord_api_url: str | None = None


@dataclass(frozen=True, slots=True)
class NotifierKind:
    """One registry entry: build the notifier (None when not configured) and check a target.

    `check` raises ValueError naming what is wrong with a target, for `check-config`.
    """

    build: Callable[[NotifierSettings], Notifier | None]
    check: Callable[[str], None]
