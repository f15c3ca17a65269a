"""What paging does after an incident opened, as pure decisions (the clock is passed in).

- An incident that opened with every alert silenced, inhibited or muted by time is held:
  when the mute ends while it is still unacknowledged, it is paged then, once
  (`decide_release`). Alertmanager does the same at its next flush; PagerDuty users
  expect a page as soon as nothing mutes a triggered incident.
- A route's channels hear about an incident once when it opens
  (routing/paging/escalation_store.py), then, with Alertmanager's timers, once more per
  `group_interval` when new alerts joined, and every `repeat_interval` while nobody
  acknowledged it (`decide_feed`).

The shell is routing/paging/follow_up_store.py (rows written with the paging decision) and
routing/paging/follow_up_pass.py (the worker's periodic pass).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from routing.basics.duration import format_duration
from routing.muting.silence import Silence, silence_status
from routing.paging.triage import Triage, TriageOutcome, address_digest

# How often a held incident is looked at when no silence end says when (inhibition,
# time intervals, recurring silences). Alertmanager re-checks at each group_interval (5m).
RECHECK = timedelta(seconds=15)

MUTED = (TriageOutcome.SILENCED, TriageOutcome.INHIBITED, TriageOutcome.TIME_MUTED)


def _utc(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


# ------------------------------------------------------------------ held incidents


def mute_of(triages: Sequence[Triage]) -> Triage | None:
    """What holds an incident whose alerts decided `triages`: None when one of them pages
    or none is muted; else a silence first, then inhibition, then time intervals."""
    if any(t.outcome is TriageOutcome.ROUTED for t in triages):
        return None
    for outcome in MUTED:
        for t in triages:
            if t.outcome is outcome:
                return t
    return None


def recheck_at(mute: Triage, silences: Sequence[Silence], now: datetime) -> datetime:
    """When to look at a held incident again: its silence's end, if that comes sooner."""
    soon = now + RECHECK
    if mute.outcome is TriageOutcome.SILENCED:
        for silence in silences:
            if silence.id != mute.silence_id:
                continue
            # A recurring silence's window ends before the silence does.
            end = silence_status(silence, now).window_ends_at
            if end is not None:
                return max(now, min(end, soon))
    return soon


@dataclass(frozen=True, slots=True)
class Hold:
    """A held incident opening, as stored (paging_hold)."""

    incident_id: int
    round: int
    outcome: TriageOutcome  # the latest mute
    silence_id: str | None
    detail: str
    held_at: datetime


@dataclass(frozen=True, slots=True)
class SilenceEnd:
    """How the silence that held an incident ended: `by` someone early, else it ran out."""

    silence_id: str
    at: datetime | None
    by: str | None = None


class ReleaseKind(StrEnum):
    PAGE = "page"  # nothing mutes it now: start paging
    KEEP = "keep"  # still muted: look again at `recheck_at`
    DROP = "drop"  # nobody will be paged for this opening (acknowledged, resolved, ...)


@dataclass(frozen=True, slots=True)
class Release:
    kind: ReleaseKind
    reason: str
    triages: tuple[Triage, ...] = ()  # PAGE: the routed decisions, due now
    recheck_at: datetime | None = None  # KEEP
    mute: Triage | None = None  # KEEP: what mutes it now


def why_late(hold: Hold, ended: SilenceEnd | None) -> str:
    """ "silence 3f2c… was ended early by bob at 2026-05-04 10:05 UTC"."""
    if hold.outcome is TriageOutcome.SILENCED:
        sid = hold.silence_id or "?"
        if ended is not None and ended.by:
            when = f" at {_utc(ended.at)}" if ended.at else ""
            return f"silence {sid} was ended early by {ended.by}{when}"
        if ended is not None and ended.at is not None:
            return f"silence {sid} expired at {_utc(ended.at)}"
        return f"silence {sid} no longer mutes it"
    if hold.outcome is TriageOutcome.INHIBITED:
        return f"the inhibiting alert stopped firing (it was {hold.detail})"
    return f"its route's time intervals now allow notifications (it was {hold.detail})"


def _due_now(result: Triage, now: datetime) -> Triage:
    # group_wait gathers the first alerts of a new incident; a held one has waited already.
    return dataclasses.replace(
        result,
        escalations=tuple(dataclasses.replace(e, due_at=now) for e in result.escalations),
        channels=tuple(dataclasses.replace(c, due_at=now) for c in result.channels),
    )


