"""What every surface (REST, CLI, chat) does with playbooks: start a run, dry-run one,
list the ones matching an incident, read runs and outputs, cancel.

One place decides what is refused and why (PlaybookRefused names the field at fault and
the HTTP status a REST caller gets), so chat, CLI and API answer alike. Runs are rows
(playbooks.run_store); the worker executes them, woken by `wake` after a start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from integrations.outbound import Outbound
from playbooks import approvals_service, run_store
from playbooks.catalog import Catalog
from playbooks.dry_run import StepPlan, perform_reads, plan_steps, request_line
from playbooks.incident_view import incident_view
from playbooks.model import Playbook
from playbooks.outputs import Redactor
from playbooks.params import ParamError, resolve_params
from routing.muting.matcher import Matcher
from routing.paging.policy import PolicyConfig
from routing.storage.timeline import add_timeline


class PlaybookRefused(ValueError):
    """A request the service will not carry out. `field` names the input at fault
    (`incident_id`, `playbook`, `params.window`, `run_id`, `step_id`); `status` is what a
    REST caller gets (404 unknown, 409 against the current state, 422 invalid)."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def plain(value: Any) -> Any:
    """Rows as JSON-ready data (REST, CLI --json): datetimes as ISO 8601 text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def unmet_matcher(playbook: Playbook, labels: Mapping[str, str]) -> Matcher | None:
    """The first of the playbook's matchers the labels do not satisfy, or None."""
    return next((m for m in playbook.matchers if not m.matches(labels)), None)


def summarize(playbook: Playbook) -> dict[str, Any]:
    """A playbook as lists show it (REST, CLI): never a connection's URL or credential."""
    spec = playbook.spec
    return {
        "id": spec.id,
        "description": spec.description,
        "run": spec.run,
        "match": list(spec.match),
        "params": {
            name: param.model_dump(mode="json", exclude_none=True)
            for name, param in spec.params.items()
        },
        "steps": [{"id": step.id, "uses": step.uses} for step in spec.steps],
        "sha256": playbook.sha256,
    }


def detail(playbook: Playbook) -> dict[str, Any]:
    """One playbook as `show` gives it: the summary with each step's `with` templates,
    unrendered."""
    shown = summarize(playbook)
    shown["steps"] = [
        step.model_dump(mode="json", by_alias=True, exclude_none=True)
        for step in playbook.spec.steps
    ]
    return shown


