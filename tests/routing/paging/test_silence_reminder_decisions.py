"""Silence reminders as pure decisions: which silences are due, where they go, the key, the text."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import SilenceAlerts, Unsilence, parse_command
from routing.muting.matcher import parse_matchers
from routing.muting.silence import Silence
from routing.paging.policy import PolicyConfig
from routing.paging.silence_reminder import (
    DEFAULT_LEAD,
    Reminder,
    due_reminders,
    payload_silence,
    reminder_cancel_reason,
    reminder_channels,
    reminder_key,
    reminder_payload,
    reminder_text,
    time_left,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SINK = "json://127.0.0.1:9/backend?token=s3cret"


def config(root_channels: list[str] | None = None, **extra: Any) -> PolicyConfig:
    data: dict[str, Any] = {
        "users": [{"name": "alice"}, {"name": "bob"}, {"name": "carol"}, {"name": "dave"}],
        "teams": [
            {"name": "backend", "members": ["alice", "bob"], "channels": ["slack:#backend", SINK]},
            # alice is in two teams; #backend is named by both and reminded once.
            {"name": "web", "members": ["alice"], "channels": ["slack:#web", "slack:#backend"]},
            {"name": "dba", "members": ["carol"], "channels": []},
        ],
        **extra,
    }
    if root_channels is not None:
        data["route"] = {"receiver": {"channels": root_channels}}
    return PolicyConfig.model_validate(data)


def silence(
    ends_in: timedelta | None = timedelta(minutes=10),
    *,
    length: timedelta = timedelta(hours=1),
    by: str = "alice",
    ident: str | None = "3f2a0c1e-0000-4000-8000-000000000001",
    **extra: Any,
) -> Silence:
    ends = NOW + ends_in if ends_in is not None else None
    starts = ends - length if ends is not None else None
    return Silence.model_validate(
        {
            "id": ident,
            "matchers": ['service="api"', 'alertname=~"High.*"'],
            "starts_at": starts,
            "ends_at": ends,
            "created_by": by,
            "comment": "deploy v2",
            **extra,
        }
    )


def channels_of(reminders: tuple[Reminder, ...]) -> list[str]:
    return sorted(r.channel for r in reminders)


WEEKLY = {"weekdays": ["monday"], "times": ["09:00-11:00"]}


@pytest.mark.parametrize(
    ("case", "item", "expected"),
    [
        ("ends in 10 min", silence(), ["slack:#backend", "slack:#web", SINK]),
        ("ends exactly at the lead", silence(DEFAULT_LEAD), ["slack:#backend", "slack:#web", SINK]),
        ("ends in 16 min: later", silence(timedelta(minutes=16)), []),
        ("ends now: over", silence(timedelta(0)), []),
        ("ended", silence(timedelta(minutes=-1)), []),
        ("pending", silence(timedelta(minutes=10), length=timedelta(minutes=5)), []),
        (
            "no longer than the lead: it was just made",
            silence(length=DEFAULT_LEAD),
            [],
        ),
        ("recurring forever", silence(None, recurrence=WEEKLY), []),
        (
            "recurring with an end",
            silence(recurrence=WEEKLY),
            ["slack:#backend", "slack:#web", SINK],
        ),
        ("bob: one team", silence(by="bob"), ["slack:#backend", SINK]),
        ("no id", silence(ident=None), []),
    ],
)
def test_which_silences_are_due(case: str, item: Silence, expected: list[str]) -> None:
    plan = due_reminders(config(), [item], NOW)
    assert channels_of(plan.reminders) == sorted(expected), case
    assert plan.unreachable == ()


def test_creator_in_two_teams_is_reminded_in_every_channel_once() -> None:
    channels = reminder_channels("alice", config())
    assert channels == [
        ("slack:#backend", "backend", "team backend"),
        (SINK, "backend", "team backend"),
        ("slack:#web", "web", "team web"),
    ]


@pytest.mark.parametrize(
    ("creator", "via"),
    [
        ("token:ci-deployer", "route root (token:ci-deployer is not a firebell user)"),
        ("dave", "route root (dave is in no team with channels)"),
        ("carol", "route root (carol is in no team with channels)"),  # her team has none
        ("config", "route root (config is not a firebell user)"),
    ],
)
def test_no_team_channel_falls_back_to_the_root_route(creator: str, via: str) -> None:
    cfg = config(["slack:#alerts", "slack:#alerts"])
    plan = due_reminders(cfg, [silence(by=creator)], NOW)
    assert [(r.channel, r.team, r.via) for r in plan.reminders] == [("slack:#alerts", "", via)]


def test_nowhere_to_remind_is_reported_not_dropped_silently() -> None:
    item = silence(by="token:ci")
    plan = due_reminders(config(), [item], NOW)
    assert plan.reminders == ()
    assert plan.unreachable == (item,)


def test_already_reminded_is_not_reminded_again() -> None:
    cfg, item = config(), silence()
    first = due_reminders(cfg, [item], NOW)
    keys = {r.dedup_key for r in first.reminders}
    assert len(keys) == 3
    later = due_reminders(cfg, [item], NOW + timedelta(minutes=1), already=keys)
    assert later.reminders == ()
    one_done = due_reminders(cfg, [item], NOW, already={first.reminders[0].dedup_key})
    assert [r.dedup_key for r in one_done.reminders] == [r.dedup_key for r in first.reminders[1:]]


def test_config_silences_are_reminded_with_their_config_id() -> None:
    cfg = config(
        ["slack:#alerts"],
        silences=[silence(ident=None, by="config").model_dump(mode="json", exclude={"id"})],
    )
    plan = due_reminders(cfg, [], NOW)
    (reminder,) = plan.reminders
    assert (reminder.silence.id, reminder.origin, reminder.channel) == (
        "config:0",
        "config",
        "slack:#alerts",
    )


def test_reminders_are_sorted_by_key_and_the_lead_must_be_positive() -> None:
    items = [silence(ident=f"id-{n}", ends_in=timedelta(minutes=n)) for n in (9, 3, 7)]
    keys = [r.dedup_key for r in due_reminders(config(), items, NOW).reminders]
    assert keys == sorted(keys) and len(keys) == 9
    with pytest.raises(ValueError, match="lead"):
        due_reminders(config(), items, NOW, lead=timedelta(0))


def test_a_longer_lead_reminds_earlier() -> None:
    item = silence(timedelta(minutes=50), length=timedelta(hours=3))
    assert due_reminders(config(), [item], NOW).reminders == ()
    assert len(due_reminders(config(), [item], NOW, lead=timedelta(hours=1)).reminders) == 3


# ------------------------------------------------------------------ the dedup key


def test_the_key_is_per_silence_end_and_channel_and_hides_the_address() -> None:
    ends = NOW + timedelta(minutes=10)
    key = reminder_key("abc", ends, SINK)
    assert key.startswith("silence-reminder:abc:2026-05-04T10:10:00+00:00:")
    assert "s3cret" not in key and "json" not in key
    assert reminder_key("abc", ends, SINK) == key
    assert reminder_key("abc", ends.astimezone(), SINK) == key  # the zone does not matter
    assert reminder_key("abc", ends + timedelta(hours=1), SINK) != key  # extended: again
    assert reminder_key("abd", ends, SINK) != key
    assert reminder_key("abc", ends, "slack:#web") != key
    long = reminder_key("x" * 500, ends.replace(microsecond=999999), SINK)
    assert len(long) <= 200


# ------------------------------------------------------------------ cancelling and payload


@pytest.mark.parametrize(
    ("expired_at", "now", "reason"),
    [
        (None, NOW, None),
        (NOW - timedelta(minutes=1), NOW, "silence ended early before the reminder went out"),
        (None, NOW + timedelta(minutes=10), "silence ended before the reminder went out"),
    ],
)
def test_cancel_reasons(expired_at: datetime | None, now: datetime, reason: str | None) -> None:
    assert reminder_cancel_reason(NOW + timedelta(minutes=10), expired_at, now) == reason


def test_the_payload_round_trips() -> None:
    (reminder, *_) = due_reminders(config(), [silence(recurrence=WEEKLY)], NOW).reminders
    back, origin = payload_silence(reminder_payload(reminder))
    assert (back, origin) == (reminder.silence, "api")


@pytest.mark.parametrize(
    "payload",
    [{}, {"origin": "api"}, {"origin": "elsewhere", "silence": {}}, {"silence": None}],
)
def test_a_broken_payload_is_a_clear_error(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        payload_silence(payload)


# ------------------------------------------------------------------ the text


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(seconds=59), "in under a minute"),
        (timedelta(minutes=1), "in 1 min"),
        (timedelta(minutes=14, seconds=59), "in 14 min"),
        (timedelta(minutes=59, seconds=30), "in 59 min"),
        (timedelta(minutes=65), "in 1h5m"),
    ],
)
def test_time_left(left: timedelta, words: str) -> None:
    assert time_left(left) == words


def test_the_text_says_which_silence_when_and_how_to_extend_or_end_it() -> None:
    item = silence()
    title, text = reminder_text(item, "api", NOW + timedelta(seconds=30), "/incident")
    matchers = 'service="api",alertname=~"High.*"'
    assert title == f"Silence ending in 9 min: {matchers}"
    assert item.id in text and matchers in text
    assert "by alice" in text and "Comment: deploy v2" in text
    assert "ends at 2026-05-04 10:10 UTC (in 9 min)" in text
    assert f"/incident silence {matchers} DURATION deploy v2" in text
    assert f"/incident unsilence {item.id}" in text
    assert f"firebell incident unsilence {item.id}" in text

    # The commands it suggests are real: chat and CLI parse them back to this silence.
    extend_line = next(line for line in text.splitlines() if line.startswith("Extend"))
    chat_form, cli_form = extend_line.split(": ", 1)[1].split(" or ")
    chat = parse_command(chat_form.replace("DURATION", "1h"))
    assert isinstance(chat, SilenceAlerts)
    assert chat.matchers == tuple(parse_matchers(matchers)) and chat.comment == "deploy v2"
    words = shlex.split(cli_form.replace("DURATION", "1h"))
    assert words[:2] == ["firebell", "incident"]
    cli = parse_command(" ".join(words[2:]), prefix="firebell incident")
    assert cli == chat
    end_line = next(line for line in text.splitlines() if line.startswith("End"))
    unsilence = parse_command(end_line.split(": ", 1)[1].split(" or ")[0])
    assert unsilence == Unsilence(item.id or "")


def test_the_text_without_chat_and_for_a_config_silence() -> None:
    item = silence(ident="config:2", by="config", comment="")
    _, text = reminder_text(item, "config", NOW, None)
    assert "/incident" not in text
    assert "firebell incident silence " in text
    assert "unsilence" not in text and "config file" in text
    assert "Comment" not in text
    with pytest.raises(ValueError, match="silence"):
        reminder_text(silence(None, recurrence=WEEKLY), "api", NOW)


@pytest.mark.parametrize(
    ("recurrence", "said"),
    [
        (WEEKLY, "It recurs every monday 09:00-11:00 (UTC)"),
        ({"times": ["09:00-11:00"]}, "It recurs every day 09:00-11:00 (UTC)"),
    ],
)
def test_the_text_of_a_recurring_window_says_when_it_recurs(
    recurrence: dict[str, Any], said: str
) -> None:
    _, text = reminder_text(silence(recurrence=recurrence), "api", NOW)
    assert said in text
    assert "every every" not in text


# ------------------------------------------------------------------ properties


@settings(max_examples=200, deadline=None)
@given(
    ends_in=st.integers(-30 * 60, 90 * 60),
    length=st.integers(1, 4 * 3600),
    lead_minutes=st.integers(1, 60),
)
def test_due_exactly_inside_the_window(ends_in: int, length: int, lead_minutes: int) -> None:
    lead = timedelta(minutes=lead_minutes)
    item = silence(timedelta(seconds=ends_in), length=timedelta(seconds=length))
    plan = due_reminders(config(), [item], NOW, lead)
    starts = NOW + timedelta(seconds=ends_in - length)
    expected = starts <= NOW < NOW + timedelta(seconds=ends_in) <= NOW + lead
    expected = expected and timedelta(seconds=length) > lead
    assert bool(plan.reminders) == expected


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.integers(0, 120), min_size=1, max_size=40))
def test_passes_at_any_times_remind_each_channel_once(steps: list[int]) -> None:
    """However the worker's passes fall, each (silence, channel) is queued at most once,
    and exactly once when some pass falls inside the window."""
    cfg = config()
    items = [silence(timedelta(minutes=n), ident=f"s{n}") for n in (5, 20, 40)]
    queued: list[str] = []
    now = NOW
    inside: set[str] = set()
    for step in steps:
        now += timedelta(seconds=step * 5)
        plan = due_reminders(cfg, items, now, already=set(queued))
        queued += [r.dedup_key for r in plan.reminders]
        inside |= {
            s.id or ""
            for s in items
            if s.ends_at is not None and s.ends_at - DEFAULT_LEAD <= now < s.ends_at
        }
    assert len(queued) == len(set(queued))
    assert {key.split(":")[1] for key in queued} == inside
