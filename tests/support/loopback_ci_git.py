"""Fake GitHub Actions and GitLab servers (see tests/support/loopback_ci.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.support.loopback_ci_base import FakeCiServer, FakeRun
from tests.support.loopback_http import RecordedRequest, Reply


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub(FakeCiServer):
    """workflow_dispatch (200 with run details, or 204 with `return_details=False`), runs
    list, run, cancel. `display_title(inputs)` is the run-name the workflow renders."""

    _DISPATCH = re.compile(r"/repos/([^/]+)/([^/]+)/actions/workflows/([^/]+)/dispatches")
    _LIST = re.compile(r"/repos/([^/]+)/([^/]+)/actions/workflows/([^/]+)/runs")
    _RUN = re.compile(r"/repos/([^/]+)/([^/]+)/actions/runs/([0-9]+)(/cancel)?")

    def __init__(
        self,
        token: str = "ghp_fake-token",
        return_details: bool = True,
        sequence: list[tuple[str, str | None]] | None = None,
    ) -> None:
        self.token = token
        self.return_details = return_details
        self.sequence = sequence or [
            ("queued", None),
            ("in_progress", None),
            ("completed", "success"),
        ]
        self.display_title = lambda inputs: f"Repro {inputs.get('firebell_run_id', '')}".strip()
        super().__init__()

    def connection(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "github",
            "url": self.base_url,
            "token": self.token,
            "allow_private": True,
            "poll_interval": "1s",
            **overrides,
        }

    def is_dispatch(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and bool(self._DISPATCH.fullmatch(request.path))

    def _json(self, data: Any, status: int = 200) -> Reply:
        limits = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": str(int(datetime.now(UTC).timestamp()) + 3600),
        }
        return Reply.json(data, status, limits)

    def route(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply.json({"message": "Bad credentials"}, 401)
        assert request.headers.get("accept") == "application/vnd.github+json", request.headers
        assert request.headers.get("x-github-api-version") == "2022-11-28", request.headers
        assert request.headers.get("user-agent"), "GitHub requires a User-Agent"
        if match := self._DISPATCH.fullmatch(request.path):
            body = request.json()
            assert isinstance(body.get("ref"), str) and body["ref"], body
            inputs = body.get("inputs", {})
            assert len(inputs) <= 25 and all(isinstance(v, str) for v in inputs.values()), inputs
            new = FakeRun(
                1000 + len(self.runs), inputs.get("firebell_run_id", ""), inputs, body["ref"]
            )
            self.runs.append(new)
            if not (self.return_details and body.get("return_run_details")):
                return Reply(204)
            owner, repo = match.group(1), match.group(2)
            return self._json(
                {
                    "workflow_run_id": new.id,
                    "run_url": f"{self.base_url}/repos/{owner}/{repo}/actions/runs/{new.id}",
                    "html_url": self._html(owner, repo, new),
                }
            )
        if match := self._LIST.fullmatch(request.path):
            assert request.query.get("event") == ["workflow_dispatch"], request.query
            created = request.query["created"][0].removeprefix(">=")
            since = datetime.fromisoformat(created.replace("Z", "+00:00"))
            runs = [r for r in reversed(self.runs) if r.created_at >= since]
            return self._json(
                {
                    "total_count": len(runs),
                    "workflow_runs": [
                        {
                            "id": r.id,
                            "display_title": self.display_title(r.params),
                            "event": "workflow_dispatch",
                            "status": "queued",
                            "created_at": _iso(r.created_at),
                            "html_url": self._html(match.group(1), match.group(2), r),
                        }
                        for r in runs
                    ],
                }
            )
        if match := self._RUN.fullmatch(request.path):
            run = next((r for r in self.runs if r.id == int(match.group(3))), None)
            if run is None:
                return self._json({"message": "Not Found"}, 404)
            if match.group(4):
                assert request.method == "POST"
                last = self.sequence[min(max(run.polls - 1, 0), len(self.sequence) - 1)]
                if run.polls and last[0] == "completed" and not run.cancelled:
                    return self._json(
                        {"message": "Cannot cancel a workflow run that is completed."}, 409
                    )
                run.cancelled = True
                return self._json({}, 202)
            status, conclusion = (
                ("completed", "cancelled") if run.cancelled else run.step(self.sequence)
            )
            return self._json(
                {
                    "id": run.id,
                    "status": status,
                    "conclusion": conclusion,
                    "html_url": self._html(match.group(1), match.group(2), run),
                    "display_title": self.display_title(run.params),
                    "run_attempt": 1,
                }
            )
        return self._json({"message": "Not Found"}, 404)

    def _html(self, owner: str, repo: str, run: FakeRun) -> str:
        return f"{self.base_url}/{owner}/{repo}/actions/runs/{run.id}"

    @staticmethod
    def rate_limited(retry_after: int = 7) -> Reply:
        """A secondary rate limit: 403 with retry-after."""
        return Reply.json(
            {"message": "You have exceeded a secondary rate limit."},
            403,
            {"retry-after": str(retry_after), "x-ratelimit-remaining": "4990"},
        )


class FakeGitLab(FakeCiServer):
    """Pipeline trigger (token in the body), pipelines list, variables, pipeline, cancel."""

    FINAL = ("success", "failed", "canceled", "skipped")

    def __init__(
        self,
        project: str = "acme/api",
        trigger_token: str = "glptt-fake",
        api_token: str = "glpat-fake",
        sequence: list[str] | None = None,
    ) -> None:
        self.project, self.trigger_token, self.api_token = project, trigger_token, api_token
        self.sequence = sequence or ["created", "pending", "running", "success"]
        self.prefix = "/api/v4/projects/" + project.replace("/", "%2F")
        super().__init__()

    def connection(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "gitlab",
            "url": self.base_url,
            "project": self.project,
            "trigger_token": self.trigger_token,
            "api_token": self.api_token,
            "allow_private": True,
            "poll_interval": "1s",
            **overrides,
        }

    def is_dispatch(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path == self.prefix + "/trigger/pipeline"

    def _pipeline(self, run: FakeRun, status: str) -> dict[str, Any]:
        return {
            "id": run.id,
            "iid": run.id - 500,
            "project_id": 7,
            "sha": "0" * 40,
            "ref": run.ref,
            "status": status,
            "source": "trigger",
            "created_at": _iso(run.created_at),
            "updated_at": _iso(run.created_at),
            "web_url": f"{self.base_url}/{self.project}/-/pipelines/{run.id}",
        }

    def route(self, request: RecordedRequest) -> Reply:
        if not request.path.startswith(self.prefix + "/"):
            return Reply.json({"message": "404 Project Not Found"}, 404)
        rest = request.path[len(self.prefix) :]
        if rest == "/trigger/pipeline":
            body = request.json()
            if body.get("token") != self.trigger_token:
                return Reply.json({"message": "404 Not Found"}, 404)
            assert isinstance(body.get("ref"), str) and body["ref"], body
            variables = body.get("variables", {})
            assert all(isinstance(v, str) for v in variables.values()), variables
            new = FakeRun(
                500 + len(self.runs), variables.get("FIREBELL_RUN_ID", ""), variables, body["ref"]
            )
            self.runs.append(new)
            return Reply.json(self._pipeline(new, "created"), 201)
        if request.headers.get("private-token") != self.api_token:
            return Reply.json({"message": "401 Unauthorized"}, 401)
        if rest == "/pipelines":
            since = datetime.fromisoformat(request.query["updated_after"][0].replace("Z", "+00:00"))
            ref = request.query.get("ref", [None])[0]
            runs = [
                r for r in reversed(self.runs) if r.created_at >= since and ref in (None, r.ref)
            ]
            return Reply.json([self._pipeline(r, "running") for r in runs])
        match = re.fullmatch(r"/pipelines/([0-9]+)(/variables|/cancel)?", rest)
        run = next((r for r in self.runs if match and r.id == int(match.group(1))), None)
        if run is None or match is None:
            return Reply.json({"message": "404 Not found"}, 404)
        if match.group(2) == "/variables":
            return Reply.json(
                [{"key": k, "value": v, "variable_type": "env_var"} for k, v in run.params.items()]
            )
        if match.group(2) == "/cancel":
            assert request.method == "POST"
            run.cancelled = True
            return Reply.json(self._pipeline(run, "canceled"))
        return Reply.json(
            self._pipeline(run, "canceled" if run.cancelled else run.step(self.sequence))
        )


__all__ = ["FakeGitHub", "FakeGitLab"]
