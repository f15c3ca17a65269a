"""What a CI answers is untrusted text: a proxy or a misconfigured CI may echo the
credential it was sent in a run's link or status. Nothing of it may reach the step row,
the timeline or the chat thread unredacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from bot.chat.playbook_progress import progress_text
from routing.storage.timeline import TIMELINE
from tests.playbooks.remote_support import CiHarness
from tests.support.loopback_ci import FakeGitHub
from tests.support.loopback_ci_base import FakeRun

TOKEN = "ghp_echoed-token-0123456789"
REPRO = """\
id: repro
steps:
  - id: repro
    uses: ci.github
    with: {connection: github, repo: acme/api, workflow: repro-staging.yml, ref: main}
    wait: {timeout: 30m}
"""


class EchoingGitHub(FakeGitHub):
    """Puts the Authorization header it was sent into every run link it answers."""

    def _html(self, owner: str, repo: str, run: FakeRun) -> str:
        return f"{self.base_url}/{owner}/{repo}/actions/runs/{run.id}?debug=Bearer%20{self.token}"


def _everything(h: CiHarness, run_id: int) -> str:
    with h.engine.connect() as conn:
        timeline: list[Any] = [
            (r.message, r.data)
            for r in conn.execute(
                select(TIMELINE.c.message, TIMELINE.c.data).where(
                    TIMELINE.c.incident_id == h.incident
                )
            )
        ]
    run = h.run(run_id)
    return f"{run} {timeline} {progress_text(run)}"


def test_a_run_link_echoing_the_token_is_redacted_everywhere(
    engine: Engine, tmp_path: Path
) -> None:
    with EchoingGitHub(token=TOKEN) as github:
        h = CiHarness(engine, tmp_path / "pb", [REPRO], github=github)
        run_id = h.start("repro")
        h.due()
        waiting = _everything(h, run_id)  # dispatched and parked: the dispatch's link
        h.drive(run_id, lambda run: run["status"] != "running")
        done = _everything(h, run_id)
    assert h.run(run_id)["status"] == "succeeded"  # polling still works
    step = h.step(run_id, "repro")
    assert step["remote_url"].endswith("?debug=Bearer%20***")
    for text in (waiting, done):
        assert TOKEN not in text and "echoed-token" not in text
