"""The runner against a loopback Loki (its documented query_range format) on SQLite and
PostgreSQL: step rules (if, failure, always, continue_on_error, timeout, retry, cancel),
outputs redacted and capped, the timeline, resuming a step a dead worker left running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, select

from integrations.outbound import Outbound
from playbooks import run_store
from playbooks.catalog import Catalog
from playbooks.run_rules import Move, next_move, run_summary
from playbooks.runner import Runner
from routing.storage.database import make_engine
from routing.storage.timeline import TIMELINE
from tests.playbooks.run_support import (
    LOKI_TOKEN,
    Loki,
    catalog,
    loki_body,
    open_incident,
    write_playbook,
)
from tests.support.loopback_http import LoopbackServer, Reply, start
from tests.support.paging import T0, Clock

T = TypeVar("T")

FLOW = """\
id: flow
params:
  window: {type: duration, default: 30m}
steps:
  - id: a
    uses: logs.loki
    with: {connection: loki, selector: {step: a}}
  - id: b
    uses: logs.loki
    if: "steps.a.status == 'succeeded' and steps.a.count > 5"
    with: {connection: loki, selector: {step: b}}
  - id: c
    uses: logs.loki
    with:
      connection: loki
      selector: {step: c, app: "{{ incident.labels.service }}"}
      since: "{{ params.window }}"
      limit: 1000
  - id: report
    uses: chat.post
    always: true
    with: {text: "{{ run.summary }}"}
"""


class Harness:
    def __init__(self, engine: Engine, books: Catalog, loki: Loki, server: LoopbackServer) -> None:
        self.engine, self.books, self.loki, self.server = engine, books, loki, server
        self.clock = Clock(T0)
        self.posted: list[tuple[int, str]] = []
        self.changes: list[int] = []
        self.incident = open_incident(engine, T0)

    def make_runner(self) -> Runner:
        async def post_chat(incident_id: int, text: str) -> str:
            self.posted.append((incident_id, text))
            return "slack"

        return Runner(
            self.engine, self.books, Outbound(), self.clock, post_chat, self.changes.append
        )

    def due(self, owner: str) -> int:
        """One pass of run_due, in its own event loop (as a worker's pass)."""
        return self._in_loop(lambda runner: runner.run_due(owner))

    def advance(self, run_id: int, owner: str) -> None:
        self._in_loop(lambda runner: runner.advance(run_id, owner))

    def _in_loop(self, work: Callable[[Runner], Awaitable[T]]) -> T:
        async def go() -> T:
            runner = self.make_runner()
            try:
                return await work(runner)
            finally:
                await runner.io.outbound.aclose()

        return asyncio.run(go())

    def start(self, name: str = "flow", actor: str = "alice") -> int:
        with self.engine.begin() as conn:
            run_id = run_store.create_run(
                conn, incident_id=self.incident, playbook=self.books.playbooks[name],
                params={"window": "30m"}, started_by=actor, trigger="manual", now=self.clock(),
            )  # fmt: skip
        assert run_id is not None
        return run_id

    def run(self, run_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found = run_store.get_run(conn, run_id)
        assert found is not None
        return found

    def steps(self, run_id: int) -> dict[str, tuple[str, int]]:
        return {s["step_id"]: (s["status"], s["attempt"]) for s in self.run(run_id)["steps"]}

    def timeline(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TIMELINE.c.message)
                .where(TIMELINE.c.incident_id == self.incident, TIMELINE.c.kind == "playbook_step")
                .order_by(TIMELINE.c.id)
            )
            return [r.message.split("\n")[0] for r in rows]


@pytest.fixture
def harness_for(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    engine = make_engine(database_url)
    servers: list[LoopbackServer] = []

    def make(*playbooks: str, loki: Loki | None = None) -> Harness:
        loki = loki or Loki()
        server = start(loki)
        servers.append(server)
        for text in playbooks or (FLOW,):
            write_playbook(tmp_path / "playbooks", text)
        return Harness(engine, catalog(tmp_path / "playbooks", server.base_url), loki, server)

    yield make
    for server in servers:
        server.close()
    engine.dispose()


def test_a_run_goes_step_by_step_to_the_end(harness_for: Callable[..., Harness]) -> None:
    loki = Loki(
        {"a": [lambda: Reply.json(loki_body(f"error token={LOKI_TOKEN}x", f"auth {LOKI_TOKEN}"))]}
    )
    h = harness_for(loki=loki)
    run_id = h.start()
    assert h.due("w1") == 1
    run = h.run(run_id)
    assert run["status"] == "succeeded" and run["finished_at"] == T0
    assert (run["lease_owner"], run["due_at"]) == ("", None)
    assert h.steps(run_id) == {
        "a": ("succeeded", 1),
        "b": ("skipped", 0),
        "c": ("succeeded", 1),
        "report": ("succeeded", 1),
    }
    assert loki.counts == {"a": 1, "c": 1}
    # run.summary, one line per finished step, is what the report step posted.
    summary = "a: 2 lines\nb: skipped\nc: 1 line"
    assert h.posted == [(h.incident, summary)]
    assert run["summary"] == summary + "\nreport: posted to slack"
    # Outputs are stored redacted; the step's request is recorded with credentials hidden.
    with h.engine.connect() as conn:
        outputs = run_store.read_outputs(conn, run_id, "a")
    assert outputs[0]["line_count"] == 2 and LOKI_TOKEN not in outputs[0]["text"]
    a = run["steps"][0]
    assert LOKI_TOKEN not in str(a) and "***" in a["excerpt"]
    assert a["request"]["method"] == "GET" and "/loki/api/v1/query_range" in a["request"]["url"]
    assert a["facts"]["count"] == 2
    assert h.timeline() == [
        "a: started", "a: finished: 2 lines", "b: skipped: `if` is false", "c: started",
        "c: finished: 1 line", "report: started", "report: finished: posted to slack",
    ]  # fmt: skip
    # One change per transaction: 3 starts, 4 step ends (the last one ends the run too).
    assert set(h.changes) == {run_id} and len(h.changes) == 7
    with h.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(TIMELINE.c.kind).order_by(TIMELINE.c.id))]
    assert kinds[-1] == "playbook_finished" and "playbook_started" in kinds
    assert c_query(loki, h) == '{step="c",app="api"}'


