"""How each open alert of some incidents would page at one instant, and whether that
mutes an incident as a whole: loaded once per worker pass for the escalation steps and
the follow-up pass (held incidents, channel feeds)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from routing.paging.escalation_store import ALERT, ROUTING_COLUMNS, firing_labels
from routing.paging.follow_up import mute_of, recheck_at
from routing.paging.policy import PolicyConfig
from routing.paging.silences_in_force import all_silences
from routing.paging.triage import Triage, routing_labels, triage


class IncidentTriages:
    """Each open alert's triage at `now`, for the incidents of one pass (loaded once)."""

    def __init__(
        self, conn: Connection, config: PolicyConfig, now: datetime, incident_ids: list[int]
    ) -> None:
        rows = conn.execute(
            select(*ROUTING_COLUMNS)
            .where(ALERT.c.incident_id.in_(incident_ids), ALERT.c.status != "resolved")
            .order_by(ALERT.c.id)
        ).all()
        self.alerts: dict[int, list[tuple[str, dict[str, str]]]] = {}
        for r in rows:
            labels = routing_labels(r.labels, r.severity, r.service, r.source)
            self.alerts.setdefault(r.incident_id, []).append((r.fingerprint, labels))
        targets = [labels for alerts in self.alerts.values() for _, labels in alerts]
        self.config = config
        self.now = now
        self.silences = all_silences(conn, config, now)
        self.firing = firing_labels(conn, config, targets)
        self._decided: dict[int, list[tuple[str, Triage]]] = {}

    def of(self, incident_id: int) -> list[tuple[str, Triage]]:
        """Triaged once per incident, however many of its steps, holds and feeds are due."""
        decided = self._decided.get(incident_id)
        if decided is None:
            decided = self._decided[incident_id] = [
                (fp, triage(self.config, labels, self.now, self.silences, self.firing))
                for fp, labels in self.alerts.get(incident_id, [])
            ]
        return decided

    def mute(self, incident_id: int) -> tuple[Triage, datetime] | None:
        """What mutes the whole incident now (a silence, an inhibition or a time interval)
        and when to look again; None when one of its open alerts would page."""
        found = mute_of([t for _, t in self.of(incident_id)])
        if found is None:
            return None
        return found, recheck_at(found, self.silences, self.now)
