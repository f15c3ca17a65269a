"""Bundling's store: held pages are outbox rows, so a crash loses and repeats nothing.

Runs in the worker's pass transaction, after the due steps wrote their pages and before
the claim (routing/paging/bundling.py decides). A page row to a contact with a rule:
  pending, released_at null  --send-->  pending, released_at set (claimed as usual)
                             --hold-->  held (next_attempt_at = the bundle's time)
  held  --flush-->  bundled (bundle_id = the new "bundle" row, sent like any other),
                    or pending again when it is the only one left (a bundle of one is
                    just the page), or cancelled when its incident was acknowledged or
                    resolved meanwhile (an acknowledgement stops unsent pages).
Rows are taken FOR UPDATE SKIP LOCKED, so two workers never hold or flush one row, and
a held page changes state in the transaction that writes its bundle (whose unique
`dedup_key` names its first page): a page is in one bundle at most.
Every due undecided page is decided in the pass (no limit): one left for later would be
claimed, and sent, around the rule. A pass's steps bound how many there are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from routing.basics.duration import format_duration
from routing.basics.redact import redact_url
from routing.oncall.bundle_rule import BundleRule
from routing.paging.bundling import decide, flush_due
from routing.paging.outbox import INCIDENT, NOTIFICATION
from routing.storage.timeline import TIMELINE, timeline_row

KIND = "bundle"
HELD = "held"
BUNDLED = "bundled"


def run_bundling(
    conn: Connection, rules: Mapping[str, BundleRule], now: datetime
) -> datetime | None:
    """Hold or release the due pages to contacts with a rule, flush the bundles whose
    time came; returns when the next held bundle is due (None: none waits)."""
    if not rules:
        return None  # bundling off everywhere: nothing to read or write
    addresses = sorted(rules)
    _flush(conn, now)  # first, as the decision's property test assumes
    _decide_due(conn, rules, addresses, now)
    due: datetime | None = conn.execute(
        select(func.min(NOTIFICATION.c.next_attempt_at)).where(NOTIFICATION.c.status == HELD)
    ).scalar()
    return due


def _decide_due(
    conn: Connection, rules: Mapping[str, BundleRule], addresses: list[str], now: datetime
) -> None:
    pages = conn.execute(
        select(
            NOTIFICATION.c.id,
            NOTIFICATION.c.address,
            NOTIFICATION.c.incident_id,
            NOTIFICATION.c.recipient,
        )
        .where(
            NOTIFICATION.c.kind == "page",
            NOTIFICATION.c.status == "pending",
            NOTIFICATION.c.released_at.is_(None),
            NOTIFICATION.c.next_attempt_at <= now,
            NOTIFICATION.c.address.in_(addresses),
            or_(NOTIFICATION.c.claimed_until.is_(None), NOTIFICATION.c.claimed_until <= now),
        )
        .order_by(NOTIFICATION.c.next_attempt_at, NOTIFICATION.c.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not pages:
        return
    due_for = sorted({p.address for p in pages})
    longest = max(rules[a].window for a in due_for)
    released: dict[str, list[datetime]] = defaultdict(list)
    for address, at in conn.execute(
        select(NOTIFICATION.c.address, NOTIFICATION.c.released_at).where(
            NOTIFICATION.c.released_at > now - longest, NOTIFICATION.c.address.in_(due_for)
        )
    ).all():
        released[address].append(at)
    forming: dict[str, datetime] = dict(
        conn.execute(
            select(NOTIFICATION.c.address, func.min(NOTIFICATION.c.next_attempt_at))
            .where(NOTIFICATION.c.status == HELD, NOTIFICATION.c.address.in_(due_for))
            .group_by(NOTIFICATION.c.address)
        ).all()
    )
    sent: list[int] = []
    held: dict[datetime, list[int]] = defaultdict(list)
    notes = []
    for page in pages:
        rule = rules[page.address]
        decision = decide(rule, released[page.address], forming.get(page.address), now)
        if not decision.hold:
            sent.append(page.id)
            released[page.address].append(now)
            continue
        assert decision.flush_at is not None
        forming[page.address] = decision.flush_at
        held[decision.flush_at].append(page.id)
        wait = max(decision.flush_at - now, timedelta(0)).total_seconds()
        notes.append(
            timeline_row(
                page.incident_id,
                now,
                "page_held",
                f"page to {page.recipient} held for a bundle: more than {rule.max_pages} "
                f"pages to this contact within {format_duration(rule.window)}; it goes out in "
                f"{wait:.1f}s with the others (contact {redact_url(page.address)})",
                data={"notification_id": page.id},
            )
        )
    if sent:
        conn.execute(
            update(NOTIFICATION).where(NOTIFICATION.c.id.in_(sent)).values(released_at=now)
        )
    for flush_at, ids in held.items():
        conn.execute(
            update(NOTIFICATION)
            .where(NOTIFICATION.c.id.in_(ids))
            .values(status=HELD, next_attempt_at=flush_at, claimed_until=None)
        )
    if notes:
        conn.execute(insert(TIMELINE).values(notes))


def _flush(conn: Connection, now: datetime) -> None:
    ready = conn.execute(
        select(NOTIFICATION.c.address)
        .where(NOTIFICATION.c.status == HELD, NOTIFICATION.c.next_attempt_at <= now)
        .distinct()
    ).scalars()
    addresses = sorted(a for a in ready)
    if not addresses:
        return
    rows = conn.execute(
        select(
            NOTIFICATION,
            INCIDENT.c.status.label("incident_status"),
            INCIDENT.c.title.label("incident_title"),
            INCIDENT.c.severity.label("incident_severity"),
            INCIDENT.c.service.label("incident_service"),
        )
        .join(INCIDENT, INCIDENT.c.id == NOTIFICATION.c.incident_id)
        .where(NOTIFICATION.c.status == HELD, NOTIFICATION.c.address.in_(addresses))
        .order_by(NOTIFICATION.c.id)
        .with_for_update(skip_locked=True, of=NOTIFICATION)
    ).all()
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row.address].append(row)
    for address, group in groups.items():
        if flush_due(min(r.next_attempt_at for r in group), now):
            _flush_one(conn, address, group, now)


def _flush_one(conn: Connection, address: str, group: list[Any], now: datetime) -> None:
    live = [r for r in group if r.incident_status == "triggered"]
    dropped = [r for r in group if r.incident_status != "triggered"]
    if dropped:
        conn.execute(
            update(NOTIFICATION)
            .where(NOTIFICATION.c.id == bindparam("row_id"))
            .values(status="cancelled", detail=bindparam("why")),
            [
                {
                    "row_id": r.id,
                    "why": f"not sent: incident {r.incident_status} before its bundle went out",
                }
                for r in dropped
            ],
        )
    if len(live) == 1:  # a bundle of one is just the page
        conn.execute(
            update(NOTIFICATION)
            .where(NOTIFICATION.c.id == live[0].id)
            .values(status="pending", released_at=now, next_attempt_at=now)
        )
        return
    if not live:
        return
    first = live[0]
    items = [
        {
            "id": r.incident_id,
            "title": r.incident_title,
            "severity": r.incident_severity,
            "service": r.incident_service,
        }
        for r in live
    ]
    bundle_id = conn.execute(
        insert(NOTIFICATION)
        .values(
            dedup_key=f"bundle:{first.id}",
            kind=KIND,
            address=address,
            recipient=first.recipient,
            via=first.via,
            policy=None,
            step=None,
            status="pending",
            attempts=0,
            created_at=now,
            first_due_at=min(r.first_due_at for r in live),
            next_attempt_at=now,
            released_at=now,
            payload={"incidents": items, "pages": [r.id for r in live]},
        )
        .returning(NOTIFICATION.c.id)
    ).scalar_one()
    conn.execute(
        update(NOTIFICATION)
        .where(and_(NOTIFICATION.c.id.in_([r.id for r in live]), NOTIFICATION.c.status == HELD))
        .values(status=BUNDLED, bundle_id=bundle_id, detail=f"sent in bundle {bundle_id}")
    )
    count = len(live)
    conn.execute(
        insert(TIMELINE).values(
            [
                timeline_row(
                    r.incident_id,
                    now,
                    "page_bundled",
                    f"paged {r.recipient} in a bundle of {count} (contact {redact_url(address)})",
                    data={"notification_id": r.id, "bundle_id": bundle_id, "count": count},
                )
                for r in live
            ]
        )
    )