def decide_release(
    hold: Hold,
    incident_status: str,
    current_round: int,
    triages: Sequence[Triage],
    silences: Sequence[Silence],
    now: datetime,
    ended: SilenceEnd | None = None,
) -> Release:
    """What a held incident does at `now`, given the triage of each of its open alerts.

    Paging starts only for a triggered incident still in the opening that was held; the
    caller's inserts are keyed by that opening, so a second release pages nobody twice.
    """
    if incident_status != "triggered":
        return Release(ReleaseKind.DROP, f"incident {incident_status} while muted")
    if current_round != hold.round:
        return Release(ReleaseKind.DROP, "the incident resolved while muted and opened again")
    routed = [t for t in triages if t.outcome is TriageOutcome.ROUTED]
    if routed:
        details = "; ".join(dict.fromkeys(t.detail for t in routed))
        return Release(
            ReleaseKind.PAGE,
            f"paging started late: {why_late(hold, ended)}; {details}",
            tuple(_due_now(t, now) for t in routed),
        )
    mute = mute_of(triages)
    if mute is None:
        if triages:  # e.g. a config reload left no route that pages
            return Release(ReleaseKind.DROP, f"no longer muted, but {triages[0].detail}")
        return Release(ReleaseKind.KEEP, "no open alerts", recheck_at=now + RECHECK)
    return Release(
        ReleaseKind.KEEP, mute.detail, recheck_at=recheck_at(mute, silences, now), mute=mute
    )


# ------------------------------------------------------------------ channel feeds


@dataclass(frozen=True, slots=True)
class Feed:
    """A route's channel posting about one incident opening, as stored (channel_feed)."""

    notices: int  # posts queued so far
    last_notice_at: datetime  # when the latest post was due
    joined: int  # alerts that joined since
    update_due_at: datetime | None
    group_interval: timedelta
    repeat_interval: timedelta


def schedule_update(feed: Feed, now: datetime) -> datetime | None:
    """When the update for an alert joining at `now` is due; None when no update is needed
    (the latest post is not due yet, so it will show the alert)."""
    if now < feed.last_notice_at:
        return None
    if feed.update_due_at is not None:
        return feed.update_due_at  # one update per group_interval, however many join
    return max(now, feed.last_notice_at + feed.group_interval)


class FeedKind(StrEnum):
    POST = "post"
    WAIT = "wait"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class FeedDecision:
    kind: FeedKind
    reason: str = ""  # POST: the timeline text; DONE/WAIT: why
    step: str = ""  # POST: what the message says this post is
    next_check_at: datetime | None = None


def muted_reason(triages: Sequence[Triage]) -> str | None:
    """Why none of an incident's open alerts would page now, or None if one would."""
    if any(t.outcome is TriageOutcome.ROUTED for t in triages):
        return None
    if not triages:
        return "no open alerts"
    mute = mute_of(triages)
    return (mute or triages[0]).detail


def _alerts(count: int) -> str:
    return f"{count} new alert{'s' if count != 1 else ''}"


def decide_feed(
    feed: Feed, incident_status: str, muted: str | None, now: datetime, stale: bool = False
) -> FeedDecision:
    """Whether a channel hears about the incident again at `now`.

    `stale`: the feed belongs to an earlier opening of the incident (it resolved and
    reopened since); the new opening has feeds of its own.

    `muted` says why no open alert of the incident would page now (silenced, inhibited,
    muted by time), or is None. As in Alertmanager, a muted incident is not re-posted;
    it is looked at again after group_interval. Posts stop once the incident is
    acknowledged or resolved (chat messages are edited in place for those).
    """
    if incident_status != "triggered":
        return FeedDecision(FeedKind.DONE, f"incident {incident_status}")
    if stale:
        return FeedDecision(FeedKind.DONE, "the incident resolved and opened again")
    repeat_at = feed.last_notice_at + feed.repeat_interval
    update_due = feed.update_due_at is not None and feed.update_due_at <= now
    if not update_due and repeat_at > now:
        due = [repeat_at] + ([feed.update_due_at] if feed.update_due_at else [])
        return FeedDecision(FeedKind.WAIT, "not due", next_check_at=min(due))
    if muted is not None:
        return FeedDecision(FeedKind.WAIT, muted, next_check_at=now + feed.group_interval)
    every = format_duration(feed.repeat_interval)
    if update_due:
        step = f"update: {_alerts(feed.joined)} joined"
        text = f"channel update: {_alerts(feed.joined)} joined since the last post"
    else:
        step = f"reminder: still not acknowledged (repeated every {every})"
        text = (
            f"channel reminder: still not acknowledged "
            f"{format_duration(now - feed.last_notice_at)} after the last post"
        )
    return FeedDecision(FeedKind.POST, text, step, next_check_at=now + feed.repeat_interval)


def address_key(address: str) -> str:
    """A channel's key in channel_feed: a digest, since addresses can hold tokens."""
    return address_digest(address)


def feed_key(incident_id: int, round_no: int, notice_no: int, address: str) -> str:
    """The outbox key of a channel's later post (the first is paging.channel_key)."""
    return f"channel:{incident_id}:{round_no}:{notice_no}:{address_digest(address)}"