class PlaybookService:
    def __init__(
        self,
        engine: Engine,
        read_engine: Engine,
        catalog: Catalog,
        clock: Callable[[], datetime],
        public_url: str | None,
        wake: Callable[[], None],
        outbound: Outbound,
    ) -> None:
        self.engine = engine
        self.read_engine = read_engine
        self.catalog = catalog
        self.clock = clock
        self.public_url = public_url
        self.wake = wake
        self.outbound = outbound
        self.redactor = Redactor(catalog.secrets)

    # -- the catalog -------------------------------------------------------------------

    def playbooks(self) -> list[Playbook]:
        return sorted(self.catalog.playbooks.values(), key=lambda p: p.id)

    def playbook(self, name: str) -> Playbook:
        found = self.catalog.get(name)
        if found is None:
            known = ", ".join(sorted(self.catalog.playbooks)) or "none configured"
            raise PlaybookRefused("playbook", f'unknown playbook "{name}" (known: {known})', 404)
        return found

    # -- incidents ---------------------------------------------------------------------

    def _incident(self, conn: Connection, incident_id: int) -> dict[str, Any]:
        view = incident_view(conn, incident_id, self.public_url)
        if view is None:
            raise PlaybookRefused("incident_id", f"incident {incident_id} not found", 404)
        return view

    def incident(self, incident_id: int) -> dict[str, Any]:
        with self.read_engine.connect() as conn:
            return self._incident(conn, incident_id)

    def matching(self, incident_id: int) -> list[Playbook]:
        """The playbooks whose matchers the incident's labels satisfy (by id)."""
        labels = self.incident(incident_id)["labels"]
        return sorted(self.catalog.matching(labels), key=lambda p: p.id)

    def _prepared(
        self, conn: Connection, incident_id: int, name: str, given: Mapping[str, str]
    ) -> tuple[dict[str, Any], Playbook, dict[str, Any]]:
        """The incident, the playbook and the validated params, or PlaybookRefused."""
        incident = self._incident(conn, incident_id)
        playbook = self.playbook(name)
        unmet = unmet_matcher(playbook, incident["labels"])
        if unmet is not None:
            value = incident["labels"].get(unmet.name)
            has = f'is "{value}"' if value else "is not set"
            raise PlaybookRefused(
                "playbook",
                f'playbook "{name}" does not match incident {incident_id}: it needs '
                f"{unmet} and the incident's {unmet.name} {has}",
                409,
            )
        try:
            params = resolve_params(playbook.spec.params, given)
        except ParamError as exc:
            raise PlaybookRefused(f"params.{exc.name}", exc.message, 422) from None
        return incident, playbook, params

    # -- runs --------------------------------------------------------------------------

    def start(
        self, incident_id: int, playbook: str, params: Mapping[str, str], actor: str
    ) -> dict[str, Any]:
        """Write the run's rows and wake the worker; the run as get_run shows it."""
        return self._start_once(incident_id, playbook, params, actor, None)[0]

    def _start_once(
        self,
        incident_id: int,
        playbook: str,
        params: Mapping[str, str],
        actor: str,
        once_key: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """Start a run; with a `once_key` already taken, the run it started (and False)."""
        now = self.clock()
        with self.engine.begin() as conn:
            _incident, chosen, resolved = self._prepared(conn, incident_id, playbook, params)
            run_id = run_store.create_run(
                conn,
                incident_id=incident_id,
                playbook=chosen,
                params=resolved,
                started_by=actor,
                trigger="manual",
                now=now,
                once_key=once_key,
            )
            new = run_id is not None
            if run_id is None:
                taken = select(run_store.RUN.c.id).where(run_store.RUN.c.once_key == once_key)
                run_id = conn.execute(taken).scalar_one()
            run = run_store.get_run(conn, run_id)
        if new:
            self.wake()
        assert run is not None
        return run, new

    async def dry_run(
        self,
        incident_id: int,
        playbook: str,
        params: Mapping[str, str],
        actor: str,
        with_reads: bool = False,
    ) -> dict[str, Any]:
        """Every step rendered and planned against the real incident; nothing is sent
        unless `with_reads`, and then only read steps. Recorded on the timeline."""
        now = self.clock()
        incident, chosen, resolved = await asyncio.to_thread(
            self._prepared_read, incident_id, playbook, params
        )
        plans = plan_steps(chosen, self.catalog, incident, resolved, actor, now)
        sent = 0
        if with_reads:
            sent = await perform_reads(plans, chosen, self.outbound, self.redactor)
        result = {
            "playbook": chosen.id,
            "incident_id": incident_id,
            "params": resolved,
            "with_reads": with_reads,
            "steps": [plan.shown() for plan in plans],
            "sent": sent,
        }
        data = {"playbook": chosen.id, "params": resolved, "sent": sent, "steps": _brief(plans)}
        await asyncio.to_thread(
            self._record, incident_id, dry_run_message(chosen.id, plans, sent), actor, data
        )
        return result

    def _prepared_read(
        self, incident_id: int, name: str, given: Mapping[str, str]
    ) -> tuple[dict[str, Any], Playbook, dict[str, Any]]:
        with self.read_engine.connect() as conn:
            return self._prepared(conn, incident_id, name, given)

    def _record(self, incident_id: int, message: str, actor: str, data: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            add_timeline(conn, incident_id, self.clock(), "playbook_dry_run", message, actor, data)

    def runs(self, incident_id: int | None, limit: int = 50) -> list[dict[str, Any]]:
        with self.read_engine.connect() as conn:
            return run_store.list_runs(conn, incident_id, limit)

    def run(self, run_id: int) -> dict[str, Any]:
        with self.read_engine.connect() as conn:
            found = run_store.get_run(conn, run_id)
        if found is None:
            raise PlaybookRefused("run_id", f"playbook run {run_id} not found", 404)
        return found

    def outputs(self, run_id: int, step_id: str | None = None) -> list[dict[str, Any]]:
        """The stored output of every step (or one step) of a run."""
        run = self.run(run_id)
        if step_id is not None and step_id not in {s["step_id"] for s in run["steps"]}:
            raise PlaybookRefused("step_id", f'playbook run {run_id} has no step "{step_id}"', 404)
        with self.read_engine.connect() as conn:
            return run_store.read_outputs(conn, run_id, step_id)

    def cancel(self, run_id: int, actor: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            outcome = run_store.request_cancel(conn, run_id, actor, self.clock())
        if outcome == "unknown":
            raise PlaybookRefused("run_id", f"playbook run {run_id} not found", 404)
        if outcome == "already finished":
            raise PlaybookRefused("run_id", f"playbook run {run_id} has already finished", 409)
        self.wake()  # the worker stops it at its next step (always: steps still run)
        return self.run(run_id)

    # -- approvals (playbooks.approvals_service) ---------------------------------------

    def decide(
        self,
        run_id: int,
        decision: str,
        actor: str | None,
        people: PolicyConfig,
        *,
        step_id: str | None = None,
        comment: str = "",
        surface: str = "api",
    ) -> dict[str, Any]:
        """Approve or reject the step awaiting approval as `actor` (checked now);
        PlaybookRefused 403 naming who may, 409 when nothing awaits or it expired."""
        try:
            with self.engine.begin() as conn:
                result = approvals_service.decide(
                    conn, self.catalog, people, run_id=run_id, step_id=step_id, actor=actor,
                    decision=decision, surface=surface, comment=comment, now=self.clock(),
                )  # fmt: skip
        except approvals_service.ApprovalRefused as exc:
            raise PlaybookRefused(exc.field, exc.message, exc.status) from None
        if not result["already"]:
            self.wake()
        return result

    def request_again(self, run_id: int, actor: str) -> tuple[dict[str, Any], bool]:
        """A new run of a run whose approval expired: same playbook, incident and params,
        started by `actor`, and True. Asked once per run: a second request (a double
        click, another replica) gets the run the first one started, and False."""
        run = self.run(run_id)
        if approvals_service.expired_step(run) is None:
            raise PlaybookRefused(
                "run_id", f"playbook run {run_id} has no expired approval to ask again", 409
            )
        params = approvals_service.again_params(run)
        again = f"again:{run_id}"
        return self._start_once(run["incident_id"], run["playbook"], params, actor, again)


def _brief(plans: list[StepPlan]) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "if": p.condition,
            "would": request_line(p.request) or p.note or "nothing",
            **({"result": p.result} if p.result else {}),
        }
        for p in plans
    ]


def dry_run_message(playbook: str, plans: list[StepPlan], sent: int) -> str:
    planned = sum(1 for p in plans if p.request is not None)
    skipped = sum(1 for p in plans if p.condition is False)
    text = f"dry-run of {playbook}: {planned} of {len(plans)} steps planned"
    if skipped:
        text += f", {skipped} would be skipped"
    return text + (f"; {sent} read{'s' if sent != 1 else ''} sent" if sent else "; nothing sent")
