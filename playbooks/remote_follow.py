"""Following a dispatched CI run (`wait:`) and cancelling it with its playbook run; the
parking and lease helpers every remote pass uses (playbooks.remote_steps drives them).

A poll that fails (CiError, a network failure) keeps the step waiting and tries again
at the next poll, later when the CI asked for it (rate limits); a status change is a
timeline entry (with the CI link) and a progress update; a final status ends the step:
succeeded iff the conclusion is success; past `wait.timeout` the CI run is cancelled
and the step is timed_out.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from integrations.ci.base import CiError, Polled, RemoteRun
from integrations.connections import ConnectionBase
from integrations.outbound import OutboundRefused
from playbooks import remote_store
from playbooks.action import RemoteAction, is_remote
from playbooks.model import Step
from playbooks.registry import action_for
from playbooks.run_writes import step_timeline

if TYPE_CHECKING:
    from playbooks.runner import Prepared, Runner, StepMove


def shown_run(runner: Runner, remote: RemoteRun) -> RemoteRun:
    """The run with its link redacted: a CI (or a proxy before it) may echo the
    credential it was sent, and the link reaches the row, the timeline and chat. The id
    is kept as is: polling needs it, and backends build it from what they planned."""
    return RemoteRun(remote.remote_id, runner.redactor.text(remote.url) if remote.url else None)


def _shown_polled(runner: Runner, polled: Polled) -> Polled:
    """A poll's answer with the CI's own words and links redacted (see shown_run)."""
    return replace(
        polled,
        status=runner.redactor.text(polled.status),
        conclusion=runner.redactor.text(polled.conclusion) if polled.conclusion else None,
        url=runner.redactor.text(polled.url) if polled.url else None,
        run=shown_run(runner, polled.run) if polled.run is not None else None,
    )


async def follow(
    runner: Runner, here: StepMove, step: Step, prepared: Prepared, action: RemoteAction
) -> bool:
    """One poll of the CI run: a step that waits, a status line, or its end."""
    run, row = here.run, here.row
    now = runner.clock()
    remote = RemoteRun(row["remote_id"], row["remote_url"] or None)
    facts: dict[str, Any] = {
        "remote_id": remote.remote_id,
        "url": row["remote_url"],
        "remote_status": row["remote_status"],
        "correlation_id": row["correlation_id"],
    }
    wait_until = row["wait_until"]
    if not await hold(runner, here, action, prepared.connection, now):
        return False
    if wait_until is not None and now >= wait_until:
        # Like a CI's own job timeout: a run nobody waits for any more is cancelled,
        # not left running (a repro on staging, say).
        assert step.wait is not None
        last = row["remote_status"] or "no status yet"
        what = await cancel_remote(runner, action, remote, prepared.connection)
        summary = f"timed out: no final status within {step.wait.timeout} (last: {last}); {what}"
        return await runner.finish_step(
            here, "timed_out", summary=summary, error=summary, facts=facts
        )
    poll = action.poll_interval(prepared.connection)
    try:
        polled = await asyncio.wait_for(
            action.poll(remote, prepared.connection, runner.io),
            call_seconds(runner, action, prepared.connection),
        )
    except (CiError, OutboundRefused, TimeoutError) as exc:
        retry_after = getattr(exc, "retry_after", None) or timedelta(0)
        problem = runner.redactor.text(str(exc) or "no answer in time")
        note = {"summary": f"could not read the CI run just now: {problem}"}
        return await park(runner, here, now + max(poll, retry_after), "", "", note)
    polled = _shown_polled(runner, polled)
    values: dict[str, Any] = {"remote_status": polled.status[:64]}
    if polled.run is not None:  # e.g. Jenkins: the queue item became a build
        values.update(remote_id=polled.run.remote_id[:200], remote_url=polled.run.url or "")
    url = polled.url or values.get("remote_url") or row["remote_url"]
    values["remote_url"] = url
    facts.update(
        remote_id=values.get("remote_id", remote.remote_id),
        url=url,
        remote_status=polled.status,
    )
    changed = polled.status != row["remote_status"]
    text = f"CI run {polled.status}: {url}" if changed else ""
    if polled.final:
        conclusion = (polled.conclusion or "unknown").lower()
        values["conclusion"] = conclusion[:64]
        facts["conclusion"] = conclusion
        if changed:
            await runner.write(
                lambda conn: step_timeline(
                    conn,
                    run,
                    row,
                    now,
                    "ci_status",
                    text,
                    url=url,
                    remote_status=polled.status,
                    conclusion=conclusion,
                )
            )
        if conclusion == "success":
            return await runner.finish_step(
                here,
                "succeeded",
                summary=f"success: {url}",
                facts=facts,
                values=values,
            )
        error = f"the CI run ended {conclusion}: {url}"
        return await runner.finish_step(
            here,
            "failed",
            summary=f"{conclusion}: {url}",
            error=error,
            facts=facts,
            values=values,
        )
    values.update(facts=facts, summary=f"{polled.status}: {url}")
    due = now + max(poll, polled.retry_after or timedelta(0))
    return await park(
        runner,
        here,
        due,
        "ci_status",
        text,
        values,
        url=url,
        remote_status=polled.status,
    )


async def cancel(runner: Runner, here: StepMove) -> bool:
    """End a parked step of a cancelled run; a remote run that was started is
    cancelled on the CI too (where the CI can), and the timeline says what happened."""
    run, row = here.run, here.row
    by = run["cancel_requested_by"] or "someone"
    if row["dispatch"] == "":
        summary = f"cancelled by {by}" + (
            " before it was approved" if row["status"] == "awaiting_approval" else ""
        )
        return await runner.finish_step(here, "cancelled", summary=summary)
    if row["dispatch"] != "sent":
        summary = (
            f"cancelled by {by}; the remote run was never found (correlation "
            f"{row['correlation_id']}), so it could not be cancelled there"
        )
        return await runner.finish_step(here, "cancelled", summary=summary)
    step = here.spec.spec.steps[row["position"]]
    action = action_for(step.uses)
    name = step.with_.get("connection")
    connection = runner.catalog.connections.get(name) if isinstance(name, str) else None
    what = "the CI run was left as it is (no remote action)"
    if action is not None and is_remote(action):
        if not await hold(runner, here, action, connection, runner.clock()):
            return False
        remote = RemoteRun(row["remote_id"], row["remote_url"] or None)
        what = await cancel_remote(runner, action, remote, connection)
    summary = f"cancelled by {by}; {what}"
    return await runner.finish_step(here, "cancelled", summary=summary)


async def cancel_remote(
    runner: Runner, action: RemoteAction, remote: RemoteRun, connection: ConnectionBase | None
) -> str:
    """Ask the CI to cancel a run; what happened, redacted, for the step's summary."""
    try:
        what = await asyncio.wait_for(
            action.cancel(remote, connection, runner.io),
            call_seconds(runner, action, connection),
        )
    except TimeoutError:
        what = "cancelling the CI run got no answer in time"
    except Exception as exc:  # cancel never raises by contract; a bug must not stick
        what = f"cancelling the CI run failed: {type(exc).__name__}"
    return runner.redactor.text(what)