def c_query(loki: Loki, h: Harness) -> str:
    (request,) = [r for r in h.server.requests if 'step="c"' in r.query["query"][0]]
    return request.query["query"][0]


def test_a_failure_skips_later_steps_but_always_steps_run(
    harness_for: Callable[..., Harness],
) -> None:
    loki = Loki(
        {"a": [lambda: Reply.json({"status": "error", "error": "unauthorized"}, status=401)]}
    )
    h = harness_for(loki=loki)
    run_id = h.start()
    h.due("w1")
    assert h.run(run_id)["status"] == "failed"
    assert h.steps(run_id) == {
        "a": ("failed", 1), "b": ("skipped", 0), "c": ("skipped", 0), "report": ("succeeded", 1),
    }  # fmt: skip
    assert loki.counts == {"a": 1}
    (posted,) = h.posted
    assert posted[1].startswith("a: failed: ") and "401" in posted[1]
    assert posted[1].endswith("\nb: skipped\nc: skipped")
    assert (
        h.timeline()[1].startswith("a: failed: ")
        and "c: skipped: an earlier step failed" in h.timeline()
    )


def test_continue_on_error_does_not_fail_the_run(harness_for: Callable[..., Harness]) -> None:
    text = FLOW.replace("id: flow", "id: lenient").replace(
        "    with: {connection: loki, selector: {step: a}}",
        "    with: {connection: loki, selector: {step: a}}\n    continue_on_error: true",
    )
    loki = Loki({"a": [lambda: Reply.json({}, status=500)]})
    h = harness_for(text, loki=loki)
    run_id = h.start("lenient")
    h.due("w1")
    assert h.run(run_id)["status"] == "succeeded"
    assert h.steps(run_id)["a"] == ("failed", 1) and h.steps(run_id)["c"] == ("succeeded", 1)


