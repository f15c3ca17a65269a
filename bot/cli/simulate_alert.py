"""One alert's report: the routes it ends at, the silence or inhibition muting it at T, and
the one-line verdict on what the server would page, all taken from the server's own triage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.cli.simulate_paging import PagingPlanner
from bot.cli.simulate_report import (
    AlertReport,
    ChannelNoticePlan,
    EscalationPlan,
    InhibitionHit,
    RouteView,
    SilenceHit,
)
from bot.config import Settings
from routing.basics.redact import redact_url
from routing.intake.alert import Alert, AlertStatus
from routing.intake.dedup import DecisionKind
from routing.intake.submission import AlertOutcome
from routing.muting.inhibition import inhibited_by
from routing.muting.silence import Silence, silencing
from routing.muting.tree import RouteMatch, RouteNode
from routing.paging.triage import Triage, TriageOutcome, triage


def is_firing(alert: Alert) -> bool:
    return alert.status is AlertStatus.FIRING


# A decision that may create an incident event; the others never page.
_FIRES = (DecisionKind.NEW, DecisionKind.REOPEN)


@dataclass
class AlertExplainer:
    """What the transaction decided, shared by every alert of one payload; triage results
    are popped so an incident event is credited to one alert only."""

    settings: Settings
    at: datetime
    silences: list[Silence]
    firing: list[dict[str, str]]
    triaged: dict[tuple[int, str], Triage]  # popped: one alert per incident event
    paging: PagingPlanner

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
        if is_firing(alert) and iid is not None and decided.kind in _FIRES:
            found = self.triaged.pop((iid, alert.fingerprint), None)
        server_decided = found is not None
        if found is None and is_firing(alert):
            # No incident event (a repeat, a pending count, an acknowledged incident):
            # the server triages nothing, but what would mute or route it is still shown.
            found = triage(self.settings, labels, self.at, self.silences, self.firing)
        escalations: list[EscalationPlan] = []
        channels: list[ChannelNoticePlan] = []
        if server_decided and found is not None and iid is not None:
            escalations, channels = self.paging.plans(iid, found)
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
            grouping=_grouping(decided, incident),
            incident=incident,
            incident_id=iid if iid is not None and iid not in opened else None,
            labels=labels,
            routes=routes,
            outcome=found.outcome.value if found else None,
            detail=found.detail if found else "",
            silence=self._silence(labels) if is_firing(alert) else None,
            inhibition=self._inhibition(labels) if is_firing(alert) else None,
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
            channels=tuple(redact_url(c) for c in match.receiver.channels),  # no secrets
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
    if not is_firing(alert):
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


def _grouping(decided: AlertOutcome, incident: str) -> str:
    """The grouping rule's answer, as the server records it in the alert's `why`."""
    if decided.group_reason:
        return decided.group_reason
    if decided.incident_id is not None:
        return f"stays in {incident} (grouped when it first fired)"
    return "not grouped: nothing fires"


def _route_node(tree: RouteNode, path: str) -> RouteNode:
    """ "root/0/1" -> the compiled node (paths come from route_alert on this tree)."""
    node = tree
    for index in path.split("/")[1:]:
        node = node.children[int(index)]
    return node


def _recurrence_text(silence: Silence) -> str | None:
    return silence.recurrence.describe() if silence.recurrence else None
