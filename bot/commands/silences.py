"""Running the silence commands: silence (by matchers or an incident's labels), list, unsilence."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot.commands.context import Actor, CommandContext, Reply, error_reply
from bot.commands.formatting import format_when, silence_when, silences_text
from bot.commands.model import SilenceAlerts, Unsilence
from routing.basics.duration import format_duration
from routing.muting import silence_store as silences
from routing.muting.matcher import Matcher, MatchType
from routing.muting.silence import Silence, SilenceState, silence_status
from routing.paging.escalation_store import cancel_pending_pages
from routing.paging.silenced_pages import store_silence
from routing.response import incidents


def silence_alerts(
    conn: Connection,
    command: SilenceAlerts,
    actor: Actor,
    now: datetime,
    zone: ZoneInfo,
) -> Reply:
    matchers = list(command.matchers)
    item: Mapping[str, Any] | None = None
    if command.incident_id is not None:
        item = incidents.get_incident(conn, command.incident_id, details=False)
        matchers = incident_matchers(item)
    recurrence = command.recurrence
    ends_at = now + command.duration if command.duration is not None else None
    asked = Silence(
        matchers=matchers,
        starts_at=now,
        ends_at=ends_at,
        created_by=actor.name,
        comment=command.comment,
        recurrence=recurrence,
    )
    # By matchers: pages already queued on the incidents it mutes entirely are dropped.
    # On an incident: that incident's pages are dropped below, whatever else it mutes.
    quieted: list[int] = []
    if item is None:
        silence, quieted = store_silence(conn, asked, now)
    else:
        silence = silences.create(conn, asked, now)
    shown = ",".join(str(m) for m in silence.matchers)
    comment = f": {command.comment}" if command.comment else ""
    if recurrence is not None:
        when = silence_when(silence_status(silence, now), zone)
        text = (
            f"{actor.name} silenced {shown} {recurrence.describe()} until ended "
            f"({when}, id {silence.id}){comment}"
        )
    else:
        assert command.duration is not None
        until = format_when(silence.ends_at, zone)
        text = (
            f"{actor.name} silenced {shown} for {format_duration(command.duration)} "
            f"(until {until}, id {silence.id}){comment}"
        )
    if item is None:
        if quieted:
            text += "; pages not sent on " + ", ".join(f"#{i}" for i in quieted)
        return Reply(text, "public", changed=True, action="silence")
    incident_id = int(item["id"])
    incidents.add_timeline(
        conn, incident_id, now, "silenced", text, actor.name, {"silence_id": silence.id}
    )
    # Someone silencing a page wants it quiet now: pages not yet sent are dropped, and
    # the escalation's next step waits for the silence to end (it runs then if nobody
    # acknowledged: a snooze, not a stop). A weekly window not open yet mutes nothing
    # now, so it drops nothing either.
    if silence_status(silence, now).state is SilenceState.ACTIVE:
        cancel_pending_pages(conn, incident_id, now, f"silenced by {actor.name}")
    return Reply(text, "public", incident_id, True, action="silence", incident=item)


def incident_matchers(item: Mapping[str, Any]) -> list[Matcher]:
    """Matchers for the alerts that group into an incident (its group labels)."""
    labels = {k: v for k, v in (item.get("why", {}).get("group_labels") or {}).items() if v}
    if not labels:
        labels = {"service": item["service"]}
    return [Matcher(k, MatchType.EQUAL, v) for k, v in sorted(labels.items())]


def list_silences(conn: Connection, ctx: CommandContext, now: datetime, zone: ZoneInfo) -> Reply:
    views = silences.list_current(conn, now, ctx.config.silences)
    data = {"items": [view.item() for view in views]}
    return Reply(silences_text(views, zone, ctx.prefix), data=data)


def unsilence(
    conn: Connection, command: Unsilence, who: str, ctx: CommandContext, now: datetime
) -> Reply:
    current = [v.id for v in silences.list_current(conn, now, ctx.config.silences)]
    matches = [i for i in current if i.startswith(command.silence_id)]
    if len(matches) > 1 and command.silence_id not in matches:
        return error_reply(
            f"{command.silence_id!r} is the start of {len(matches)} silences: "
            f"give more of the id (see {ctx.prefix} silences)"
        )
    # The id as listed, or the start of it (ids are long; people type the first part).
    silence_id = matches[0] if len(matches) == 1 else command.silence_id
    try:
        view = silences.expire(conn, silence_id, who, now, ctx.config.silences)
    except silences.SilenceNotFound:
        return error_reply(f"no silence {command.silence_id!r}: see {ctx.prefix} silences")
    except (silences.SilenceReadOnly, silences.SilenceAlreadyExpired) as exc:
        return error_reply(str(exc))
    matchers = ",".join(str(m) for m in view.silence.matchers)
    return Reply(
        f"{who} ended silence {view.id} ({matchers})", "public", changed=True,
        action="unsilence",
    )  # fmt: skip
