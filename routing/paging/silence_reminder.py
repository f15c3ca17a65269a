"""Silence reminders, pure: which silences end soon, which channels hear of it, and the text.

Before a silence ends, the team of the person who made it is told in its channels, so
nobody is surprised when the alerts it muted page again. The shell (bot/workers/paging_worker.py
and routing/paging/silence_reminder_store.py) loads the silences, calls `due_reminders` each
worker pass and queues one outbox row per silence, end time and channel.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from routing.basics.duration import format_duration
from routing.muting.silence import Silence, expiring_soon
from routing.paging.policy import PolicyConfig
from routing.paging.triage import address_digest, silence_label

# How long before its end a silence is reminded of. bot/config/ has no setting for it;
# PagingWorker(reminder_lead=...) overrides it for a process (and for tests).
DEFAULT_LEAD = timedelta(minutes=15)
KIND = "silence_reminder"  # notification.kind (the column holds 16 characters)
KEY_PREFIX = "silence-reminder"
CLI_PREFIX = "firebell incident"
MAX_KEY_ID = 64  # longer (config) ids are digested so the dedup key fits its column

Origin = Literal["api", "config"]


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder to one channel: the silence, where it goes, and why there."""

    silence: Silence  # has an id and an end (due_reminders guarantees both)
    origin: Origin
    channel: str  # a team or route channel target (slack:#x, discord:1, apprise URL)
    team: str  # the creator's team that owns the channel, "" for the root route's
    via: str  # "team backend", "route root (bob is in no team with channels)"

    @property
    def dedup_key(self) -> str:
        assert self.silence.id is not None and self.silence.ends_at is not None
        return reminder_key(self.silence.id, self.silence.ends_at, self.channel)


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    reminders: tuple[Reminder, ...] = ()
    # Due, but there is no channel to tell (the shell logs these, once each).
    unreachable: tuple[Silence, ...] = ()


def reminder_key(silence_id: str, ends_at: datetime, channel: str) -> str:
    """Exactly once per silence, end time and channel: replicas racing to queue the same
    reminder collide on the unique key, and a silence whose end moves is reminded again."""
    ident = silence_id if len(silence_id) <= MAX_KEY_ID else address_digest(silence_id)
    end = ends_at.astimezone(UTC).isoformat()
    return f"{KEY_PREFIX}:{ident}:{end}:{address_digest(channel)}"


def reminder_channels(creator: str, config: PolicyConfig) -> list[tuple[str, str, str]]:
    """(channel, team, via) for each channel to remind, without repeats.

    Every channel of every team `creator` belongs to; when those are none (a creator in
    no team, in teams without channels, or not a user at all: an API token, "config"),
    the root route's receiver channels, which see every alert.
    """
    out: dict[str, tuple[str, str]] = {}
    for team in config.teams:
        if creator in team.members:
            for channel in team.channels:
                out.setdefault(channel, (team.name, f"team {team.name}"))
    if out:
        return [(channel, team, via) for channel, (team, via) in out.items()]
    receiver = config.route.receiver
    root = receiver.channels if receiver is not None else []
    who = (
        f"{creator} is in no team with channels"
        if creator in config.users_by_name
        else f"{creator} is not a firebell user"
    )
    return [(channel, "", f"route root ({who})") for channel in dict.fromkeys(root)]


def remindable(silence: Silence, lead: timedelta) -> bool:
    """Has an id and an end (a recurring silence comes with its window's end, from
    expiring_soon), and is longer than the lead time: a silence that short is due the
    moment it starts, when its creator has only just chosen its end, so a reminder would
    be noise."""
    if silence.id is None or silence.ends_at is None:
        return False
    return silence.starts_at is None or silence.ends_at - silence.starts_at > lead


def due_reminders(
    config: PolicyConfig,
    stored: Iterable[Silence],
    now: datetime,
    lead: timedelta = DEFAULT_LEAD,
    already: Collection[str] = frozenset(),
) -> ReminderPlan:
    """The reminders to queue at `now`: for each silence in force (the config's and the
    `stored` API/chat ones) that ends within `lead`, one per channel whose dedup key is
    not in `already` (the keys queued before). Sorted by key, so concurrent queuers
    insert in the same order."""
    if lead <= timedelta(0):
        raise ValueError(f"lead: must be longer than 0s, got {lead}")
    origins: dict[str, Origin] = {}
    candidates: list[Silence] = []
    for index, silence in enumerate(config.silences):
        named = silence.model_copy(update={"id": silence_label(silence, index)})
        candidates.append(named)
        origins[silence_label(silence, index)] = "config"
    for silence in stored:
        candidates.append(silence)
        if silence.id is not None:
            origins.setdefault(silence.id, "api")
    reminders: list[Reminder] = []
    unreachable: list[Silence] = []
    for silence in expiring_soon(candidates, now, lead):
        if not remindable(silence, lead):
            continue
        assert silence.id is not None
        channels = reminder_channels(silence.created_by, config)
        if not channels:
            unreachable.append(silence)
            continue
        for channel, team, via in channels:
            reminder = Reminder(silence, origins[silence.id], channel, team, via)
            if reminder.dedup_key not in already:
                reminders.append(reminder)
    reminders.sort(key=lambda r: r.dedup_key)
    return ReminderPlan(tuple(reminders), tuple(unreachable))