def call_seconds(runner: Runner, action: RemoteAction, connection: ConnectionBase | None) -> float:
    """How long one CI call may take: its request timeout, half the lease margin."""
    return action.request_timeout(connection).total_seconds() + runner.margin.total_seconds() / 2


async def hold(
    runner: Runner,
    here: StepMove,
    action: RemoteAction,
    connection: ConnectionBase | None,
    now: datetime,
) -> bool:
    """Keep the run for one CI call; False if the lease was lost."""
    until = now + action.request_timeout(connection) + runner.margin
    return bool(
        await runner.write(
            lambda conn: remote_store.hold(conn, here.run["id"], here.owner, now, until)
        )
    )


async def park(
    runner: Runner,
    here: StepMove,
    due: datetime,
    status: str,
    text: str,
    values: dict[str, Any],
    **data: Any,
) -> bool:
    """Store the step's state, the run due at `due`, the lease let go; a timeline
    entry when `text` says something new. Always False: the run waits as a row."""
    now, run, row = runner.clock(), here.run, here.row

    def store(conn: Any) -> bool:
        done = remote_store.park(conn, run["id"], here.owner, row["position"], due, values)
        if done and text:
            step_timeline(conn, run, row, now, status, text, **data)
        return done

    if await runner.write(store) and text:
        runner.changed(run["id"])
    return False