def test_a_step_that_takes_too_long_times_out(harness_for: Callable[..., Harness]) -> None:
    text = FLOW.replace("id: flow", "id: slow").replace(
        "    with: {connection: loki, selector: {step: a}}",
        "    with: {connection: loki, selector: {step: a}}\n    timeout: 1s",
    )

    def slow() -> Reply:
        time.sleep(1.5)
        return Reply.json(loki_body("late"))

    h = harness_for(text, loki=Loki({"a": [slow]}))
    run_id = h.start("slow")
    h.due("w1")
    assert h.steps(run_id)["a"] == ("timed_out", 1)
    assert h.run(run_id)["status"] == "failed"
    assert h.posted[0][1].startswith("a: timed out\n")
    assert "a: timed out after 1s" in h.timeline()


def test_a_retry_waits_as_a_stored_state(harness_for: Callable[..., Harness]) -> None:
    text = FLOW.replace("id: flow", "id: retried").replace(
        "    with: {connection: loki, selector: {step: a}}",
        "    with: {connection: loki, selector: {step: a}}\n    retry: {attempts: 3, backoff: 2s}",
    )
    failing = lambda: Reply.json({}, status=502)  # noqa: E731
    h = harness_for(text, loki=Loki({"a": [failing, failing, lambda: Reply.json(loki_body("x"))]}))
    run_id = h.start("retried")
    h.due("w1")
    run = h.run(run_id)
    assert (run["status"], run["due_at"], run["lease_owner"]) == (
        "running",
        T0 + timedelta(seconds=2),
        "",
    )
    assert h.steps(run_id)["a"] == ("pending", 1)
    h.clock.advance(seconds=1)
    assert h.due("w1") == 0  # not due yet
    h.clock.advance(seconds=1)
    h.due("w2")
    assert h.run(run_id)["due_at"] == T0 + timedelta(seconds=2 + 4)  # backoff doubles
    h.clock.advance(seconds=4)
    h.due("w1")
    assert h.run(run_id)["status"] == "succeeded"
    assert h.steps(run_id)["a"] == ("succeeded", 3)
    assert h.loki.counts["a"] == 3
    lines = h.timeline()
    assert lines[1].startswith("a: attempt 1 of 3 failed; retrying in 2s")
    assert (
        "a: started (retry, attempt 2 of 3)" in lines
        and "a: started (retry, attempt 3 of 3)" in lines
    )


def test_cancel_cancels_the_rest_but_always_steps(
    harness_for: Callable[..., Harness],
) -> None:
    h = harness_for()
    run_id = h.start()
    with h.engine.begin() as conn:
        assert run_store.request_cancel(conn, run_id, "bob", T0) == "cancelling"
    h.due("w1")
    assert h.run(run_id)["status"] == "cancelled"
    assert h.steps(run_id) == {**dict.fromkeys("abc", ("cancelled", 0)), "report": ("succeeded", 1)}
    assert h.loki.counts == {}
    assert h.posted == [(h.incident, "a: cancelled\nb: cancelled\nc: cancelled")]


def test_a_step_left_running_by_a_dead_worker_is_resumed(
    harness_for: Callable[..., Harness],
) -> None:
    h = harness_for()
    run_id = h.start()
    # A worker claimed the run and marked step a running, then died (kill -9).
    lease_end = T0 + timedelta(seconds=70)
    with h.engine.begin() as conn:
        run_store.claim_due(conn, T0, "dead", timedelta(seconds=30), 5)
        assert run_store.begin_step(conn, run_id, "dead", 0, T0, lease_end, {}) == 1
    assert h.due("w2") == 0  # its lease holds it
    h.clock.now = lease_end
    assert h.due("w2") == 1
    assert h.run(run_id)["status"] == "succeeded"
    assert h.steps(run_id)["a"] == ("succeeded", 2)
    assert "a: started (resumed after a restart, attempt 2)" in h.timeline()
    assert h.loki.counts == {"a": 1, "c": 1}


