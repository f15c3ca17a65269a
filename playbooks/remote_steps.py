"""Remote steps (CI): dispatch exactly once, resolve an ambiguous dispatch, follow the
remote run (`wait:`), cancel it with the playbook run. Called by playbooks.runner.

Every state is a row (playbook_step's remote columns), never a sleeping task; a pass
holds the run's lease for one HTTP call plus a margin and parks the run with `due_at`
between calls, like a retry.

Exactly once: the intent (dispatch "intent", the correlation id `fb-<run>-<step>`) is
committed before the request is sent, the remote id after it. An ambiguous answer
(timeout, 5xx, dropped connection) is "unknown", and so is an intent a crash left
behind: later passes look the run up by its correlation id (`find`) until found or the
deadline (the wait timeout, or 5 minutes without `wait:`), and never send again. The
run's lease and the compare-and-set on `dispatch` keep two replicas from both sending.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from integrations.ci.base import CiError, Dispatched, RemoteRun
from integrations.outbound import OutboundNotSent, OutboundRefused
from playbooks import remote_store
from playbooks.action import RemoteAction, is_remote
from playbooks.approval_gate import ApprovalGate
from playbooks.dry_run import request_line
from playbooks.model import Step
from playbooks.remote_follow import call_seconds, cancel, follow, hold, park, shown_run
from playbooks.run_writes import step_timeline

if TYPE_CHECKING:
    from playbooks.runner import Prepared, Runner, StepMove

log = logging.getLogger("firebell.playbooks")
# Without `wait:`, how long an unknown dispatch is looked up before the step fails.
FIND_WINDOW = timedelta(minutes=5)
# `find` looks for runs started from this long before the intent (clock skew).
FIND_SKEW = timedelta(minutes=2)
UNKNOWN_SUMMARY = "dispatch outcome unknown: looking the run up, never sending it again"
# The step's columns while an unknown dispatch is looked up.
UNKNOWN = {"status": "waiting", "dispatch": "unknown", "summary": UNKNOWN_SUMMARY}
MAX_RATE_LIMITED = 5  # refused dispatches the CI asked to retry later, at most


def correlation_id(run_id: int, step_id: str) -> str:
    return f"fb-{run_id}-{step_id}"


class RemoteSteps:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.gate = ApprovalGate(runner)

    async def advance(self, here: StepMove, step: Step, prepared: Prepared) -> bool:
        """One move of a remote or approval step; True while the run goes on now."""
        approved_note = ""
        dispatch = here.row["dispatch"]
        if step.approval is not None and dispatch == "":
            verdict = await self.gate.check(here, step, prepared)
            if isinstance(verdict, bool):
                return verdict
            approved_note = verdict
        action = prepared.action
        if not is_remote(action):
            if approved_note:
                await self.gate.note_approved(here, approved_note)
            return await self.runner.run_step(here, step, prepared)
        if dispatch == "":
            return await self._dispatch(here, step, prepared, action, approved_note)
        if dispatch in ("intent", "unknown"):
            return await self._resolve(here, step, prepared, action)
        return await follow(self.runner, here, step, prepared, action)

    # -- dispatch ------------------------------------------------------------------------
    async def _dispatch(
        self,
        here: StepMove,
        step: Step,
        prepared: Prepared,
        action: RemoteAction,
        approved_note: str,
    ) -> bool:
        run, owner, row = here.run, here.owner, here.row
        runner, now = self.runner, self.runner.clock()
        correlation = correlation_id(run["id"], step.id)
        timeout = action.request_timeout(prepared.connection)
        wait_until = now + step.wait.timeout if step.wait is not None else None
        line = request_line(prepared.shown) or step.uses

        def begin(conn: Any) -> int | None:
            attempt = remote_store.record_intent(
                conn,
                run["id"],
                owner,
                row["position"],
                now,
                now + timeout + runner.margin,
                request=prepared.shown,
                correlation_id=correlation,
                wait_until=wait_until,
            )
            if attempt is not None:
                text = f"started: dispatching {line} (correlation {correlation})"
                if approved_note:
                    text = f"{approved_note}; {text}"
                step_timeline(conn, run, row, now, "running", text, attempt=attempt)
            return attempt

        attempt = await runner.write(begin)
        if attempt is None:
            return False
        runner.changed(run["id"])
        row.update(
            status="running",
            attempt=attempt,
            dispatch="intent",
            dispatched_at=now,
            correlation_id=correlation,
            wait_until=wait_until,
        )
        try:
            sent = await asyncio.wait_for(
                action.dispatch(prepared.planned, prepared.connection, runner.io),
                call_seconds(runner, action, prepared.connection),
            )
        except TimeoutError:
            sent = Dispatched(None, True, f"no answer within {timeout.total_seconds():g}s")
        except OutboundNotSent as exc:  # refused before it left: certainly not sent
            sent = Dispatched(None, False, str(exc))
        except OutboundRefused as exc:  # a network failure: the request may have arrived
            sent = Dispatched(None, True, str(exc))
        except Exception as exc:  # a backend's bug after sending may have sent: unknown too
            log.warning("playbook step %s: dispatch raised", step.id, exc_info=True)
            sent = Dispatched(None, True, f"{type(exc).__name__}: {exc}"[:300])
        detail = runner.redactor.text(sent.detail)
        if sent.run is not None:
            found_as = "dispatched", f"dispatched: {detail}"
            return await self._found(here, step, action, prepared, sent.run, *found_as)
        if sent.ambiguous:
            text = (
                f"dispatch outcome unknown ({detail}); looking the run up by correlation id "
                f"{correlation}; it is not sent again"
            )
            poll = action.poll_interval(prepared.connection)
            return await park(runner, here, now + poll, "unknown", text, UNKNOWN)
        return await self._refused(here, step, attempt, sent, detail)

    async def _refused(
        self, here: StepMove, step: Step, attempt: int, sent: Dispatched, detail: str
    ) -> bool:
        """Refused (4xx): nothing was created, so trying again later is safe."""
        now = self.runner.clock()
        due: datetime | None = None
        if sent.retry_after is not None and attempt < max(step.retry.attempts, MAX_RATE_LIMITED):
            due = now + sent.retry_after
        elif attempt < step.retry.attempts:
            due = now + step.retry.backoff * (2 ** (attempt - 1))
        if due is None:
            return await self.runner.finish_step(
                here,
                "failed",
                summary="failed: the CI refused the dispatch",
                error=detail,
                values={"dispatch": ""},
            )
        wait = (due - now).total_seconds()
        text = f"the CI refused the dispatch ({detail}); nothing started; again in {wait:g}s"
        # An approved step stays approved for the same request: the gate lets it through.
        status = "awaiting_approval" if step.approval is not None else "pending"
        values = {"status": status, "dispatch": "", "summary": text, "error": detail}
        return await park(self.runner, here, due, "retrying", text, values)

    # -- unknown -> found ------------------------------------------------------------------
    async def _resolve(
        self, here: StepMove, step: Step, prepared: Prepared, action: RemoteAction
    ) -> bool:
        row = here.row
        runner, now = self.runner, self.runner.clock()
        correlation = row["correlation_id"]
        dispatched_at = row["dispatched_at"] or now
        deadline = row["wait_until"] or dispatched_at + FIND_WINDOW
        if not await hold(runner, here, action, prepared.connection, now):
            return False
        try:
            found = await asyncio.wait_for(
                action.find(
                    prepared.planned,
                    prepared.connection,
                    runner.io,
                    correlation,
                    dispatched_at - FIND_SKEW,
                ),
                call_seconds(self.runner, action, prepared.connection),
            )
            problem = ""
        except (CiError, OutboundRefused, TimeoutError) as exc:
            found, problem = None, runner.redactor.text(str(exc) or "no answer in time")
        # The worker that recorded the intent is gone: say so once, whatever comes next.
        resumed = ""
        if row["dispatch"] == "intent":
            resumed = "resumed after a restart: the dispatch may have been sent; "
        if found is not None:
            found = shown_run(runner, found)
            link = found.url or found.remote_id
            text = f"{resumed}found the run by its correlation id {correlation}: {link}"
            return await self._found(here, step, action, prepared, found, "found", text)
        if now >= deadline:
            error = (
                f"{resumed}dispatch outcome unknown, no run found for {correlation}; "
                "it was not sent again"
            )
            return await runner.finish_step(
                here,
                "failed",
                summary=f"failed: {error}",
                error=error,
                values={"dispatch": "unknown"},
            )
        text = ""
        if resumed:
            text = f"{resumed}looking it up by correlation id {correlation}; not sent again"
        if problem:
            text = text or f"looking up {correlation} failed for now: {problem}"
        due = now + action.poll_interval(prepared.connection)
        return await park(runner, here, due, "unknown", text, UNKNOWN)

    async def _found(
        self,
        here: StepMove,
        step: Step,
        action: RemoteAction,
        prepared: Prepared,
        remote: RemoteRun,
        status: str,
        text: str,
    ) -> bool:
        remote = shown_run(self.runner, remote)
        url = remote.url or ""
        values = {"dispatch": "sent", "remote_id": remote.remote_id[:200], "remote_url": url}
        if step.wait is None:
            facts = {
                "remote_id": remote.remote_id,
                "url": url,
                "correlation_id": here.row["correlation_id"],
            }
            return await self.runner.finish_step(
                here,
                "succeeded",
                summary=f"dispatched: {url or remote.remote_id}",
                facts=facts,
                values=values,
            )
        due = self.runner.clock() + action.poll_interval(prepared.connection)
        return await park(
            self.runner,
            here,
            due,
            status,
            text,
            {**values, "status": "waiting", "summary": f"dispatched: {url or remote.remote_id}"},
            url=url,
        )

    async def cancel(self, here: StepMove) -> bool:
        return await cancel(self.runner, here)
