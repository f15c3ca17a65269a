"""Pure grouping: which open incident an alert joins, by its group_by label values.

Alertmanager groups by exact label values. firebell adds cross-source correlation:
a label an alert does not carry (a Sentry issue has no `alertname`) matches any value,
so a Sentry issue, an Nginx upstream error and a Prometheus alert for the same
`service` meet in one incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

    def names_text(self) -> str:
        """The label names it carries, sorted (stored as incident.group_names)."""
        return orjson.dumps(sorted(name for name, _ in self.labels)).decode()

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
    """The open incident to join: an exact key match first, else the oldest compatible one.

    The rule in its plainest form; ingest uses `OpenIncidents`, which indexes the same
    rule for thousands of open incidents and is property-tested against this one."""
    for incident_id, key in open_incidents:
        if key == alert_key:
            return incident_id
    candidates = [incident_id for incident_id, key in open_incidents if compatible(alert_key, key)]
    return min(candidates) if candidates else None


class OpenIncidents:
    """The open incidents a batch may assign alerts to, indexed so that choosing costs the
    same with 5 or 5,000 open (a storm of distinct alerts opens thousands): answers
    exactly what `choose_incident` would over the same incidents."""

    def __init__(self, incidents: Iterable[tuple[int, GroupKey]] = ()) -> None:
        self._labels: dict[int, dict[str, str]] = {}
        self._exact: dict[frozenset[tuple[str, str]], int] = {}
        self._by_names: dict[frozenset[str], set[int]] = {}
        # (label names of some incidents, names shared with an alert) -> values -> oldest id
        self._projections: dict[tuple[frozenset[str], tuple[str, ...]], dict[Any, int]] = {}
        for incident_id, key in sorted(incidents, key=lambda item: item[0]):
            self.add(incident_id, key)

    def __contains__(self, incident_id: object) -> bool:
        return incident_id in self._labels

    def add(self, incident_id: int, key: GroupKey) -> None:
        labels = key.as_dict()
        self._labels[incident_id] = labels
        items = frozenset(labels.items())
        if self._exact.get(items, incident_id) >= incident_id:
            self._exact[items] = incident_id
        names = frozenset(labels)
        self._by_names.setdefault(names, set()).add(incident_id)
        for (of, shared), table in self._projections.items():
            if of == names:
                value = tuple(labels[name] for name in shared)
                if table.get(value, incident_id) >= incident_id:
                    table[value] = incident_id

    def remove(self, incident_id: int) -> None:
        labels = self._labels.pop(incident_id, None)
        if labels is None:
            return
        names = frozenset(labels)
        self._by_names[names].discard(incident_id)
        if not self._by_names[names]:
            del self._by_names[names]
        items = frozenset(labels.items())
        if self._exact.get(items) == incident_id:
            del self._exact[items]
            same = [i for i in self._by_names.get(names, ()) if self._labels[i] == labels]
            if same:
                self._exact[items] = min(same)
        # Rare (an incident resolving mid-batch): rebuild that group's tables when asked.
        for cached in [c for c in self._projections if c[0] == names]:
            del self._projections[cached]

    def exact(self, key: GroupKey) -> int | None:
        return self._exact.get(frozenset(key.labels))

    def choose(self, key: GroupKey) -> int | None:
        """An exact key match first, else the oldest compatible incident (see `compatible`)."""
        found = self.exact(key)
        if found is not None:
            return found
        ours = key.as_dict()
        mine = frozenset(ours)
        best: int | None = None
        for names, ids in self._by_names.items():
            shared = tuple(sorted(mine & names))
            if not shared:
                candidate = min(ids) if not mine and not names else None
            else:
                table = self._projection(names, shared)
                candidate = table.get(tuple(ours[name] for name in shared))
            if candidate is not None and (best is None or candidate < best):
                best = candidate
        return best

    def _projection(self, names: frozenset[str], shared: tuple[str, ...]) -> dict[Any, int]:
        table = self._projections.get((names, shared))
        if table is None:
            table = {}
            for incident_id in sorted(self._by_names[names]):
                table.setdefault(tuple(self._labels[incident_id][n] for n in shared), incident_id)
            self._projections[(names, shared)] = table
        return table
