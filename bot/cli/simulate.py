"""`firebell simulate`: run a payload through the server's own ingest and paging code at an
instant T, in a transaction that is rolled back, and describe every decision.

Nothing here decides anything itself: dedup and grouping are routing.intake.ingest, routing,
silences and inhibition are routing.paging.triage.triage on the labels escalation_store
prepares, and the escalation plan walks the worker's own step functions (decide_step,
step_recipients, next_step). This module only collects their answers and prints them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, func, select

from bot.config import Settings
from bot.http.app import ingest_policy
from integrations.sources import SOURCES, PayloadError, SourceOptions
from routing.basics.duration import format_duration
from routing.intake.alert import Alert, AlertStatus
from routing.intake.dedup import DecisionKind
from routing.intake.ingest import AlertOutcome, IncidentEventKind, Submission, ingest
from routing.muting.inhibition import inhibited_by
from routing.muting.silence import Silence, silencing
from routing.muting.tree import RouteMatch, RouteNode
from routing.oncall.schedule import oncall_at
from routing.paging.escalation import Recipient, split_target
from routing.paging.escalation_steps import step_recipients
from routing.paging.escalation_store import (
    ESCALATION,
    INCIDENT,
    NOTIFICATION,
    all_silences,
    firing_labels,
    start_paging,
)
from routing.paging.triage import (
    StepKind,
    Triage,
    TriageOutcome,
    decide_step,
    next_step,
    routing_labels,
    triage,
)
from routing.storage.database import is_sqlite, make_engine
from routing.storage.migrate import upgrade

# --------------------------------------------------------------------------- the report


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
class Simulation:
    source: str
    at: datetime
    error: str | None = None
    parsed: int = 0
    note: str | None = None
    unparsed: int = 0
    alerts: tuple[AlertReport, ...] = ()


# --------------------------------------------------------------------------- running


def _options(settings: Settings, source: str) -> SourceOptions:
    own: Mapping[str, str] = {}
    if source.startswith("sentry"):
        own = settings.sources.sentry.services
    elif source == "nginx":
        own = settings.sources.nginx.services
    return SourceOptions(services={**settings.services, **own})


def run_simulation(
    settings: Settings, source: str, body: bytes, headers: Mapping[str, str], at: datetime
) -> Simulation:
    """Everything the server would decide for this payload at `at`; writes nothing."""
    at = at.astimezone(UTC)
    if source not in SOURCES:
        return Simulation(
            source, at, error=f"unknown source {source!r}; known: {', '.join(sorted(SOURCES))}"
        )
    try:
        result = SOURCES[source].parse(body, headers, _options(settings, source))
    except PayloadError as exc:
        return Simulation(
            source, at, error=f"payload rejected ({exc.status_code}): {exc.field}: {exc.message}"
        )
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                reports = _decide(conn, settings, source, result.alerts, at)
            finally:
                transaction.rollback()  # simulate never writes
    finally:
        engine.dispose()
    return Simulation(
        source,
        at,
        parsed=len(result.alerts),
        note=result.note,
        unparsed=result.unparsed,
        alerts=tuple(reports),
    )


def _max_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())


def _decide(
    conn: Connection, settings: Settings, source: str, alerts: Sequence[Alert], at: datetime
) -> list[AlertReport]:
    """Ingest and start paging exactly as the server's writer does, then read back what
    that wrote (inside the transaction the caller rolls back)."""
    outcome = ingest(conn, [Submission(source, alerts)], at, ingest_policy(settings))
    last_escalation, last_notification = _max_id(conn, ESCALATION), _max_id(conn, NOTIFICATION)
    # start_paging is the intake hook the server runs in this same ingest transaction.
    triaged = {
        (event.incident_id, event.fingerprint): result
        for event, result in start_paging(conn, outcome.incident_events, at, settings)
    }
    started = {
        (row.incident_id, row.policy): row
        for row in conn.execute(select(ESCALATION).where(ESCALATION.c.id > last_escalation))
    }
    noticed = {
        (row.incident_id, row.address): row
        for row in conn.execute(
            select(NOTIFICATION).where(
                NOTIFICATION.c.id > last_notification, NOTIFICATION.c.kind == "channel"
            )
        )
    }
    incident_ids = {d.incident_id for d in outcome.submissions[0].alerts if d.incident_id}
    status: dict[int, str] = dict(
        conn.execute(
            select(INCIDENT.c.id, INCIDENT.c.status).where(INCIDENT.c.id.in_(incident_ids))
        ).all()
    )
    events = outcome.incident_events
    opened = {e.incident_id for e in events if e.kind is IncidentEventKind.OPENED}
    resolved = {e.incident_id for e in events if e.kind is IncidentEventKind.RESOLVED}
    labels = [routing_labels(dict(a.labels), a.severity.value, a.service, a.source) for a in alerts]
    silences = all_silences(conn, settings, at)
    firing = firing_labels(
        conn, settings, [lab for a, lab in zip(alerts, labels, strict=True) if _firing(a)]
    )
    context = _Context(settings, at, silences, firing, triaged, started, noticed)
    return [
        context.report(alert, decided, alert_labels, opened, resolved, status)
        for alert, decided, alert_labels in zip(
            alerts, outcome.submissions[0].alerts, labels, strict=True
        )
    ]


def _firing(alert: Alert) -> bool:
    return alert.status is AlertStatus.FIRING


@dataclass
class _Context:
    settings: Settings
    at: datetime
    silences: list[Silence]
    firing: list[dict[str, str]]
    triaged: dict[tuple[int, str], Triage]  # popped: one alert per incident event
    started: dict[tuple[int, str], Any]  # new escalation rows, popped as they are shown
    noticed: dict[tuple[int, str], Any]  # new channel notification rows, popped likewise

    def report(
        self,
        alert: Alert,
        decided: AlertOutcome,
        labels: dict[str, str],
        opened: set[int],
        resolved: set[int],
        status: Mapping[int, str],
    ) -> AlertReport:
        iid = decided.incident_id
        if iid is None:
            incident = "none"
        elif iid in opened:
            incident = "a new incident"
        else:
            incident = f"incident #{iid}"
        routes = tuple(self._route_view(m) for m in self.settings.route_alert(labels, self.at))
        found: Triage | None = None
        if _firing(alert) and iid is not None and decided.kind in _FIRES:
            found = self.triaged.pop((iid, alert.fingerprint), None)
        server_decided = found is not None
        if found is None and _firing(alert):
            # No incident event (a repeat, a pending count, an acknowledged incident):
            # the server triages nothing, but what would mute or route it is still shown.
            found = triage(self.settings, labels, self.at, self.silences, self.firing)
        escalations: list[EscalationPlan] = []
        channels: list[ChannelNoticePlan] = []
        if server_decided and found is not None and iid is not None:
            escalations, channels = self._started(iid, found)
        paging = _verdict(
            alert, decided, incident, found if server_decided else None, status,
            resolved, escalations, channels,
        )  # fmt: skip
        return AlertReport(
            title=alert.title,
            status=alert.status.value,
            severity=alert.severity.value,
            service=alert.service,
            fingerprint=alert.fingerprint,
            fingerprint_fields=dict(alert.fingerprint_fields),
            decision=decided.kind.value,
            group_key=decided.group_key,
            incident=incident,
            incident_id=iid if iid is not None and iid not in opened else None,
            labels=labels,
            routes=routes,
            outcome=found.outcome.value if found else None,
            detail=found.detail if found else "",
            silence=self._silence(labels) if _firing(alert) else None,
            inhibition=self._inhibition(labels) if _firing(alert) else None,
            paging=paging,
            escalations=tuple(escalations),
            channels=tuple(channels),
        )

    def _route_view(self, match: RouteMatch) -> RouteView:
        node = _route_node(self.settings.route_tree, match.path)
        return RouteView(
            path=match.path,
            config_path="route" + "".join(f".routes.{i}" for i in match.path.split("/")[1:]),
            matchers=tuple(str(m) for m in node.matchers),
            escalation=match.receiver.escalation,
            channels=tuple(match.receiver.channels),
            group_by=match.group_by,
            group_wait=match.group_wait,
            active_time_intervals=node.active_time_intervals,
            mute_time_intervals=node.mute_time_intervals,
            muted_by_time=match.time_reason,
        )

    def _silence(self, labels: Mapping[str, str]) -> SilenceHit | None:
        """The silence muting these labels at T (the one triage names when it decides
        "silenced"), shown even when something else decided first."""
        silence = silencing(self.silences, labels, self.at)
        if silence is None:
            return None
        configured = len(self.settings.silences)  # all_silences lists the config's first
        index = next(i for i, s in enumerate(self.silences) if s is silence)
        return SilenceHit(
            id=silence.id or "?",
            origin="config" if index < configured else "database",
            matchers=tuple(str(m) for m in silence.matchers),
            created_by=silence.created_by,
            comment=silence.comment,
            starts_at=silence.starts_at,
            until=silence.ends_at,
            recurrence=_recurrence_text(silence),
        )

    def _inhibition(self, labels: Mapping[str, str]) -> InhibitionHit | None:
        """The rule and firing alert inhibiting these labels at T, as triage finds them."""
        hit = inhibited_by(self.settings.inhibit_rules, labels, self.firing)
        if hit is None:
            return None
        rule, source = hit
        return InhibitionHit(
            source_matchers=tuple(str(m) for m in rule.source_matchers),
            target_matchers=tuple(str(m) for m in rule.target_matchers),
            equal=tuple(rule.equal),
            source_alert=dict(source),
        )

    def _started(
        self, incident_id: int, found: Triage
    ) -> tuple[list[EscalationPlan], list[ChannelNoticePlan]]:
        """The escalations and channel posts this alert's triage actually started (rows
        start_paging wrote); a policy already running for the incident is not restarted."""
        escalations = []
        for start in found.escalations:
            row = self.started.pop((incident_id, start.policy), None)
            if row is not None:
                escalations.append(self._plan(row.policy, row.route_path, row.due_at))
        channels = []
        for notice in found.channels:
            row = self.noticed.pop((incident_id, notice.address), None)
            if row is not None:
                due = _aware(row.first_due_at)
                channels.append(
                    ChannelNoticePlan(notice.address, notice.route_path, due, due - self.at)
                )
        return escalations, channels

    def _plan(self, name: str, route_path: str, started_at: datetime) -> EscalationPlan:
        """The escalation's steps if nobody acknowledges, walked with the worker's own
        functions, so a step that reaches nobody skips its wait here as it does there."""
        started_at = _aware(started_at)
        policy = self.settings.escalation_policies_by_name.get(name)
        steps: list[PlannedPage] = []
        pass_no, step_no, due = 0, 0, started_at
        end = ""
        while True:
            decision = decide_step(policy, name, pass_no, step_no, "triggered")
            if decision.kind is not StepKind.PAGE:
                end = decision.reason
                break
            recipients, problem = step_recipients(self.settings, decision.targets, due)
            steps.append(
                PlannedPage(
                    pass_no=pass_no + 1,
                    step_no=step_no + 1,
                    label=decision.label,
                    due_at=due,
                    after=due - self.at,
                    targets=self._targets(decision.targets, recipients, due),
                    problem=problem,
                )
            )
            assert policy is not None  # decide_step pages only with a policy
            following = next_step(policy, pass_no, step_no, due, reached=bool(recipients))
            if following is None:
                passes = policy.repeat + 1
                end = (
                    f"nobody else is paged: the escalation ends after "
                    f"{passes} pass{'es' if passes != 1 else ''}"
                )
                break
            pass_no, step_no, due = following.pass_no, following.step_no, following.due_at
        return EscalationPlan(name, route_path, started_at, tuple(steps), end)

    def _targets(
        self, targets: Iterable[str], recipients: Sequence[Recipient], due: datetime
    ) -> tuple[TargetReach, ...]:
        out = []
        for target in targets:
            kind, name = split_target(target)
            zone: ZoneInfo | None = None
            on_call: tuple[str, ...] = ()
            schedule = self.settings.schedules_by_name.get(name) if kind == "schedule" else None
            if schedule is not None:
                zone = schedule.time_zone
                on_call = tuple(oncall_at(schedule, due))
            reaches = tuple(
                Reach(r.kind, r.name, _shown_address(r.address), self._user_time(r, due))
                for r in recipients
                if r.via == target
            )
            out.append(
                TargetReach(
                    target=target,
                    time_zone=str(zone) if zone else None,
                    local_due=due.astimezone(zone) if zone else None,
                    on_call=on_call,
                    reaches=reaches,
                )
            )
        return tuple(out)

    def _user_time(self, recipient: Recipient, due: datetime) -> datetime | None:
        user = self.settings.users_by_name.get(recipient.name) if recipient.kind == "user" else None
        return due.astimezone(user.time_zone) if user else None


# A decision that may create an incident event; the others never page.
_FIRES = (DecisionKind.NEW, DecisionKind.REOPEN)


def _verdict(
    alert: Alert,
    decided: AlertOutcome,
    incident: str,
    found: Triage | None,
    status: Mapping[int, str],
    resolved: set[int],
    escalations: Sequence[EscalationPlan],
    channels: Sequence[ChannelNoticePlan],
) -> str:
    """One line: what the server would do about this alert, and why."""
    kind, iid = decided.kind, decided.incident_id
    if not _firing(alert):
        if kind is DecisionKind.STALE:
            return "a resolve for nothing open: no effect"
        if iid is not None and iid in resolved:
            return f"resolves {incident}: its escalations stop, nothing is paged"
        if iid is not None:
            return f"resolves this alert; {incident} stays open (other alerts still fire)"
        return "resolved: nothing is paged"
    if kind is DecisionKind.PENDING:
        return "not firing yet (counted towards the source's threshold): nothing is paged"
    if kind is DecisionKind.REPEAT:
        return f"a repeat of an alert already open in {incident}: nothing is paged again"
    if found is None:
        state = status.get(iid) if iid is not None else None
        if state is not None and state != "triggered":
            return f"{incident} is {state}: nothing new is paged"
        return f"no new incident event for {incident}: nothing new is paged"
    if found.outcome is not TriageOutcome.ROUTED:
        return f"no page: {found.detail}"
    if not escalations and not channels:
        return f"{incident} is already paging for this route: nothing new is paged"
    parts = [f"escalation {plan.policy}" for plan in escalations]
    if channels:
        parts.append(f"{len(channels)} channel notice{'s' if len(channels) != 1 else ''}")
    return "pages: " + " and ".join(parts)


def _route_node(tree: RouteNode, path: str) -> RouteNode:
    """ "root/0/1" -> the compiled node (paths come from route_alert on this tree)."""
    node = tree
    for index in path.split("/")[1:]:
        node = node.children[int(index)]
    return node


def _recurrence_text(silence: Silence) -> str | None:
    rec = silence.recurrence
    if rec is None:
        return None
    days = ", ".join(rec.weekdays) or "every day"
    times = ", ".join(rec.times) or "all day"
    return f"{days} {times} ({rec.time_zone})"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _shown_address(address: str) -> str:
    """Apprise URLs can carry tokens in their path or password (the outbox never logs
    them): show scheme, user and host, which say where a page goes, and mask the rest."""
    if address.startswith(("slack:", "discord:")):
        return address
    parts = urlsplit(address)
    try:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an unparsable port: show nothing of it
        host, port = "", ""
    user = f"{parts.username}@" if parts.username else ""
    rest = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{user}{host}{port}{rest}"


# --------------------------------------------------------------------------- output


def simulate(
    settings: Settings,
    source: str,
    body: bytes,
    headers: Mapping[str, str],
    at: datetime,
    *,
    as_json: bool = False,
) -> str:
    sim = run_simulation(settings, source, body, headers, at)
    return render_json(sim) if as_json else render_text(sim)


def render_json(sim: Simulation) -> str:
    """Instants as ISO 8601 (UTC, or with their offset for local times); durations in the
    config's own notation ("5m")."""
    return json.dumps(_plain(sim), indent=2, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_KEY = 13  # the label column of the text output


def _row(indent: int, key: str, value: str) -> str:
    return f"{' ' * indent}{key:<{_KEY}}{value}".rstrip()


def _utc(instant: datetime) -> str:
    clock = "%H:%M:%S" if instant.second or instant.microsecond else "%H:%M"
    return instant.astimezone(UTC).strftime(f"%a %Y-%m-%d {clock} UTC")


def _local(instant: datetime) -> str:
    clock = "%H:%M:%S" if instant.second or instant.microsecond else "%H:%M"
    return instant.strftime(f"%a {clock} %Z")


def _after(delta: timedelta) -> str:
    return "T" if delta == timedelta(0) else f"T+{format_duration(delta)}"


def render_text(sim: Simulation) -> str:
    if sim.error:
        return sim.error
    lines = [
        _row(0, "source", sim.source),
        _row(0, "at (T)", f"{_utc(sim.at)}  (nothing is written)"),
        _row(0, "parsed", f"{sim.parsed} alert{'s' if sim.parsed != 1 else ''}"),
    ]
    if sim.note:
        lines.append(_row(0, "note", sim.note))
    if sim.unparsed:
        lines.append(_row(0, "unparsed", f"{sim.unparsed} lines (kept in the inbox)"))
    for number, alert in enumerate(sim.alerts, 1):
        lines += ["", *_alert_text(number, alert)]
    return "\n".join(lines)


def _alert_text(number: int, a: AlertReport) -> list[str]:
    fields_text = ", ".join(f"{k}={v}" for k, v in sorted(a.fingerprint_fields.items()))
    head = f"== {number}. {a.title} "
    lines = [
        head + "=" * max(3, 78 - len(head)),
        _row(2, "status", f"{a.status}   severity {a.severity}   service {a.service}"),
        _row(2, "fingerprint", f"{a.fingerprint}  (from {fields_text})"),
        _row(2, "decision", a.decision),
        _row(2, "group key", a.group_key),
        _row(2, "incident", a.incident),
        _row(2, "labels", ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))),
        "",
    ]
    if not a.routes:
        lines.append(_row(2, "route", "none matches"))
    for route in a.routes:
        lines += _route_text(route)
    if a.outcome is not None:
        lines.append(_row(2, "silence", _silence_text(a.silence)))
        if a.silence:
            s = a.silence
            lines.append(_sub("matchers", ", ".join(s.matchers)))
            lines.append(_sub("by", s.created_by + _until(s)))
            if s.comment:
                lines.append(_sub("comment", s.comment))
        lines.append(_row(2, "inhibition", _inhibition_text(a.inhibition)))
        if a.inhibition:
            i = a.inhibition
            rule = f"{', '.join(i.source_matchers)} -> {', '.join(i.target_matchers)}"
            if i.equal:
                rule += f" (equal: {', '.join(i.equal)})"
            lines.append(_sub("rule", rule))
    lines.append(_row(2, "paging", a.paging))
    for plan in a.escalations:
        lines += ["", *_plan_text(plan)]
    if a.channels:
        lines += ["", "  channel notices"]
        lines += [
            f"    {_after(c.after):<9}{_utc(c.due_at)}   {c.address}   (route {c.route_path})"
            for c in a.channels
        ]
    return lines


