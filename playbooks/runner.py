"""Runs playbook runs, step by step, from their rows (playbooks.run_store).

Each step's state is committed before and after its action: `running` with one more
attempt before the call, then succeeded / failed / skipped / cancelled / timed_out with
its summary, excerpt and (redacted, capped) output. A worker killed mid-step leaves the
step `running`; once its lease runs out another worker takes the run and calls the step
again (attempt + 1, "resumed after a restart" on the timeline): log reads are safe to
repeat. A retry waits as a stored state (`due_at`, lease let go), never as a sleep.

Step rules: a false `if` skips; after a failure (unless `continue_on_error`) the run is
failing and later steps are skipped unless `always`; a cancel cancels the rest but the
`always` steps, which still run. Templates see incident, params, steps, run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import Connection, Engine

from integrations.connections import ConnectionBase
from integrations.outbound import Outbound
from playbooks import run_store
from playbooks.action import (
    Action,
    ActionContext,
    ActionIO,
    ChatPoster,
    Planned,
    StepResult,
    is_remote,
)
from playbooks.catalog import Catalog
from playbooks.incident_view import incident_view
from playbooks.model import Playbook, Step
from playbooks.outputs import Output, Redactor, excerpt, prepare_output
from playbooks.registry import action_for
from playbooks.remote_steps import RemoteSteps
from playbooks.remote_store import set_step
from playbooks.run_rules import (
    FINISHED_STEP,
    PARKED_STEP,
    next_move,
    run_summary,
    steps_changed,
    template_context,
)
from playbooks.run_writes import end_run, end_step, step_timeline
from playbooks.templates import TemplateError, evaluate_if, render

log = logging.getLogger("firebell.playbooks")

T = TypeVar("T")
# Held between steps (rendering, skips); a step holds the run for its timeout + MARGIN.
HOLD = timedelta(seconds=30)
MARGIN = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A step ready to call: its action, the planned call, its connection, what is shown."""

    action: Action
    planned: Planned
    connection: ConnectionBase | None
    shown: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StepMove:
    """One move on one step of a run that `owner` holds: what each of its writes needs.
    `run` is the in-memory run (brought up to date as steps end)."""

    spec: Playbook
    run: dict[str, Any]
    owner: str
    row: dict[str, Any]


