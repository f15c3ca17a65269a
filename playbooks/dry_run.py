"""A dry-run: every step of a playbook rendered against an incident and planned into the
exact request it would send, with nothing sent (reads only when asked, `with_reads`).

`plan_steps` is pure (no database, no network): the service runs it against the real
incident and records a `playbook_dry_run` timeline entry; `firebell simulate` runs it
against the incident a payload would open. What a run only learns as it goes (earlier
steps' outputs, the run's summary) shows as "known when run".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from integrations.connections import ConnectionBase
from integrations.logs.base import FetchError
from integrations.outbound import Outbound
from playbooks.action import Action, ActionContext, ActionIO, Planned
from playbooks.approval_rules import eligible
from playbooks.catalog import Catalog
from playbooks.model import Approval, Playbook, Step
from playbooks.outputs import Redactor, excerpt, prepare_output
from playbooks.registry import action_for
from playbooks.templates import (
    KNOWN_WHEN_RUN,
    KNOWN_WHEN_RUN_TEXT,
    TemplateError,
    preview_if,
    references,
    render,
)

KNOWN = KNOWN_WHEN_RUN_TEXT
SHOWN_CHARS = 300  # of a body or chat text in a one-line request
# Names an `if:` may read that only exist once the run is under way.
_RUN_TIME_NAMES = frozenset({"steps", "run"})


@dataclass(slots=True)
class StepPlan:
    """One step as a dry-run shows it; `planned` is kept for `with_reads`, not shown."""

    id: str
    uses: str
    effect: str
    condition: bool | str | None  # the `if`: True/False, KNOWN, or None without one
    request: Mapping[str, Any] | None  # Planned.shown, or None when it cannot be planned
    note: str = ""
    result: str | None = None  # with_reads: the read's summary (or why it failed)
    excerpt: str | None = None  # with_reads: its last lines, redacted
    # approval: who would be asked ({"asks": [...], "required": N, "expires_in": "45m"});
    # wait: how long a remote run would be followed ("30m").
    approval: dict[str, Any] | None = None
    wait: str | None = None
    planned: Planned | None = field(default=None, repr=False)
    action: Action | None = field(default=None, repr=False)
    connection: ConnectionBase | None = field(default=None, repr=False)

    def shown(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "uses": self.uses,
            "effect": self.effect,
            "if": self.condition,
            "request": dict(self.request) if self.request is not None else None,
            "note": self.note,
        }
        if self.approval is not None:
            item["approval"] = self.approval
        if self.wait is not None:
            item["wait"] = self.wait
        if self.result is not None:
            item["result"] = self.result
            item["excerpt"] = self.excerpt or ""
        return item


def dry_run_context(
    incident: Mapping[str, Any], params: Mapping[str, Any], actor: str
) -> dict[str, Any]:
    """What templates see in a dry-run: the incident and params as a run would, the
    run-time names as the placeholder."""
    return {
        "incident": dict(incident),
        "params": dict(params),
        "steps": KNOWN_WHEN_RUN,
        "run": {
            "id": KNOWN_WHEN_RUN,
            "status": KNOWN_WHEN_RUN,
            "summary": KNOWN_WHEN_RUN,
            "started_by": actor,
        },
    }


def reads_run_time_names(expression: str) -> bool:
    """Whether an `if:` reads `steps` or `run`: known only when run, even where the
    placeholder would answer (`steps.loki is defined`). A syntax error answers False:
    evaluating it then reports the error itself."""
    try:
        names = {name for name, _key in references(expression, is_expression=True)}
    except TemplateSyntaxError:
        return False
    return bool(names & _RUN_TIME_NAMES)


def _condition(step: Step, context: Mapping[str, Any]) -> bool | str | None:
    if step.if_ is None:
        return None
    if reads_run_time_names(step.if_):
        return KNOWN
    return preview_if(step.if_, context, f"{step.id}.if")


def plan_step(
    step: Step,
    catalog: Catalog,
    context: Mapping[str, Any],
    incident_id: int,
    now: datetime,
) -> StepPlan:
    action = action_for(step.uses)
    effect = action.effect if action is not None else "unknown"
    plan = StepPlan(step.id, step.uses, effect, None, None)
    if action is None:  # the loader refuses these; a catalog built by hand may not
        plan.note = f'unknown action "{step.uses}"'
        return plan
    try:
        plan.condition = _condition(step, context)
    except TemplateError as exc:
        plan.condition, plan.note = False, f"if: {exc}"
        return plan
    if plan.condition is False:
        plan.note = "would be skipped: its `if` is false for this incident"
        return plan
    try:
        arguments = render(step.with_, context)
        args = action.args_model.model_validate(arguments)
    except TemplateError as exc:
        plan.note = f"with: {exc}"
        return plan
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        plan.note = f"with.{where}: {first['msg']}"
        return plan
    name = getattr(args, "connection", None)
    connection = catalog.connections.get(name) if isinstance(name, str) else None
    if isinstance(name, str) and connection is None:
        plan.note = f'with.connection: unknown connection "{name}"'
        return plan
    try:
        planned = action.plan(args, connection, ActionContext(incident_id, None, now))
    except (ValueError, FetchError) as exc:  # e.g. a file outside the connection's paths
        plan.note = f"cannot be planned: {exc}"
        return plan
    plan.request, plan.planned = planned.shown, planned
    plan.action, plan.connection = action, connection
    notes = []
    if plan.condition == KNOWN:
        notes.append("runs only if its `if` holds when run")
    if step.approval is not None:
        actor = str(context["run"]["started_by"])
        asks = eligible(step.approval, actor, catalog.people, now)
        plan.approval = {
            "asks": asks,
            "required": step.approval.required,
            "expires_in": _duration(step.approval.expires_in),
            "show": list(step.approval.show),
        }
        notes.append(
            f"would ask {asked_line(asks, step.approval)} to approve this "
            "request; a dry-run asks nobody"
        )
    if step.wait is not None:
        plan.wait = _duration(step.wait.timeout)
        notes.append(f"would follow the CI run to its end, at most {plan.wait} (then cancel it)")
    plan.note = "; ".join(notes)
    return plan


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def plan_steps(
    playbook: Playbook,
    catalog: Catalog,
    incident: Mapping[str, Any],
    params: Mapping[str, Any],
    actor: str,
    now: datetime,
) -> list[StepPlan]:
    """Every step planned against `incident` with validated `params` (pure)."""
    context = dry_run_context(incident, params, actor)
    return [
        plan_step(step, catalog, context, int(incident["id"]), now) for step in playbook.spec.steps
    ]


def _mentions_placeholder(value: Any) -> bool:
    text = str(KNOWN_WHEN_RUN)
    if isinstance(value, str):
        return text in value
    if isinstance(value, Mapping):
        return any(_mentions_placeholder(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions_placeholder(v) for v in value)
    return False


def runnable_read(plan: StepPlan) -> bool:
    """A read a dry-run `with_reads` performs: planned, its `if` true or absent, and no
    value in its request that only a run would know."""
    return (
        plan.effect == "read"
        and plan.planned is not None
        and plan.condition in (True, None)
        and not _mentions_placeholder(plan.request)
    )


async def perform_reads(
    plans: list[StepPlan], playbook: Playbook, outbound: Outbound, redactor: Redactor
) -> int:
    """Run the read steps for real (`with_reads`); each gets its summary or error as its
    `result`. Returns how many were sent. Writes are never run here."""
    timeouts = {step.id: step.timeout.total_seconds() for step in playbook.spec.steps}
    sent = 0
    for plan in plans:
        if not runnable_read(plan):
            if plan.effect == "read" and plan.planned is not None:
                plan.result = "not read: it depends on what the run learns first"
            continue
        assert plan.action is not None and plan.planned is not None
        sent += 1
        try:
            result = await asyncio.wait_for(
                plan.action.run(plan.planned, plan.connection, ActionIO(outbound)),
                timeouts[plan.id],
            )
        except TimeoutError:
            plan.result = f"failed: no answer within {timeouts[plan.id]:g}s"
            continue
        except Exception as exc:  # an action's own failure is the read's result
            plan.result = f"failed: {redactor.text(str(exc))}"
            continue
        text = result.summary if result.ok else f"failed: {result.error or result.summary}"
        plan.result = redactor.text(text)
        plan.excerpt = excerpt(prepare_output(result.lines, redactor).lines)
    return sent


def asked_line(asked: Sequence[str], approval: Approval) -> str:
    """ "alice, bob (2 of 2)": who is asked and how many approvals it takes."""
    who = ", ".join(asked) or "nobody (no permitted approver right now)"
    return f"{who} ({approval.required} of {len(asked)})"


def request_line(shown: Mapping[str, Any] | None) -> str | None:
    """A planned request on one line (chat answers, the timeline): method and URL with
    the body, the argument list, the file read, or the chat post; None when unplanned."""
    if not shown:
        return None
    if shown.get("method") == "chat":
        return f"post in the incident thread: {_clipped(str(shown.get('text', '')))}"
    if "url" in shown:
        text = f"{shown.get('method', 'GET')} {shown['url']}"
        body = shown.get("body")
        if body not in (None, "", {}):
            rendered = body if isinstance(body, str) else json.dumps(body, sort_keys=True)
            text += f" body {_clipped(rendered)}"
        return text
    if "argv" in shown:
        return " ".join(str(part) for part in shown["argv"])
    if "path" in shown or "file" in shown:
        return f"read {shown.get('path') or shown.get('file')}"
    return _clipped(json.dumps(dict(shown), sort_keys=True, default=str))


def _clipped(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"
