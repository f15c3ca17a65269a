"""The paging an alert's triage started, as the simulation shows it: each escalation walked
step by step with the worker's own functions until it ends, and the channel notices, read back
from the rows start_paging wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.simulate_report import (
    ChannelNoticePlan,
    EscalationPlan,
    PlannedPage,
    Reach,
    TargetReach,
)
from bot.config import Settings
from routing.basics.redact import redact_url
from routing.oncall.schedule import oncall_at
from routing.paging.escalation import Recipient, split_target
from routing.paging.escalation_steps import step_recipients
from routing.paging.triage import StepKind, Triage, decide_step, next_step


@dataclass
class PagingPlanner:
    """Pops the rows this ingest wrote, so each started escalation is shown under exactly
    one alert: the first whose triage started it."""

    settings: Settings
    at: datetime
    started: dict[tuple[int, str], Any]  # new escalation rows, popped as they are shown
    noticed: dict[tuple[int, str], Any]  # new channel notification rows, popped likewise

    def plans(
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
                    ChannelNoticePlan(
                        redact_url(notice.address), notice.route_path, due, due - self.at
                    )
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
                Reach(r.kind, r.name, redact_url(r.address), self._user_time(r, due))
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


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