def test_a_template_error_fails_the_step_with_its_reason(
    harness_for: Callable[..., Harness],
) -> None:
    text = FLOW.replace("id: flow", "id: broken").replace(
        "selector: {step: a}", 'selector: {step: a, app: "{{ incident.labels.region }}"}'
    )
    h = harness_for(text)
    run_id = h.start("broken")
    h.due("w1")
    step = h.run(run_id)["steps"][0]
    assert (step["status"], step["attempt"]) == ("failed", 0)
    assert "region" in step["error"] and "a.with.selector.app" in step["error"]
    assert h.loki.counts == {}


def test_a_large_output_is_capped_to_the_newest_lines(
    harness_for: Callable[..., Harness],
) -> None:
    lines = [f"line {i}" for i in range(600)]
    h = harness_for(loki=Loki({"c": [lambda: Reply.json(loki_body(*lines))]}))
    run_id = h.start()
    h.due("w1")
    with h.engine.connect() as conn:
        (out,) = run_store.read_outputs(conn, run_id, "c")
    assert (out["line_count"], out["cut_lines"]) == (500, 100)
    assert out["text"].endswith("line 599") and "line 99\n" not in out["text"]
    assert h.run(run_id)["steps"][2]["summary"] == "600 lines (kept the newest 500, 100 cut)"


def test_a_worker_that_lost_the_run_stops(harness_for: Callable[..., Harness]) -> None:
    h = harness_for()
    run_id = h.start()
    with h.engine.begin() as conn:
        run_store.claim_due(conn, T0, "w1", timedelta(seconds=30), 5)
    h.clock.advance(seconds=31)
    with h.engine.begin() as conn:
        run_store.claim_due(conn, h.clock(), "w2", timedelta(seconds=30), 5)
    h.advance(run_id, "w1")  # w2 holds it now: w1 does nothing
    assert h.loki.counts == {} and h.steps(run_id)["a"] == ("pending", 0)
    h.advance(run_id, "w2")
    assert h.run(run_id)["status"] == "succeeded"


# -- the rules, as pure functions ---------------------------------------------------------
def _rows(*statuses: str) -> list[dict[str, Any]]:
    names = ["a", "b", "c", "report"]
    return [
        {"position": i, "step_id": names[i], "status": s, "summary": "", "error": "", "facts": {}}
        for i, s in enumerate(statuses)
    ]


def test_next_move(tmp_path: Path) -> None:
    write_playbook(tmp_path, FLOW)
    spec = catalog(tmp_path, "http://127.0.0.1:9").playbooks["flow"]
    assert next_move(spec, _rows("pending", "pending", "pending", "pending"), False) == Move(
        "run", 0
    )
    assert next_move(spec, _rows("running", "pending", "pending", "pending"), False) == Move(
        "run", 0
    )
    failed = _rows("failed", "pending", "pending", "pending")
    assert next_move(spec, failed, False) == Move("skip", 1, reason="an earlier step failed")
    assert next_move(spec, _rows("failed", "skipped", "skipped", "pending"), False) == Move(
        "run", 3
    )
    assert next_move(spec, _rows("succeeded", "pending", "pending", "pending"), True) == Move(
        "cancel", 1
    )
    assert next_move(spec, _rows("cancelled", "cancelled", "cancelled", "pending"), True) == Move(
        "run", 3
    )
    done = _rows("timed_out", "skipped", "skipped", "succeeded")
    assert next_move(spec, done, False) == Move("finish", status="failed")
    assert next_move(spec, done, True) == Move("finish", status="cancelled")
    ok = _rows("succeeded", "skipped", "succeeded", "succeeded")
    assert next_move(spec, ok, False) == Move("finish", status="succeeded")


def test_summary_lines_are_one_short_line_per_finished_step() -> None:
    rows = _rows("succeeded", "failed", "timed_out", "running")
    rows[0]["summary"] = "200 lines"
    rows[1]["error"] = "HTTP 401: unauthorized\nbody: ..." + "x" * 300
    assert run_summary(rows) == "a: 200 lines\nb: failed: HTTP 401: unauthorized\nc: timed out"
    rows[1]["error"] = "y" * 300
    assert len(run_summary(rows).split("\n")[1]) == 200
