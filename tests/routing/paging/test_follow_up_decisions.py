"""Pure decisions for paging after an incident opened: held incidents paged late when their
mute ends (once), and Alertmanager's group_interval / repeat_interval for channel posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.muting.silence import Silence
from routing.muting.tree import Route
from routing.paging.follow_up import (
    RECHECK,
    Feed,
    FeedKind,
    Hold,
    ReleaseKind,
    SilenceEnd,
    decide_feed,
    decide_release,
    feed_key,
    mute_of,
    muted_reason,
    recheck_at,
    schedule_update,
)
from routing.paging.triage import ChannelNotice, EscalationStart, Triage, TriageOutcome, channel_key

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SILENCED = Triage(TriageOutcome.SILENCED, "silenced by s1: deploy", silence_id="s1")
INHIBITED = Triage(TriageOutcome.INHIBITED, "inhibited by firing alert service=api (rule ...)")
TIME_MUTED = Triage(TriageOutcome.TIME_MUTED, "muted by time: route root/1: outside ...")
UNROUTED = Triage(TriageOutcome.UNROUTED, "nobody is paged: route root names nothing")


def routed(at: datetime = T0) -> Triage:
    return Triage(
        TriageOutcome.ROUTED,
        "paging with escalation ops and 1 channel (route root)",
        route_path="root",
        escalations=(EscalationStart("ops", "root", at + timedelta(seconds=30)),),
        channels=(ChannelNotice("slack:#ops", "root", at + timedelta(seconds=30)),),
    )


def hold(outcome: TriageOutcome = TriageOutcome.SILENCED, silence_id: str | None = "s1") -> Hold:
    detail = {"silenced": SILENCED, "inhibited": INHIBITED, "time_muted": TIME_MUTED}[outcome]
    return Hold(7, 1, outcome, silence_id, detail.detail, T0)


SILENCE = Silence(
    id="s1",
    matchers=['service="api"'],
    starts_at=T0 - timedelta(hours=1),
    ends_at=T0 + timedelta(hours=2),
    created_by="bob",
)


# ------------------------------------------------------------------ holds


@pytest.mark.parametrize(
    ("triages", "expected"),
    [
        ([SILENCED], SILENCED),
        ([INHIBITED, SILENCED], SILENCED),  # a silence is named first: it is what ends first
        ([TIME_MUTED, INHIBITED], INHIBITED),
        ([UNROUTED, TIME_MUTED], TIME_MUTED),  # one alert may still page when its mute ends
        ([SILENCED, routed()], None),  # something pages: nothing is held
        ([UNROUTED], None),
        ([], None),
    ],
)
def test_what_holds_an_opening(triages: list[Triage], expected: Triage | None) -> None:
    assert mute_of(triages) == expected


def test_a_held_incident_is_looked_at_when_its_silence_ends_or_soon() -> None:
    assert recheck_at(SILENCED, [SILENCE], T0) == T0 + RECHECK
    assert recheck_at(SILENCED, [SILENCE], T0 + timedelta(hours=2) - timedelta(seconds=3)) == (
        T0 + timedelta(hours=2)
    )
    assert recheck_at(INHIBITED, [SILENCE], T0) == T0 + RECHECK
    assert recheck_at(SILENCED, [], T0) == T0 + RECHECK  # a silence not in force any more


def test_a_deleted_silence_pages_at_once_and_says_who_ended_it() -> None:
    now = T0 + timedelta(minutes=20)
    ended = SilenceEnd("s1", now, "bob")
    release = decide_release(hold(), "triggered", 1, [routed(now)], [], now, ended)
    assert release.kind is ReleaseKind.PAGE
    assert release.reason == (
        "paging started late: silence s1 was ended early by bob at 2026-05-04 10:20 UTC; "
        "paging with escalation ops and 1 channel (route root)"
    )
    # group_wait gathers a new incident's first alerts; this one has waited already.
    [started] = release.triages
    assert started.escalations[0].due_at == now and started.channels[0].due_at == now


def test_an_expired_silence_says_when_it_ran_out() -> None:
    end = T0 + timedelta(hours=2)
    release = decide_release(hold(), "triggered", 1, [routed(end)], [], end, SilenceEnd("s1", end))
    assert release.reason.startswith("paging started late: silence s1 expired at 2026-05-04 12:00")


@pytest.mark.parametrize(
    ("outcome", "why"),
    [
        (TriageOutcome.INHIBITED, "the inhibiting alert stopped firing (it was inhibited by"),
        (TriageOutcome.TIME_MUTED, "its route's time intervals now allow notifications (it was"),
    ],
)
def test_inhibition_and_time_mutes_ending_page_late_too(outcome: TriageOutcome, why: str) -> None:
    release = decide_release(hold(outcome, None), "triggered", 1, [routed()], [], T0)
    assert release.kind is ReleaseKind.PAGE
    assert release.reason.startswith(f"paging started late: {why}")


def test_still_muted_keeps_the_hold_and_follows_a_new_silence() -> None:
    other = Triage(TriageOutcome.SILENCED, "silenced by s2", silence_id="s2")
    release = decide_release(hold(), "triggered", 1, [other, UNROUTED], [], T0)
    assert (release.kind, release.mute, release.recheck_at) == (
        ReleaseKind.KEEP,
        other,
        T0 + RECHECK,
    )


@pytest.mark.parametrize(
    ("status", "round_no", "reason"),
    [
        ("acknowledged", 1, "incident acknowledged while muted"),
        ("resolved", 1, "incident resolved while muted"),
        ("triggered", 2, "the incident resolved while muted and opened again"),
    ],
)
def test_nobody_is_paged_late_for_an_acknowledged_resolved_or_past_opening(
    status: str, round_no: int, reason: str
) -> None:
    release = decide_release(hold(), status, round_no, [routed()], [], T0)
    assert (release.kind, release.reason, release.triages) == (ReleaseKind.DROP, reason, ())


def test_a_hold_whose_routes_now_page_nobody_is_dropped() -> None:
    release = decide_release(hold(), "triggered", 1, [UNROUTED], [], T0)
    assert release.kind is ReleaseKind.DROP and "nobody is paged" in release.reason


# ------------------------------------------------------------------ channel feeds

FIVE_MIN, FOUR_H = timedelta(minutes=5), timedelta(hours=4)


def feed(**changes: object) -> Feed:
    base = {
        "notices": 1,
        "last_notice_at": T0,
        "joined": 0,
        "update_due_at": None,
        "group_interval": FIVE_MIN,
        "repeat_interval": FOUR_H,
    }
    return Feed(**{**base, **changes})  # type: ignore[arg-type]


def test_repeat_interval_reposts_while_unacknowledged() -> None:
    just_before = decide_feed(feed(), "triggered", None, T0 + FOUR_H - timedelta(seconds=1))
    assert (just_before.kind, just_before.next_check_at) == (FeedKind.WAIT, T0 + FOUR_H)
    early = decide_feed(feed(), "triggered", None, T0 + timedelta(hours=1))
    assert (early.kind, early.next_check_at) == (FeedKind.WAIT, T0 + FOUR_H)
    post = decide_feed(feed(), "triggered", None, T0 + FOUR_H)
    assert post.kind is FeedKind.POST
    assert post.step == "reminder: still not acknowledged (repeated every 4h)"
    assert post.reason == "channel reminder: still not acknowledged 4h after the last post"
    assert post.next_check_at == T0 + 2 * FOUR_H


@pytest.mark.parametrize("status", ["acknowledged", "resolved"])
def test_posts_stop_once_acknowledged_or_resolved(status: str) -> None:
    done = decide_feed(feed(update_due_at=T0), status, None, T0 + FOUR_H)
    assert (done.kind, done.reason) == (FeedKind.DONE, f"incident {status}")


def test_new_alerts_send_one_update_after_group_interval() -> None:
    joined_at = T0 + timedelta(minutes=1)
    due = schedule_update(feed(), joined_at)
    assert due == T0 + FIVE_MIN  # group_interval counts from the last post
    # A second alert in the same interval shares the update.
    assert schedule_update(feed(update_due_at=due, joined=1), joined_at) == due
    # Long after the last post, the update is due at once.
    assert schedule_update(feed(), T0 + timedelta(hours=1)) == T0 + timedelta(hours=1)
    # Before the first post is due, the first post will show the alert anyway.
    assert schedule_update(feed(last_notice_at=T0 + timedelta(seconds=30)), T0) is None
    pending = feed(update_due_at=due, joined=2)
    assert decide_feed(pending, "triggered", None, due - timedelta(seconds=1)).next_check_at == due
    post = decide_feed(pending, "triggered", None, due)
    assert (post.kind, post.step) == (FeedKind.POST, "update: 2 new alerts joined")
    assert post.next_check_at == due + FOUR_H  # the reminder clock restarts at each post


def test_a_muted_incident_is_not_reposted_and_is_looked_at_again_after_group_interval() -> None:
    wait = decide_feed(feed(), "triggered", "silenced by s1", T0 + FOUR_H)
    assert (wait.kind, wait.reason, wait.next_check_at) == (
        FeedKind.WAIT,
        "silenced by s1",
        T0 + FOUR_H + FIVE_MIN,
    )
    assert muted_reason([SILENCED, UNROUTED]) == SILENCED.detail
    assert muted_reason([SILENCED, routed()]) is None
    assert muted_reason([]) == "no open alerts"


def test_each_later_post_has_its_own_outbox_key() -> None:
    keys = {feed_key(7, 1, n, "slack:#ops") for n in (2, 3)} | {channel_key(7, 1, "slack:#ops")}
    assert len(keys) == 3
    assert "slack" not in feed_key(7, 1, 2, "slack:#ops")  # addresses may hold tokens


@pytest.mark.parametrize("field", ["group_interval", "repeat_interval"])
def test_zero_intervals_are_refused_as_in_alertmanager(field: str) -> None:
    with pytest.raises(ValueError, match="must be longer than 0s"):
        Route.model_validate({field: "0s"})


@pytest.mark.parametrize("value", ["10ms", "1500ms"])
def test_sub_second_intervals_are_refused_not_rounded(value: str) -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        Route.model_validate({"group_interval": value})
    assert Route.model_validate({"group_interval": "2s"}).group_interval == timedelta(seconds=2)


def test_a_feed_of_an_earlier_opening_ends() -> None:
    done = decide_feed(feed(), "triggered", None, T0 + FOUR_H, stale=True)
    assert (done.kind, done.reason) == (FeedKind.DONE, "the incident resolved and opened again")
