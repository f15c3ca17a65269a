"""The approval gate of a step with `approval:` (called by playbooks.remote_steps).

The step waits in `awaiting_approval` (a row, never a sleeping task). Its request is
bound to a hash of what it shows (the rendered request, credentials redacted, and the
`show:` steps' results), the playbook file's sha256 and the step id. Each pass renders
it again: a different hash (the file was reloaded changed, or what it renders to
changed) voids the approval and asks again with a new expiry. The decisions
(playbook_approval rows, written by playbooks.approval_store) are counted by
playbooks.approval_rules.outcome: approved -> the step runs; rejected / expired end it.

The running process runs the playbooks it loaded; an edited file takes effect when the
catalog is reloaded (the worker checks file hashes, and before an approved step runs
the gate compares its file on disk with the loaded one: a change never runs on an old
approval).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from playbooks import remote_store
from playbooks.approval_rules import current, eligible, outcome, tally
from playbooks.dry_run import asked_line, request_line
from playbooks.model import Approval, Playbook, Step, file_hash
from playbooks.remote_follow import park
from playbooks.run_writes import step_timeline

if TYPE_CHECKING:
    from playbooks.runner import Prepared, Runner, StepMove

log = logging.getLogger("firebell.playbooks")
FILE_CHANGED_RECHECK = timedelta(seconds=30)


def shown_outputs(steps: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """What the request shows of earlier steps (`show:`): status, summary, excerpt, and
    a CI run's conclusion and link."""
    by_id = {row["step_id"]: row for row in steps}
    shown: dict[str, Any] = {}
    for name in names:
        row = by_id.get(name)
        if row is None:
            continue
        shown[name] = {
            "status": row["status"],
            "summary": row["summary"],
            "excerpt": row.get("excerpt", ""),
            "conclusion": row.get("conclusion", ""),
            "url": row.get("remote_url", ""),
        }
    return shown