def _route_text(r: RouteView) -> list[str]:
    where = f"{r.path}  ({r.config_path})"
    if r.matchers:
        where += "  " + ", ".join(r.matchers)
    sends = []
    if r.escalation:
        sends.append(f"escalation {r.escalation}")
    if r.channels:
        sends.append("channels " + ", ".join(r.channels))
    if r.muted_by_time:
        time = f"MUTED now ({r.muted_by_time})"
    elif r.active_time_intervals or r.mute_time_intervals:
        time = "not muted now"
        if r.active_time_intervals:
            time += f" (inside active_time_intervals: {', '.join(r.active_time_intervals)})"
    else:
        time = "no time intervals"
    receiver = "; ".join(sends) or "nothing (no escalation, no channels)"
    group = f"wait {format_duration(r.group_wait)}, by {', '.join(r.group_by)}"
    return [
        _row(2, "route", where),
        _sub("receiver", receiver),
        _sub("group", group),
        _sub("time", time),
    ]


def _sub(key: str, value: str) -> str:
    """A detail row under a section row, aligned with the section's value column."""
    return f"{' ' * (2 + _KEY)}{key:<10}{value}".rstrip()


def _silence_text(s: SilenceHit | None) -> str:
    if s is None:
        return "none"
    recurring = f", recurring {s.recurrence}" if s.recurrence else ""
    return f"MUTED by silence {s.id} ({s.origin}{recurring})"


