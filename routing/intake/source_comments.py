"""Comments a source made on its alerts (Sentry issue comments) onto the timeline of the
incident each alert's current episode belongs to, in the ingest transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Table, insert, select

from routing.intake.bulk import chunks
from routing.intake.submission import SourceComment
from routing.storage.tables import AlertIdentity, AlertRow
from routing.storage.timeline import TIMELINE, timeline_row

ALERT: Table = AlertRow.metadata.tables["alert"]
IDENTITY: Table = AlertIdentity.metadata.tables["alert_identity"]
KIND = "comment"


def add_source_comments(conn: Connection, comments: Sequence[SourceComment], now: datetime) -> int:
    """Add each comment to its alert's incident timeline, as said by its source author;
    returns how many found an incident (a comment on an alert firebell never received,
    or one not in an incident, stays only in the inbox with its raw body)."""
    if not comments:
        return 0
    incident_of: dict[str, int] = {}
    for chunk in chunks(sorted({c.fingerprint for c in comments})):
        rows = conn.execute(
            select(IDENTITY.c.fingerprint, ALERT.c.incident_id)
            .select_from(IDENTITY.join(ALERT, ALERT.c.id == IDENTITY.c.current_alert_id))
            .where(IDENTITY.c.fingerprint.in_(chunk), ALERT.c.incident_id.is_not(None))
        ).all()
        incident_of.update({fingerprint: incident_id for fingerprint, incident_id in rows})
    entries = [
        timeline_row(
            incident_of[c.fingerprint],
            now,
            KIND,
            c.message,
            c.author,
            {"fingerprint": c.fingerprint, **c.data},
        )
        for c in comments
        if c.fingerprint in incident_of
    ]
    for chunk in chunks(entries):
        conn.execute(insert(TIMELINE), chunk)
    return len(entries)