def request_hash(
    request: Mapping[str, Any], show: Mapping[str, Any], playbook_sha256: str, step_id: str
) -> str:
    """sha256 of the canonical JSON of what the approvers see, the file and the step."""
    document = {"request": request, "show": show, "playbook": playbook_sha256, "step": step_id}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class ApprovalGate:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def check(self, here: StepMove, step: Step, prepared: Prepared) -> bool | str:
        """A bool for advance() to return (the step waits or ended), or, when approved,
        the timeline text naming who approved (the step then runs)."""
        spec, run, row = here.spec, here.run, here.row
        approval = step.approval
        assert approval is not None
        now = self.runner.clock()
        show = shown_outputs(run["steps"], approval.show)
        digest = request_hash(prepared.shown, show, spec.sha256, step.id)
        if row["status"] != "awaiting_approval" or not row["request_hash"]:
            return await self._ask(here, approval, prepared, digest, "")
        if digest != row["request_hash"]:
            return await self._ask(here, approval, prepared, digest, row["request_hash"])
        found = await self.runner.write(lambda conn: remote_store.decisions(conn, row["id"]))
        expires, requester = row["approval_expires_at"], run["started_by"]
        result = outcome(approval, found, requester, digest, now, expires)
        if result == "approved":
            if self._file_changed(spec):
                return await self._file_moved_on(here, now)
            names, _ = tally(approval, found, requester, digest, expires)
            kept = current(found, requester, digest, expires)
            at = {d["approver"]: d["at"] for d in kept if d["decision"] == "approved"}
            return "approved by " + ", ".join(f"{n} ({_at(at[n])})" for n in names)
        if result == "rejected":
            kept = current(found, requester, digest, expires)
            first = next(d for d in kept if d["decision"] == "rejected")
            summary = f"rejected by {first['approver']} at {_at(first['at'])}"
            if first["comment"]:
                summary += f": {first['comment']}"
            return await self.runner.finish_step(here, "rejected", summary=summary)
        if result == "expired":
            names, required = tally(approval, found, requester, digest, expires)
            summary = (
                f"approval expired at {_at(expires)} ({len(names)} of {required} "
                "approvals); it was not run"
            )
            return await self.runner.finish_step(here, "expired", summary=summary)
        return await self._pending(here, approval, found, now)

    async def _ask(
        self,
        here: StepMove,
        approval: Approval,
        prepared: Prepared,
        digest: str,
        old: str,
    ) -> bool:
        """Ask (again, when `old`: the earlier approval is void) with a fresh expiry."""
        run, row = here.run, here.row
        now = self.runner.clock()
        people = self.runner.catalog.people
        asked = eligible(approval, run["started_by"], people, now)
        expires = now + approval.expires_in
        line = request_line(prepared.shown) or row["uses"]
        text = (
            f"approval requested from {asked_line(asked, approval)}, expires {_at(expires)}; "
            f"it would send {line} (request {digest[:12]})"
        )
        status = "awaiting_approval"
        if old:
            status = "approval_void"
            text = (
                f"approval void: the request changed (the playbook file or what it renders "
                f"to; was {old[:12]}); {text}"
            )
        values = {
            "status": "awaiting_approval",
            "request": dict(prepared.shown),
            "request_hash": digest,
            "approval_expires_at": expires,
            "reminded_at": None,
            "summary": f"awaiting approval from {asked_line(asked, approval)}",
        }
        remind = expires - approval.reminder_lead
        due = remind if remind > now else expires
        return await park(
            self.runner,
            here,
            due,
            status,
            text,
            values,
            asked=asked,
            required=approval.required,
            request_hash=digest,
            expires_at=expires.isoformat(),
        )

    async def _pending(
        self, here: StepMove, approval: Approval, found: list[dict[str, Any]], now: datetime
    ) -> bool:
        """Still waiting: remind the approvers once, shortly before the expiry."""
        run, row = here.run, here.row
        expires = row["approval_expires_at"]
        remind = expires - approval.reminder_lead
        values: dict[str, Any] = {}
        text = ""
        if row["reminded_at"] is None and now >= remind:
            names, required = tally(
                approval, found, run["started_by"], row["request_hash"], expires
            )
            values["reminded_at"] = now
            text = (
                f"approval reminder: expires {_at(expires)}; {len(names)} of {required} "
                "approvals so far"
            )
        due = remind if row["reminded_at"] is None and remind > now else expires

        def store(conn: Any) -> bool:
            done = remote_store.park(conn, run["id"], here.owner, row["position"], due, values)
            # A decision committed after `found` was read set due_at to now, which park
            # just overwrote; under the run's lock (decisions take it too) look again now.
            if done and len(remote_store.decisions(conn, row["id"])) > len(found):
                remote_store.due_now(conn, run["id"], now)
            if done and text:
                step_timeline(conn, run, row, now, "approval_reminder", text)
            return done

        if await self.runner.write(store) and text:
            self.runner.changed(run["id"])
        return False

    async def note_approved(self, here: StepMove, text: str) -> None:
        """The approval's timeline entry for a step that is no remote dispatch."""
        run, row, now = here.run, here.row, self.runner.clock()

        def store(conn: Any) -> None:
            if remote_store.update_step(conn, run["id"], here.owner, row["position"], {}):
                step_timeline(conn, run, row, now, "approved", text)

        await self.runner.write(store)

    def _file_changed(self, spec: Playbook) -> bool:
        """The playbook file on disk is not the one loaded (edited, or gone)."""
        try:
            return file_hash(spec.path.read_bytes()) != spec.sha256
        except OSError:
            return True

    async def _file_moved_on(self, here: StepMove, now: datetime) -> bool:
        """Approved, but the file changed since it was loaded: never run the old version.
        Reload (the next pass then voids the approval); if the file does not load, wait."""
        run, row = here.run, here.row
        if self.runner.reload is not None:
            await asyncio.to_thread(self.runner.reload)  # reads files, writes: not on the loop
        # Reloaded now, or already by the worker's own check since this pass began.
        loaded = self.runner.catalog.get(run["playbook"])
        if loaded is None or loaded.sha256 != here.spec.sha256:
            return True  # the loop's next move re-reads the playbook from the new catalog
        log.warning(
            "playbook %s changed on disk and does not load: step %s waits",
            run["playbook"],
            row["step_id"],
        )
        return await park(self.runner, here, now + FILE_CHANGED_RECHECK, "", "", {})