def _until(s: SilenceHit) -> str:
    return f", until {_utc(s.until)}" if s.until else ", no end"


def _inhibition_text(i: InhibitionHit | None) -> str:
    if i is None:
        return "none"
    shown = [k for k in ("alertname", "severity", "service", *i.equal) if k in i.source_alert]
    source = ", ".join(f"{k}={i.source_alert[k]}" for k in dict.fromkeys(shown))
    return f"MUTED by firing alert {source}"


def _plan_text(plan: EscalationPlan) -> list[str]:
    lines = [
        f"  escalation {plan.policy}  (route {plan.route_path})",
        "    if nobody acknowledges (an acknowledgement stops it at any step):",
    ]
    for step in plan.steps:
        lines.append(
            f"    {_after(step.after):<9}{_utc(step.due_at)}   "
            f"pass {step.pass_no}, step {step.step_no}"
        )
        for target in step.targets:
            lines += _target_text(target)
        if step.problem:
            lines.append(f"{'':13}! {step.problem}")
    lines.append(f"    then     {plan.end}")
    return lines


def _target_text(t: TargetReach) -> list[str]:
    head = f"{'':13}{t.target}"
    if t.time_zone and t.local_due is not None:
        who = ", ".join(t.on_call) or "nobody"
        head += f"   {_local(t.local_due)} ({t.time_zone})   on call: {who}"
    lines = [head]
    for reach in t.reaches:
        if reach.kind == "user":
            when = f"   ({_local(reach.local_time)} their time)" if reach.local_time else ""
            lines.append(f"{'':15}-> {reach.name:<10} {reach.address}{when}")
        else:
            lines.append(f"{'':15}-> {'channel':<10} {reach.address}   (team {reach.name})")
    if not t.reaches:
        # Either nobody is on call, or every address was reached by an earlier target.
        lines.append(f"{'':15}-> {'nobody' if t.time_zone and not t.on_call else 'no one new'}")
    return lines