# ------------------------------------------------------------------ the stored snapshot


def reminder_payload(reminder: Reminder) -> dict[str, Any]:
    """What the outbox row keeps of the silence, so the text can be written at delivery
    (with the time left then) even for a config silence the database does not hold."""
    s = reminder.silence
    return {
        "origin": reminder.origin,
        "silence": {
            "id": s.id,
            "matchers": [str(m) for m in s.matchers],
            "starts_at": s.starts_at.isoformat() if s.starts_at else None,
            "ends_at": s.ends_at.isoformat() if s.ends_at else None,
            "created_by": s.created_by,
            "comment": s.comment,
            "recurrence": s.recurrence.model_dump(mode="json") if s.recurrence else None,
        },
    }


def payload_silence(payload: Mapping[str, Any]) -> tuple[Silence, Origin]:
    """The silence and its origin back from `reminder_payload` (ValueError when broken)."""
    try:
        silence = Silence.model_validate(payload["silence"])
        origin = payload["origin"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"payload: not a silence reminder ({exc!r})") from None
    if origin not in ("api", "config") or silence.id is None or silence.ends_at is None:
        raise ValueError("payload: a silence reminder needs an origin, a silence id and an end")
    return silence, origin


def reminder_cancel_reason(
    ends_at: datetime, expired_at: datetime | None, now: datetime
) -> str | None:
    """Why a queued reminder must not go out any more: its silence has ended (early, by
    someone, or at its time while the row waited for a retry)."""
    if expired_at is not None:
        return "silence ended early before the reminder went out"
    if now >= ends_at:
        return "silence ended before the reminder went out"
    return None


# ------------------------------------------------------------------ the text


def time_left(delta: timedelta) -> str:
    """ "in 14 min", "in 1h5m", "in under a minute" (whole minutes, rounded down)."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "in under a minute"
    if minutes < 60:
        return f"in {minutes} min"
    return f"in {format_duration(timedelta(minutes=minutes))}"


def reminder_text(
    silence: Silence, origin: Origin, now: datetime, chat_command: str | None = None
) -> tuple[str, str]:
    """(title, text): which silence, when it ends, and how to extend or end it.

    `chat_command` ("/incident") is given when Slack or Discord is configured; the
    CLI form is always shown. Extending means silencing the same matchers again: the
    new silence takes over when this one ends.
    """
    if silence.id is None or silence.ends_at is None:
        raise ValueError("silence: a reminder needs a silence with an id and an end")
    matchers = ",".join(str(m) for m in silence.matchers)
    ends = silence.ends_at.astimezone(UTC)
    left = time_left(ends - now)
    title = f"Silence ending {left}: {matchers}"
    lines = [
        f"Silence {silence.id} ({matchers}) by {silence.created_by} "
        f"ends at {ends:%Y-%m-%d %H:%M} UTC ({left}).",
    ]
    if silence.comment:
        lines.append(f"Comment: {silence.comment}")
    if silence.recurrence is not None:
        lines.append(f"It recurs {silence.recurrence.describe()}: this window ends then.")
    lines.append("The alerts it mutes will notify again once it ends.")
    comment = f" {silence.comment}" if silence.comment else ""
    extend_args = f"{matchers} DURATION{comment}"
    cli_extend = f"{CLI_PREFIX} silence {shlex.quote(matchers)} DURATION"
    cli_extend += f" {shlex.quote(silence.comment)}" if silence.comment else ""
    extend = [f"{chat_command} silence {extend_args}"] if chat_command else []
    lines.append("Extend it (DURATION like 30m, 2h, 1d): " + " or ".join([*extend, cli_extend]))
    if origin == "config":
        lines.append("End it: it comes from the config file; edit it there and reload.")
    else:
        ident = shlex.quote(silence.id)
        end = [f"{chat_command} unsilence {silence.id}"] if chat_command else []
        lines.append("End it now: " + " or ".join([*end, f"{CLI_PREFIX} unsilence {ident}"]))
    return title, "\n".join(lines)
