"""Pure grouping: which open incident an alert joins, by its group_by label values.

Alertmanager groups by exact label values. firebell adds cross-source correlation:
a label an alert does not carry (a Sentry issue has no `alertname`) matches any value,
so a Sentry issue, an Nginx upstream error and a Prometheus alert for the same
`service` meet in one incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class GroupKey:
    """The group_by labels an alert carries (absent labels are left out, not blank)."""

    labels: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, labels: Mapping[str, str], group_by: Sequence[str]) -> GroupKey:
        return cls(tuple((name, labels[name]) for name in group_by if labels.get(name)))

    def as_dict(self) -> dict[str, str]:
        return dict(self.labels)

    def text(self) -> str:
        """Canonical text form, stored on the incident and shown to people."""
        return orjson.dumps(dict(self.labels), option=orjson.OPT_SORT_KEYS).decode()

    def lock_name(self, correlate_by: str) -> str:
        """The lock an assignment takes: all alerts of one service serialize on it."""
        value = dict(self.labels).get(correlate_by)
        return f"{correlate_by}={value}" if value is not None else f"group={self.text()}"


def compatible(alert_key: GroupKey, incident_key: GroupKey) -> bool:
    """Equal on every group_by label both carry; a label only one side has is a wildcard.

    Keys with no label in common (e.g. neither carries a `service`) are not compatible,
    so unrelated alerts never merge just because they lack labels.
    """
    ours = dict(alert_key.labels)
    theirs = dict(incident_key.labels)
    shared = ours.keys() & theirs.keys()
    if not shared:
        return not ours and not theirs
    return all(ours[name] == theirs[name] for name in shared)


def choose_incident(
    alert_key: GroupKey, open_incidents: Sequence[tuple[int, GroupKey]]
) -> int | None:
    """The open incident to join: an exact key match first, else the oldest compatible one."""
    for incident_id, key in open_incidents:
        if key == alert_key:
            return incident_id
    candidates = [incident_id for incident_id, key in open_incidents if compatible(alert_key, key)]
    return min(candidates) if candidates else None