class Runner:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        outbound: Outbound,
        clock: Callable[[], datetime],
        post_chat: ChatPoster | None = None,
        on_change: Callable[[int], None] | None = None,
        *,
        public_url: str | None = None,
        margin: timedelta = MARGIN,
        reload: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.clock = clock
        self.io = ActionIO(outbound, post_chat)
        self.on_change = on_change
        self.public_url = public_url
        self.margin = margin
        self.redactor = Redactor(catalog.secrets)
        # Reloads the catalog when a playbook file changed on disk (True: reloaded and
        # `catalog` replaced); the approval gate calls it before running an approved step.
        self.reload = reload
        self.remote = RemoteSteps(self)

    def use_catalog(self, catalog: Catalog) -> None:
        """Run with a reloaded catalog from the next move on."""
        self.catalog = catalog
        self.redactor = Redactor(catalog.secrets)

    async def run_due(self, owner: str, limit: int = 20) -> int:
        """Claim due runs and advance each as far as it goes now; how many were claimed."""
        claimed = await self.claim(owner, limit)
        await asyncio.gather(*(self.advance(run_id, owner) for run_id in claimed))
        return len(claimed)

    async def claim(self, owner: str, limit: int) -> list[int]:
        return await self.write(lambda c: run_store.claim_due(c, self.clock(), owner, HOLD, limit))

    async def advance(self, run_id: int, owner: str) -> None:
        """Step by step until the run ends, waits for a retry, or is lost to another worker.

        The run and its incident are read once; each write returns what the worker needs
        next (the attempt, the run's cancel request), so a move costs one transaction."""
        try:
            run, incident = await asyncio.to_thread(self._load, run_id)
            if run is None or run["status"] != "running" or run["lease_owner"] != owner[:64]:
                return
            assert incident is not None  # a run's incident is a foreign key
            while await self._next(run, incident, owner):
                pass
        except Exception:
            # The lease runs out and another pass resumes from the stored state.
            log.exception("playbook run %s: advancing failed", run_id)

    # -- one move --------------------------------------------------------------------
    async def _next(self, run: dict[str, Any], incident: dict[str, Any], owner: str) -> bool:
        spec = self.catalog.get(run["playbook"])
        if spec is None:
            return await self._abandon(run, owner, "the playbook is no longer configured")
        if steps_changed(spec, run["steps"]):
            why = "the playbook's steps changed since the run started"
            return await self._abandon(run, owner, why)
        move = next_move(spec, run["steps"], run["cancel_requested_by"] is not None)
        if move.kind == "finish":
            return await self._finish_run(run, owner, move.status)
        row = run["steps"][move.position]
        here = StepMove(spec, run, owner, row)
        if move.kind == "cancel":
            if row["status"] in PARKED_STEP or row["dispatch"]:
                return await self.remote.cancel(here)
            return await self.finish_step(here, "cancelled", summary="cancelled")
        if move.kind == "skip":
            return await self.finish_step(here, "skipped", summary=f"skipped: {move.reason}")
        step = spec.spec.steps[move.position]
        context = template_context(incident, run, spec)
        # A parked or dispatched step passed its `if` already: it is not asked again.
        fresh = row["status"] not in PARKED_STEP and not row["dispatch"]
        try:
            if (
                fresh
                and step.if_ is not None
                and not evaluate_if(step.if_, context, f"{step.id}.if")
            ):
                return await self.finish_step(here, "skipped", summary="skipped: `if` is false")
            prepared = self._prepare(run, step, context)
        except (TemplateError, ValidationError, ValueError) as exc:
            error = self.redactor.text(_error_text(exc))
            return await self.finish_step(here, "failed", summary="failed", error=error)
        if step.approval is not None or is_remote(prepared.action):
            return await self.remote.advance(here, step, prepared)
        return await self.run_step(here, step, prepared)

    def _prepare(self, run: dict[str, Any], step: Step, context: Any) -> Prepared:
        """Render the step's `with`, validate it, plan the call (raises on a bad step)."""
        action = action_for(step.uses)
        if action is None:
            raise ValueError(f'unknown action "{step.uses}"')
        args = action.args_model.model_validate(render(step.with_, context, f"{step.id}.with"))
        name = getattr(args, "connection", None)
        connection = self.catalog.connections.get(name) if isinstance(name, str) else None
        if isinstance(name, str) and connection is None:
            raise ValueError(f'unknown connection "{name}"')
        envelope = {
            "run_id": run["id"],
            "playbook": run["playbook"],
            "step": step.id,
            # what a receiver needs to find the incident; not its changing status
            "incident": {k: context["incident"].get(k) for k in ("id", "url", "labels")},
            "params": dict(run["params"]),
        }
        ctx = ActionContext(run["incident_id"], run["id"], self.clock(), step.id, envelope)
        planned = action.plan(args, connection, ctx)
        return Prepared(action, planned, connection, self.redactor.value(dict(planned.shown)))

    async def run_step(self, here: StepMove, step: Step, prepared: Prepared) -> bool:
        """Call a local action once (its start and its end each a transaction)."""
        run, owner, row = here.run, here.owner, here.row
        now = self.clock()
        resumed = row["status"] == "running"  # marked running by a worker that is gone
        position, lease = row["position"], now + step.timeout + self.margin

        def begin(conn: Connection) -> int | None:
            attempt = run_store.begin_step(
                conn, run["id"], owner, position, now, lease, prepared.shown
            )
            if attempt is not None:
                note = ""
                if resumed:
                    note = f" (resumed after a restart, attempt {attempt})"
                elif attempt > 1:
                    note = f" (retry, attempt {attempt} of {step.retry.attempts})"
                step_timeline(conn, run, row, now, "running", f"started{note}", "", attempt)
            return attempt

        attempt = await self.write(begin)
        if attempt is None:
            return False
        self.changed(run["id"])
        here = replace(here, row={**row, "status": "running", "attempt": attempt})
        timeout = step.timeout.total_seconds()
        status = "succeeded"
        try:
            result = await asyncio.wait_for(
                prepared.action.run(prepared.planned, prepared.connection, self.io), timeout
            )
        except TimeoutError:
            status = "timed_out"
            error = f"no result within {timeout:g}s"
            result = StepResult(False, f"timed out after {timeout:g}s", error=error)
        except Exception as exc:  # an action's bug fails its step, not the worker
            log.warning("playbook step %s raised", step.id, exc_info=True)
            result = StepResult(False, "failed", error=_error_text(exc))
        if not result.ok and status == "succeeded":
            status = "failed"
        error = self.redactor.text(result.error or ("" if result.ok else result.summary))
        if not result.ok and attempt < step.retry.attempts:
            return await self._retry(here, step, attempt, error)
        output = prepare_output(result.lines, self.redactor)
        summary = self.redactor.text(result.summary)
        if output.cut_lines:
            summary += f" (kept the newest {len(output.lines)}, {output.cut_lines} cut)"
        facts = self.redactor.value(result.facts)
        return await self.finish_step(
            here, status, summary=summary, error=error, facts=facts, output=output
        )

    async def _retry(self, here: StepMove, step: Step, attempt: int, error: str) -> bool:
        run, row = here.run, here.row
        now = self.clock()
        due = now + step.retry.backoff * (2 ** (attempt - 1))
        wait = (due - now).total_seconds()
        summary = f"attempt {attempt} of {step.retry.attempts} failed; retrying in {wait:g}s"

        def store(conn: Connection) -> bool:
            done = run_store.retry_later(
                conn, run["id"], here.owner, row["position"], due, summary=summary, error=error
            )
            if done:
                message = f"{summary}: {error}"
                step_timeline(conn, run, row, now, "retrying", message, "", attempt)
            return done

        if await self.write(store):
            self.changed(run["id"])
        return False  # the run waits as a row until `due`

    async def finish_step(
        self,
        here: StepMove,
        status: str,
        *,
        summary: str,
        error: str = "",
        facts: dict[str, Any] | None = None,
        output: Output | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """End a step (with more of its columns: `values`); when that was the run's last
        move, end the run in the same transaction. True while the run goes on (the
        in-memory run is brought up to date)."""
        spec, run, owner, row = here.spec, here.run, here.owner, here.row
        now = self.clock()
        shown = excerpt(output.lines) if output is not None else ""
        # As stored: what later moves read (templates, an approval's `show:`) is the same
        # whether this pass goes on or the next pass reads the rows.
        finished = {**row, **(values or {}), "status": status, "summary": summary,
                    "error": error, "facts": facts or {}, "excerpt": shown}  # fmt: skip
        steps = [finished if r["position"] == row["position"] else r for r in run["steps"]]

        def store(conn: Connection) -> tuple[bool, str | None, bool]:
            held = end_step(
                conn, run, owner, row, now, status, summary=summary, error=error, shown=shown,
                facts=facts, output=output, steps=steps, hold_until=now + HOLD,
            )  # fmt: skip
            if held is None:
                return False, None, False
            set_step(conn, run["id"], row["position"], values or {})
            cancel_by = held.cancel_requested_by  # a cancel asked for during the step
            move = next_move(spec, steps, cancel_by is not None)
            ended = move.kind == "finish" and end_run(
                conn, run, owner, move.status, now, run_summary(steps)
            )
            return True, cancel_by, ended

        done, cancel_by, ended = await self.write(store)
        if done:
            run.update(steps=steps, cancel_requested_by=cancel_by)
            self.changed(run["id"])
        return done and not ended

    async def _finish_run(self, run: dict[str, Any], owner: str, status: str) -> bool:
        now = self.clock()
        summary = run_summary(run["steps"])
        if await self.write(lambda conn: end_run(conn, run, owner, status, now, summary)):
            self.changed(run["id"])
        return False

    async def _abandon(self, run: dict[str, Any], owner: str, why: str) -> bool:
        """End a run that cannot go on, in one transaction: its unfinished steps skipped,
        the run failed."""
        now = self.clock()
        summary = f"skipped: {why}"
        steps = [
            r if r["status"] in FINISHED_STEP else {**r, "status": "skipped", "summary": summary}
            for r in run["steps"]
        ]

        def store(conn: Connection) -> bool:
            for row in run["steps"]:
                if row["status"] in FINISHED_STEP:
                    continue
                held = end_step(
                    conn, run, owner, row, now, "skipped", summary=summary, steps=steps,
                    hold_until=now + HOLD,
                )  # fmt: skip
                if held is None:
                    return False
            return end_run(conn, run, owner, "failed", now, run_summary(steps))

        if await self.write(store):
            self.changed(run["id"])
        return False

    # -- plumbing --------------------------------------------------------------------
    def _load(self, run_id: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        with self.engine.connect() as conn:
            run = run_store.get_run(conn, run_id)
            if run is None:
                return None, None
            return run, incident_view(conn, run["incident_id"], self.public_url)

    async def write(self, work: Callable[[Connection], T]) -> T:
        def in_transaction() -> T:
            with self.engine.begin() as conn:
                return work(conn)

        return await asyncio.to_thread(in_transaction)

    def changed(self, run_id: int) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(run_id)
        except Exception:  # a progress message is not worth a run
            log.exception("playbook run %s: progress hook failed", run_id)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"with.{where}: {first['msg']}"
    text = str(exc)
    if isinstance(exc, TemplateError | ValueError):
        return text[:500]
    return f"{type(exc).__name__}: {text}"[:500]
