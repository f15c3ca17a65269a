"""The report `firebell simulate` builds: plain frozen dataclasses, one per decision shown.
The engine fills them and the renderers read them; the JSON output is their fields as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class RouteView:
    """One route the alert ends at, with what it sends and whether time mutes it at T."""

    path: str  # "root/0", as in the timeline and escalation rows
    config_path: str  # "route.routes.0", where it is written in the config file
    matchers: tuple[str, ...]
    escalation: str | None
    channels: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: timedelta
    active_time_intervals: tuple[str, ...]
    mute_time_intervals: tuple[str, ...]
    muted_by_time: str | None  # which interval mutes it at T, else None


@dataclass(frozen=True, slots=True)
class SilenceHit:
    id: str
    origin: str  # "config" or "database"
    matchers: tuple[str, ...]
    created_by: str
    comment: str
    starts_at: datetime | None
    until: datetime | None
    recurrence: str | None  # "sunday 02:00-04:00 (Europe/Madrid)"


@dataclass(frozen=True, slots=True)
class InhibitionHit:
    source_matchers: tuple[str, ...]
    target_matchers: tuple[str, ...]
    equal: tuple[str, ...]
    source_alert: Mapping[str, str]  # the firing source alert's routing labels


@dataclass(frozen=True, slots=True)
class Reach:
    """One person's contact or one team channel a step reaches."""

    kind: str  # "user" or "channel"
    name: str  # the user, or the team owning the channel
    address: str  # shown form: an apprise URL's path and password are masked
    local_time: datetime | None  # the step's due instant on the user's own clock


@dataclass(frozen=True, slots=True)
class TargetReach:
    target: str  # "schedule:backend-primary", "user:carol", "team:backend"
    time_zone: str | None  # schedules: the zone their hand-offs are defined in
    local_due: datetime | None  # schedules: the due instant in that zone
    on_call: tuple[str, ...]  # schedules: who is on call at the step's due instant
    reaches: tuple[Reach, ...]  # addresses first reached by this target in this step


@dataclass(frozen=True, slots=True)
class PlannedPage:
    pass_no: int  # 1-based, as people count
    step_no: int
    label: str  # "step 1 of 2 (pass 1 of 3)"
    due_at: datetime
    after: timedelta  # since T
    targets: tuple[TargetReach, ...]
    problem: str | None  # a target the config no longer defines


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    policy: str
    route_path: str
    started_at: datetime
    steps: tuple[PlannedPage, ...]
    end: str


@dataclass(frozen=True, slots=True)
class ChannelNoticePlan:
    address: str
    route_path: str
    due_at: datetime
    after: timedelta


@dataclass(frozen=True, slots=True)
class AlertReport:
    title: str
    status: str
    severity: str
    service: str
    fingerprint: str
    fingerprint_fields: Mapping[str, str]
    decision: str
    group_key: str
    grouping: str  # how it came into its incident: same group, correlation, or opened it
    incident: str  # "a new incident", "incident #12" or "none"
    incident_id: int | None  # an existing incident; None for a new one (rolled back)
    labels: Mapping[str, str]  # what routes, silences and inhibition match on
    routes: tuple[RouteView, ...]
    outcome: str | None  # routing.paging.triage.TriageOutcome; None for a resolve
    detail: str  # the triage's own one-line explanation
    silence: SilenceHit | None
    inhibition: InhibitionHit | None
    paging: str  # what the server would actually do, in one line
    escalations: tuple[EscalationPlan, ...]
    channels: tuple[ChannelNoticePlan, ...]


@dataclass(frozen=True, slots=True)
class PlaybookReport:
    """A playbook matching an incident the payload opens or joins (bot.cli.simulate_playbooks)."""

    incident: str  # "a new incident" or "incident #12"
    playbook: str
    run: str  # manual / on_open
    starts: str  # whether this payload would start it, in one line
    params: Mapping[str, Any] | None = None  # --dry-run-playbooks: the defaults it ran with
    steps: tuple[Mapping[str, Any], ...] | None = None  # --dry-run-playbooks: each step's plan
    note: str = ""  # why there is no dry-run (a required param)


@dataclass(frozen=True, slots=True)
class Simulation:
    source: str
    at: datetime
    error: str | None = None
    parsed: int = 0
    note: str | None = None
    unparsed: int = 0
    alerts: tuple[AlertReport, ...] = ()
    playbooks: tuple[PlaybookReport, ...] = ()
