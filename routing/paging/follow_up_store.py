"""Rows for what paging does after an incident opened, written with the paging decision:
holds for incidents that opened muted, channel feeds for a route's later posts.

Called by escalation_store.start_paging (the ingest transaction) and by silence_store
(ending a silence early makes the incidents it held due at once). The worker's pass that
acts on these rows is routing/paging/follow_up_pass.py; the decisions are
routing/paging/follow_up.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, select, update

from routing.intake.submission import IncidentEvent, IncidentEventKind
from routing.muting.silence import Silence
from routing.paging.follow_up import Feed, address_key, mute_of, recheck_at, schedule_update
from routing.paging.triage import ChannelNotice, Triage, TriageOutcome
from routing.storage.database import insert_ignoring_duplicates
from routing.storage.paging_tables import ChannelFeedRow, PagingHoldRow

HOLD: Table = PagingHoldRow.metadata.tables["paging_hold"]
FEED: Table = ChannelFeedRow.metadata.tables["channel_feed"]

_OPENING = (IncidentEventKind.OPENED, IncidentEventKind.REOPENED)


def _seconds(value: timedelta) -> int:
    return max(1, int(value.total_seconds()))


def feed_of(row: Any) -> Feed:
    return Feed(
        notices=row.notices,
        last_notice_at=row.last_notice_at,
        joined=row.joined,
        update_due_at=row.update_due_at,
        group_interval=timedelta(seconds=row.group_interval_s),
        repeat_interval=timedelta(seconds=row.repeat_interval_s),
    )


def open_feeds(
    conn: Connection,
    incident_id: int,
    round_no: int,
    channels: Sequence[ChannelNotice],
    now: datetime,
) -> int:
    """One feed per channel an incident opening is first posted to (replays add nothing)."""
    rows = [
        {
            "incident_id": incident_id,
            "round": round_no,
            "address_key": address_key(notice.address),
            "address": notice.address,
            "route_path": notice.route_path[:200],
            "group_interval_s": _seconds(notice.group_interval),
            "repeat_interval_s": _seconds(notice.repeat_interval),
            "state": "active",
            "notices": 1,
            "last_notice_at": notice.due_at,
            "joined": 0,
            "update_due_at": None,
            "next_check_at": notice.due_at + notice.repeat_interval,
        }
        for notice in channels
    ]
    return insert_ignoring_duplicates(conn, FEED, rows)


def after_triage(
    conn: Connection,
    decided: Sequence[tuple[IncidentEvent, Triage]],
    rounds: dict[int, int],
    silences: Sequence[Silence],
    now: datetime,
) -> None:
    """In start_paging's transaction, after its decisions: hold an opening whose every
    alert was muted; for a routed alert joining an open incident, end its hold (it is
    being paged) and schedule its channels' group_interval update."""
    by_incident: dict[int, list[tuple[IncidentEvent, Triage]]] = {}
    for event, result in decided:
        by_incident.setdefault(event.incident_id, []).append((event, result))
    holds = []
    for incident_id, items in by_incident.items():
        round_no = rounds[incident_id]
        triages = [result for _, result in items]
        mute = mute_of(triages)
        if mute is not None and any(event.kind in _OPENING for event, _ in items):
            holds.append(
                {
                    "incident_id": incident_id,
                    "round": round_no,
                    "state": "held",
                    "outcome": mute.outcome.value,
                    "silence_id": mute.silence_id,
                    "detail": mute.detail[:2000],
                    "held_at": now,
                    "recheck_at": recheck_at(mute, silences, now),
                }
            )
        joined = [
            (event, result)
            for event, result in items
            if event.kind is IncidentEventKind.ALERT_ADDED
            and result.outcome is TriageOutcome.ROUTED
        ]
        if joined:
            conn.execute(
                update(HOLD)
                .where(
                    HOLD.c.incident_id == incident_id,
                    HOLD.c.round == round_no,
                    HOLD.c.state == "held",
                )
                .values(state="paged", finished_at=now, reason="an alert joined unmuted")
            )
            addresses = {c.address: None for _, r in joined for c in r.channels}
            _feeds_joined(conn, incident_id, round_no, list(addresses), len(joined), now)
    insert_ignoring_duplicates(conn, HOLD, holds)


def _feeds_joined(
    conn: Connection,
    incident_id: int,
    round_no: int,
    addresses: list[str],
    count: int,
    now: datetime,
) -> None:
    if not addresses:
        return
    rows = conn.execute(
        select(FEED).where(
            FEED.c.incident_id == incident_id,
            FEED.c.round == round_no,
            FEED.c.state == "active",
            FEED.c.address_key.in_([address_key(a) for a in addresses]),
        )
    ).all()
    for row in rows:
        due = schedule_update(feed_of(row), now)
        if due is None:
            continue
        conn.execute(
            update(FEED)
            .where(FEED.c.id == row.id)
            .values(
                joined=row.joined + count,
                update_due_at=due,
                next_check_at=min(row.next_check_at, due),
            )
        )


def holds_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The incident's holds, oldest first (for the API and tests)."""
    query = select(HOLD).where(HOLD.c.incident_id == incident_id).order_by(HOLD.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def feeds_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The incident's channel feeds, oldest first (for the API and tests)."""
    query = select(FEED).where(FEED.c.incident_id == incident_id).order_by(FEED.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]
